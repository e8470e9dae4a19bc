//! Schemathesis against the whole API through the local stack, with a valid caller JWT and a
//! connected simulator account: every operation of `docs/openapi.yaml`, every check (zero 5xx
//! answers, zero answers whose status, content type, headers or body break the document, every
//! request the document forbids refused, every request it allows accepted, and the stateful
//! checks). `tools/stack/schemathesis_hooks.py` makes valid only what the document cannot say
//! (state: today's date, tokens Zoom or this API issued); each refusal of that kind is in its
//! operation's description.

use std::process::Command;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use zoom_e2e::{api, connect, jwt_with, unique};

/// Every check Schemathesis has, the negative-data ones included: a request the document
/// forbids must be refused (4xx), one it allows must not be.
const CHECKS: &str = "all";

/// The one check left out, by design: a deleted meeting is kept and answered `cancelled` (200,
/// the contract's meeting model and `deleteMeeting`'s description), and a one-occurrence
/// delete leaves the series, where `use_after_free` expects a 404 after any DELETE.
const EXCLUDED_CHECKS: &str = "use_after_free";

/// The longest answer `max_response_time` (one of "all") accepts, in seconds. In AWS a request
/// ends within its function's 10 s timeout (8 s for upstream calls); locally `cargo lambda
/// watch` runs one instance per function, so with two workers a request can wait for another
/// one's whole run first.
const MAX_RESPONSE_SECS: &str = "20";

/// The seed and examples per operation of CI's run; `ZOOM_SCHEMATHESIS_SEED` and
/// `ZOOM_SCHEMATHESIS_EXAMPLES` pick others (another seed should pass as well).
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs Schemathesis (pinned in tools/stack/requirements.txt) with `filter`, returns its
/// exit status and output.
fn schemathesis(token: &str, filter: &[&str], examples: u64) -> (bool, String) {
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
        // The hooks complete real OAuth flows for the callback's valid cases as this caller.
        .env("ZOOM_SCHEMATHESIS_TOKEN", token)
        .args(["run", &format!("{root}/docs/openapi.yaml"), "--url", &api()])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS, "--exclude-checks", EXCLUDED_CHECKS])
        .args(["--max-response-time", MAX_RESPONSE_SECS])
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
            &setting("ZOOM_SCHEMATHESIS_SEED", 20261127).to_string(),
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
    // Valid for the whole run (a longer run with more examples outlasts `jwt`'s 10 minutes).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let token = jwt_with(&tenant, json!({"exp": now + 3 * 3600}));
    // Everything but disconnect first (it ends the connection the others need), then it.
    for filter in [
        ["--exclude-operation-id", "disconnect"],
        ["--include-operation-id", "disconnect"],
    ] {
        let (ok, output) = schemathesis(&token, &filter, setting("ZOOM_SCHEMATHESIS_EXAMPLES", 25));
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
