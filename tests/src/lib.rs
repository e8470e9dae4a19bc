//! Harness of the end-to-end tests.
//!
//! `tools/stack/stack.sh e2e` (run by `make test`) starts moto server, provisions the
//! template's resources and runs `cargo lambda watch` on free ports, then runs these tests
//! with `ZOOM_E2E_API` pointing at it. Tests talk HTTP like a real client.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// A required environment variable of the test run, with a hint when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests with `make test` or `tools/stack/stack.sh e2e`")
    })
}

/// The base URL of the shared `cargo lambda watch` (e.g. `http://127.0.0.1:41234`).
pub fn api() -> String {
    env("ZOOM_E2E_API")
}

/// An HTTP client for the tests, with a timeout so no test can hang.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// A caller JWT for `tenant`, signed with the stack's `API_JWT_SECRET`, valid for 10 minutes.
pub fn jwt(tenant: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": tenant, "exp": now + 600, "iat": now}),
        &EncodingKey::from_secret(env("API_JWT_SECRET").as_bytes()),
    )
    .expect("jwt")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as text.
    pub text: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts this is a problem+json answer with `status`, and returns its body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["status"], status);
        for member in ["type", "title", "detail"] {
            assert!(body[member].is_string(), "problem lacks {member}: {body}");
        }
        body
    }
}

/// Sends `request` and reads the answer.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request reaches the stack");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A second `cargo lambda watch`, with environment overrides, on its own port; stopped (with
/// every process it started) when dropped.
pub struct ExtraWatch {
    child: Child,
    /// Its base URL.
    pub api: String,
}

impl ExtraWatch {
    /// Starts one with the stack's environment plus `overrides`, and waits until `probe_path`
    /// answers (which also builds and starts the function serving it).
    pub async fn start(overrides: &[(&str, &str)], probe_path: &str) -> Self {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let mut command = Command::new("cargo");
        command
            .current_dir(workspace_root())
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .args(["--env-file", &env("ZOOM_STACK_ENV_FILE")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        for (name, value) in overrides {
            command.args(["--env-var", &format!("{name}={value}")]);
        }
        let child = command.spawn().expect("cargo lambda watch starts");
        let watch = Self {
            child,
            api: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        let http = client();
        while http
            .get(format!("{}{probe_path}", watch.api))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "extra cargo lambda watch did not answer"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        watch
    }
}

impl Drop for ExtraWatch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}
