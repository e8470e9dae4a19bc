//! A function started without a required variable stops at init with one line naming it.

use std::process::Command;

fn run_without(missing: &str) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoom-health"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in [
        ("ZOOM_TABLE_NAME", "t"),
        ("ZOOM_EVENTS_QUEUE_URL", "http://127.0.0.1:1/q"),
        // Points nowhere: the test must end at config, before any runtime call.
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1"),
    ] {
        if name != missing {
            command.env(name, value);
        }
    }
    let output = command.output().expect("binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn missing_table_name_fails_init_naming_it() {
    let (code, stderr) = run_without("ZOOM_TABLE_NAME");
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ZOOM_TABLE_NAME"))
        .collect();
    assert_eq!(lines.len(), 1, "one line names the variable: {stderr}");
    assert!(
        lines[0].contains("zoom-health")
            && lines[0].contains("missing required environment variable")
    );
}

#[test]
fn missing_queue_url_fails_init_naming_it() {
    let (code, stderr) = run_without("ZOOM_EVENTS_QUEUE_URL");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("missing required environment variable ZOOM_EVENTS_QUEUE_URL"),
        "{stderr}"
    );
}

#[test]
fn invalid_url_fails_init_naming_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_zoom-health"))
        .env_clear()
        .env("ZOOM_TABLE_NAME", "t")
        .env("ZOOM_EVENTS_QUEUE_URL", "q")
        .env("ZOOM_API_BASE_URL", "not-a-url")
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ZOOM_API_BASE_URL"));
}
