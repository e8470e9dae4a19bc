//! Schemathesis against the whole API through the local stack, with a valid caller JWT and a
//! connected simulator account: every operation of `docs/openapi.yaml`, zero 5xx answers,
//! zero answers (status, content type, headers, body) that break the document.

use std::process::Command;

use zoom_e2e::{api, connect, jwt, unique};

/// The checks that matter for conformance (no negative-data heuristics).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance";

/// Runs Schemathesis (pinned in tools/stack/requirements.txt) with `filter`, returns its
/// exit status and output.
fn schemathesis(token: &str, filter: &[&str], examples: u32) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // Outside the workspace: Schemathesis and Hypothesis write caches into their working
    // directory, and a new file in the workspace makes cargo lambda watch restart every function.
    let scratch = std::env::temp_dir().join(unique("schemathesis"));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let output = Command::new("schemathesis")
        .current_dir(&scratch)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", format!("{root}/tools/stack"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["run", &format!("{root}/docs/openapi.yaml"), "--url", &api()])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &examples.to_string()])
        .args([
            "--max-redirects",
            "0",
            "--request-timeout",
            "30",
            "--workers",
            "2",
        ])
        .args([
            "--seed",
            "20261127",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .args(filter)
        .output()
        .expect("schemathesis is installed in the stack's .venv (make bootstrap)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn every_operation_conforms_to_the_document() {
    let tenant = unique("openapi");
    let landed = connect(&api(), &tenant).await;
    assert!(landed.ends_with("zoom=connected"), "{landed}");
    let token = jwt(&tenant);
    // Everything but disconnect first (it ends the connection the others need), then it.
    for filter in [
        ["--exclude-operation-id", "disconnect"],
        ["--include-operation-id", "disconnect"],
    ] {
        let (ok, output) = schemathesis(&token, &filter, 25);
        let summary: Vec<&str> = output
            .lines()
            .filter(|l| {
                ["generated", "Tested:", "Errored:", "Failed:"]
                    .iter()
                    .any(|k| l.contains(k))
            })
            .collect();
        eprintln!("schemathesis {filter:?}: {summary:?}");
        // What went wrong first (CI shows the start of a failure), then the whole output.
        assert!(
            ok,
            "schemathesis {filter:?} found problems:\n{}\n--- whole output ---\n{output}",
            problems(&output)
        );
        assert!(
            output.contains("passed"),
            "schemathesis ran no test case:\n{output}"
        );
    }
}

/// The summary and the first lines of each ERRORS / FAILURES section of Schemathesis's output.
fn problems(output: &str) -> String {
    let mut picked = Vec::new();
    let mut budget = 0;
    for line in output.lines() {
        if line.starts_with("====") {
            budget = if line.contains("SUMMARY") { 40 } else { 30 };
        }
        if budget > 0 && !line.trim().is_empty() {
            picked.push(line);
            budget -= 1;
        }
    }
    picked.join("\n")
}
