//! The `zoom-sim` binary starts on a free port when asked and says where.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn binary_listens_on_a_free_port_and_prints_its_url() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zoom-sim"))
        .env("ZOOM_SIM_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("zoom-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let url = line
        .trim()
        .strip_prefix("zoom-sim listening on ")
        .expect("announces its URL")
        .to_owned();
    let health = std::process::Command::new("python3")
        .args(["-c", &format!("import urllib.request;print(urllib.request.urlopen('{url}/_sim/health').read().decode())")])
        .output()
        .expect("python3");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        String::from_utf8_lossy(&health.stdout).contains("\"ok\":true"),
        "{health:?}"
    );
}

#[test]
fn bad_configuration_fails_with_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_zoom-sim"))
        .env("ZOOM_SIM_LISTEN", "127.0.0.1:0")
        .env("ZOOM_SIM_USERS", "many")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ZOOM_SIM_USERS"));
}
