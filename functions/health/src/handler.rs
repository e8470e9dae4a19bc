//! Routes of `zoom-health` and their handler, generic over the two dependency probes.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use std::time::Duration;
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Matched, Router, json};
use zoom_shared::probe::{self, Probe};

use crate::settings::PublicSettings;

/// How long one dependency check may take before it counts as failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/health`
    Health,
    /// `GET /api/zoom/config`
    Config,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([
        (Method::GET, "/api/zoom/health", Route::Health),
        (Method::GET, "/api/zoom/config", Route::Config),
    ])
}

/// The handler's dependencies.
pub struct HealthHandler<T, Q> {
    /// The DynamoDB table (or a fake).
    pub table: T,
    /// The events queue (or a fake).
    pub queue: Q,
    /// What `/config` reports.
    pub settings: PublicSettings,
}

impl<T: Probe + 'static, Q: Probe + 'static> Handler<Route> for HealthHandler<T, Q> {
    async fn handle(
        &self,
        matched: Matched<Route>,
        _request: Request,
    ) -> Result<Response<Body>, ApiError> {
        match matched.route {
            Route::Health => self.health().await,
            Route::Config => json(StatusCode::OK, &self.settings),
        }
    }
}

impl<T: Probe, Q: Probe> HealthHandler<T, Q> {
    /// Checks both dependencies concurrently: 200 when both answer, else 503 naming the
    /// failed ones. Each check reports its latency either way.
    async fn health(&self) -> Result<Response<Body>, ApiError> {
        let (table, queue) = tokio::join!(
            probe::run(&self.table, PROBE_TIMEOUT),
            probe::run(&self.queue, PROBE_TIMEOUT)
        );
        let failed: Vec<&str> = [&table, &queue]
            .iter()
            .filter(|r| !r.is_ok())
            .map(|r| r.name)
            .collect();
        let checks = json!({ table.name: table, queue.name: queue });
        if failed.is_empty() {
            return json(
                StatusCode::OK,
                &json!({"status": "ok", "version": zoom_shared::VERSION, "checks": checks}),
            );
        }
        let mut extensions = Map::new();
        extensions.insert("status_detail".into(), Value::from("unavailable"));
        extensions.insert("failed".into(), json!(failed));
        extensions.insert("checks".into(), checks);
        Err(ApiError::ServiceUnavailable {
            detail: format!("dependency check failed: {}", failed.join(", ")),
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoom_shared::config::{Env, ZoomApp};
    use zoom_shared::metrics::Metrics;
    use zoom_shared::probe::FakeProbe;

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-health");
    }

    fn probe(name: &'static str, failure: Option<&str>, delay_ms: u64) -> FakeProbe {
        FakeProbe {
            name,
            failure: failure.map(str::to_owned),
            delay: Duration::from_millis(delay_ms),
        }
    }

    fn handler(table: FakeProbe, queue: FakeProbe) -> HealthHandler<FakeProbe, FakeProbe> {
        let env = Env::default();
        HealthHandler {
            table,
            queue,
            settings: PublicSettings::new(&ZoomApp::from_env(&env).expect("defaults"), &env),
        }
    }

    fn request(method: &str, path: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"))
            .body(Body::Empty)
            .expect("request")
    }

    async fn call(
        h: &HealthHandler<FakeProbe, FakeProbe>,
        method: &str,
        path: &str,
    ) -> (u16, Value, Response<Body>) {
        let (metrics, _) = Metrics::in_memory("zoom-health");
        let response =
            zoom_shared::http::serve::dispatch(&router(), h, &metrics, request(method, path)).await;
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).expect("json"),
            _ => Value::Null,
        };
        (response.status().as_u16(), body, response)
    }

    #[tokio::test]
    async fn healthy_when_both_checks_pass() {
        let (status, body, _) = call(
            &handler(probe("table", None, 0), probe("queue", None, 0)),
            "GET",
            "/api/zoom/health",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["checks"]["table"]["status"], "ok");
        assert!(body["checks"]["queue"]["latency_ms"].is_number());
    }

    #[tokio::test]
    async fn names_the_failed_dependency() {
        let h = handler(
            probe("table", Some("ResourceNotFoundException"), 0),
            probe("queue", None, 0),
        );
        let (status, body, response) = call(&h, "GET", "/api/zoom/health").await;
        assert_eq!(status, 503);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(body["failed"], json!(["table"]));
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("table")));
        assert_eq!(
            body["checks"]["table"]["error"],
            "ResourceNotFoundException"
        );
    }

    #[tokio::test]
    async fn a_hanging_dependency_fails_within_the_timeout() {
        let h = handler(probe("table", None, 0), probe("queue", None, 60_000));
        let started = std::time::Instant::now();
        let (status, body, _) = call(&h, "GET", "/api/zoom/health").await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(status, 503);
        assert_eq!(body["failed"], json!(["queue"]));
    }

    #[tokio::test]
    async fn unknown_path_and_wrong_method() {
        let h = handler(probe("table", None, 0), probe("queue", None, 0));
        let (status, body, _) = call(&h, "GET", "/api/zoom/nope").await;
        assert_eq!((status, body["status"].as_u64()), (404, Some(404)));
        let (status, _, response) = call(&h, "POST", "/api/zoom/health").await;
        assert_eq!(status, 405);
        assert_eq!(response.headers()["allow"], "GET");
    }

    #[tokio::test]
    async fn config_answers_settings() {
        let h = handler(probe("table", None, 0), probe("queue", None, 0));
        let (status, body, _) = call(&h, "GET", "/api/zoom/config").await;
        assert_eq!(status, 200);
        assert_eq!(body["oauth_mode"], "user");
        assert_eq!(body["version"], zoom_shared::VERSION);
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;

    /// Every event in `events/zoom-health/` is a valid API Gateway event for a route we serve.
    #[test]
    fn sample_events_route_to_this_function() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/zoom-health");
        let covered = zoom_shared::http::samples::check_dir(dir, &router(), |_| true);
        assert_eq!(covered, router().table().count(), "one event per route");
    }
}
