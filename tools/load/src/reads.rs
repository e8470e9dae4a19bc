//! Concurrent API reads (meetings and users) against the simulator: latency quantiles and how
//! many Zoom calls they cost; with faults, every answer must be correct or a 429/502/503/504
//! problem, and none slower than the function timeout.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Options;
use crate::stack::{Stack, quantile};

/// The API functions' timeout in template.yaml.
const FUNCTION_TIMEOUT_MS: f64 = 10_000.0;

/// One answer.
struct Answer {
    route: &'static str,
    status: u16,
    ms: f64,
    correct: bool,
}

/// What the read phase measured.
pub struct Report {
    reads: usize,
    readers: usize,
    secs: f64,
    zoom_calls: u64,
    answers: Vec<Answer>,
    faults: bool,
}

impl Report {
    /// The targets this phase missed.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let wrong = self.answers.iter().filter(|a| !a.correct).count();
        if wrong > 0 {
            out.push(format!(
                "{wrong} reads were neither a correct answer nor a 429/502/503/504 problem"
            ));
        }
        let slow = self
            .answers
            .iter()
            .filter(|a| a.ms > FUNCTION_TIMEOUT_MS)
            .count();
        if slow > 0 {
            out.push(format!(
                "{slow} reads took longer than the function timeout"
            ));
        }
        if !self.faults && self.answers.iter().any(|a| a.status != 200) {
            out.push("reads failed without faults".into());
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## reads")?;
        writeln!(
            f,
            "- {} reads by {} concurrent readers in {:.1} s ({:.0}/s); Zoom calls made: {}",
            self.reads,
            self.readers,
            self.secs,
            self.reads as f64 / self.secs,
            self.zoom_calls
        )?;
        let mut routes: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for a in &self.answers {
            routes.entry("all").or_default().push(a.ms);
            routes.entry(a.route).or_default().push(a.ms);
            *statuses.entry(a.status).or_default() += 1;
        }
        for (route, mut ms) in routes {
            ms.sort_by(f64::total_cmp);
            writeln!(
                f,
                "- {route}: n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                ms.len(),
                quantile(&ms, 0.5),
                quantile(&ms, 0.99),
                ms.last().copied().unwrap_or(0.0)
            )?;
        }
        write!(f, "- statuses: {statuses:?}")
    }
}

/// Whether a 200 body is the right shape for its route, or an error is an allowed problem.
fn judge(route: &str, status: u16, content_type: &str, body: &Value) -> bool {
    match status {
        200 => match route {
            "GET /meetings" => body["meetings"].is_array(),
            "GET /users" => body["users"].is_array(),
            _ => body["id"].is_string() || body["id"].is_i64(),
        },
        429 | 502 | 503 | 504 => {
            content_type.starts_with("application/problem+json")
                && body["status"] == status
                && body["detail"].is_string()
        }
        _ => false,
    }
}

/// Runs the phase.
pub async fn run(stack: &Stack, tenant: &str, options: &Options) -> Result<Report, String> {
    let token = stack.jwt(tenant);
    let first = stack
        .api_get("/api/zoom/meetings?page_size=30", &token)
        .await?;
    let meeting_ids: Vec<String> = first["meetings"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["id"].as_i64())
                .map(|i| i.to_string())
                .collect()
        })
        .unwrap_or_default();
    let users = stack
        .api_get("/api/zoom/users?page_size=30", &token)
        .await?;
    let user_ids: Vec<String> = users["users"]
        .as_array()
        .map(|u| {
            u.iter()
                .filter_map(|u| u["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if meeting_ids.is_empty() || user_ids.is_empty() {
        return Err(format!("nothing to read: {first} {users}"));
    }
    if options.faults {
        // A 429 storm on every path, 5xx bursts, dropped connections and hangs.
        for fault in [
            json!({"kind": "429", "count": 60, "retry_after": 1}),
            json!({"kind": "500", "path": "/v2/users/me/meetings", "count": 20}),
            json!({"kind": "503", "path": "/v2/meetings/", "count": 20}),
            json!({"kind": "close", "path": "/v2/users/", "count": 15}),
            json!({"kind": "hang", "path": "/v2/users/me/meetings", "count": 4, "hang_ms": 60000}),
        ] {
            stack.sim_post("faults", fault).await?;
        }
    }
    let calls_before = stack.zoom_calls().await?;
    let next = Arc::new(AtomicUsize::new(0));
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let (meeting_ids, user_ids) = (Arc::new(meeting_ids), Arc::new(user_ids));
    let started = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..options.readers {
        let (next, answers, meeting_ids, user_ids) = (
            next.clone(),
            answers.clone(),
            meeting_ids.clone(),
            user_ids.clone(),
        );
        let (http, api, token, total) = (
            stack.http.clone(),
            stack.api.clone(),
            token.clone(),
            options.reads,
        );
        readers.push(tokio::spawn(async move {
            let mut local = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (route, path) = match i % 10 {
                    0..=3 => (
                        "GET /meetings",
                        "/api/zoom/meetings?page_size=30".to_owned(),
                    ),
                    4 | 5 => (
                        "GET /meetings/{id}",
                        format!("/api/zoom/meetings/{}", meeting_ids[i % meeting_ids.len()]),
                    ),
                    6..=8 => ("GET /users", "/api/zoom/users?page_size=30".to_owned()),
                    _ => (
                        "GET /users/{id}",
                        format!("/api/zoom/users/{}", user_ids[i % user_ids.len()]),
                    ),
                };
                let sent = Instant::now();
                let answer = http
                    .get(format!("{api}{path}"))
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await;
                let (status, content_type, body) = match answer {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let ct = r
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        (status, ct, r.json::<Value>().await.unwrap_or(Value::Null))
                    }
                    Err(_) => (0, String::new(), Value::Null),
                };
                local.push(Answer {
                    route,
                    status,
                    ms: sent.elapsed().as_secs_f64() * 1000.0,
                    correct: judge(route, status, &content_type, &body),
                });
            }
            answers.lock().await.extend(local);
        }));
    }
    for reader in readers {
        reader.await.map_err(|e| e.to_string())?;
    }
    let secs = started.elapsed().as_secs_f64();
    let zoom_calls = stack.zoom_calls().await?.saturating_sub(calls_before);
    if options.faults {
        stack.sim_delete("faults").await?;
    }
    Ok(Report {
        reads: options.reads,
        readers: options.readers,
        secs,
        zoom_calls,
        answers: Arc::try_unwrap(answers)
            .map(Mutex::into_inner)
            .unwrap_or_default(),
        faults: options.faults,
    })
}
