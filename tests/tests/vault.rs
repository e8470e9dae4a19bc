//! A key rotation that finishes (`zoom-vault`, tools/vault), end to end against the stack's
//! table: a connection sealed under an old key is reported under it, `reseal` seals it under
//! the active key, and then no value is left under the old one.
//!
//! The old key is the test's own (its watch seals with it alone) and the active one is the
//! stack's: `reseal` touches only values under another key than the active one, so every other
//! test's connection (already under the stack's key) is left as it is.

use std::process::Command;

use serde_json::Value;
use zoom_e2e::*;

/// Runs `zoom-vault COMMAND` with `keys`; its JSON lines.
fn vault(command: &str, keys: &str) -> Vec<Value> {
    let output = Command::new(env("ZOOM_VAULT_BIN"))
        .arg(command)
        .env("ZOOM_TOKEN_KEYS", keys)
        .env("ZOOM_TABLE_NAME", stack_env("ZOOM_TABLE_NAME"))
        .output()
        .expect("zoom-vault runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "zoom-vault {command} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The connection values `report` counts under `key_id`.
fn connection_values(report: &[Value], key_id: &str) -> u64 {
    report
        .iter()
        .filter(|l| l["kind"] == "connection" && l["key_id"] == key_id)
        .filter_map(|l| l["values"].as_u64())
        .sum()
}

#[tokio::test]
async fn a_rotation_is_finished_by_reseal_and_shown_by_report() {
    // 32 bytes of 0x07, base64.
    let old = "rotated-out:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
    let env_ = isolated_with(&[], &[("ZOOM_TOKEN_KEYS", old)], 1).await;
    let tenant = unique("vault");
    connect(&env_.watch.api, &tenant).await;
    let active = env("ZOOM_TOKEN_KEYS");
    let active_id = active.split(':').next().expect("a key id").to_owned();
    let both = format!("{active},{old}");

    let before = vault("report", &both);
    assert_eq!(
        connection_values(&before, "rotated-out"),
        2,
        "the new connection's access and refresh tokens are under the old key: {before:?}"
    );
    let resealed = vault("reseal", &both);
    let summary = resealed
        .iter()
        .find(|l| l.get("resealed").is_some())
        .expect("a summary line");
    assert!(summary["resealed"].as_u64() >= Some(1), "{summary}");
    assert_eq!(summary["undecryptable"], 0, "{summary}");
    assert_eq!(
        connection_values(&resealed, "rotated-out"),
        0,
        "nothing is left under the old key: {resealed:?}"
    );
    // The old key can go: with the active key alone, every connection still opens.
    let after = vault("reseal", &active);
    let summary = after
        .iter()
        .find(|l| l.get("resealed").is_some())
        .expect("a summary line");
    assert_eq!(summary["resealed"], 0, "{summary}");
    assert_eq!(summary["undecryptable"], 0, "{summary}");
    assert!(
        connection_values(&after, &active_id) >= 2,
        "the connection is under the active key: {after:?}"
    );
}
