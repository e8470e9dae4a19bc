//! Helpers for the simulator's own tests: start one on a free port, walk the OAuth flow,
//! and receive webhooks.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zoom_sim::config::SimConfig;

pub const REDIRECT: &str = "http://localhost:9000/api/auth/zoom/callback";

/// A simulator on a free port with `adjust` applied to the defaults.
pub async fn start(adjust: impl FnOnce(&mut SimConfig)) -> zoom_sim::Running {
    let mut config = SimConfig {
        listen: "127.0.0.1:0".into(),
        redirect_uri: REDIRECT.into(),
        webhook_retry_delays_ms: vec![50, 50, 50],
        webhook_timeout_ms: 500,
        ..SimConfig::default()
    };
    adjust(&mut config);
    zoom_sim::start(config).await.expect("simulator starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

pub fn basic(sim: &zoom_sim::Running) -> String {
    let config = sim.sim.state().config.clone();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", config.client_id, config.client_secret))
    )
}

pub fn query_of(location: &str) -> HashMap<String, String> {
    zoom_sim::http::parse_pairs(location.split_once('?').map(|(_, q)| q).unwrap_or_default())
}

/// Runs `/oauth/authorize` with a PKCE challenge for `verifier`; returns the redirect's query.
pub async fn authorize(
    sim: &zoom_sim::Running,
    verifier: Option<&str>,
    state: &str,
) -> HashMap<String, String> {
    let client_id = sim.sim.state().config.client_id.clone();
    let mut url = reqwest::Url::parse(&format!("{}/oauth/authorize", sim.url())).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", state);
    if let Some(v) = verifier {
        url.query_pairs_mut()
            .append_pair(
                "code_challenge",
                &URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())),
            )
            .append_pair("code_challenge_method", "S256");
    }
    let response = client().get(url).send().await.expect("authorize");
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    query_of(&location)
}

/// POSTs a form to `/oauth/token` with Basic client auth.
pub async fn token_request(sim: &zoom_sim::Running, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .post(format!("{}/oauth/token", sim.url()))
        .header("authorization", basic(sim))
        .form(form)
        .send()
        .await
        .expect("token");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// The full user OAuth flow; returns the token response.
pub async fn connect(sim: &zoom_sim::Running) -> Value {
    let verifier = "a-verifier-of-at-least-forty-three-characters-long-xyz";
    let query = authorize(sim, Some(verifier), "st").await;
    let (status, body) = token_request(
        sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// An access token for the authorizing user.
pub async fn access_token(sim: &zoom_sim::Running) -> String {
    connect(sim).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// GET with a Bearer token.
pub async fn get(sim: &zoom_sim::Running, token: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", sim.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

/// One webhook as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// A local webhook receiver; answers with the statuses in `script` in turn (200 after),
/// sleeping `delay_ms` first when given.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

pub async fn receiver(script: Vec<u16>, delay_ms: Vec<u64>) -> Receiver {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    let script = Arc::new(Mutex::new((script, delay_ms)));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let store = store.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let store = store.clone();
                        let script = script.clone();
                        async move {
                            let headers = request
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), v.to_str().unwrap_or_default().to_owned())
                                })
                                .collect();
                            let body = request
                                .into_body()
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            store.lock().expect("lock").push(Received {
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                            });
                            let (status, delay) = {
                                let mut s = script.lock().expect("lock");
                                let status = if s.0.is_empty() { 200 } else { s.0.remove(0) };
                                let delay = if s.1.is_empty() { 0 } else { s.1.remove(0) };
                                (status, delay)
                            };
                            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                            let mut response = hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from("{}"),
                            ));
                            *response.status_mut() =
                                hyper::StatusCode::from_u16(status).expect("status");
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver { url, received }
}

/// Waits until `cond` holds (at most 10 s).
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Zoom's documents, from `../shared/zoom/specs` beside the checkout (or `ZOOM_SHARED_DIR`).
pub fn spec(name: &str) -> Value {
    let dir = std::env::var("ZOOM_SHARED_DIR")
        .unwrap_or_else(|_| format!("{}/../../../shared", env!("CARGO_MANIFEST_DIR")));
    let path = format!("{dir}/zoom/specs/{name}");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}")),
    )
    .expect("json")
}
