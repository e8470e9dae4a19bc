//! `POST /api/zoom/webhooks` → [`WebhookHandler::intake`] (logic in
//! `shared/src/webhooks/intake.rs`). Answers: 200 once SQS accepted the event (or for the URL
//! validation, or an event we do not process); 401 bad signature or stale timestamp; 400 not a
//! JSON event; 413 over 128 KiB; 503 when SQS fails, so Zoom retries: an acknowledged event is
//! never lost.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use zoom_shared::aws::queue::EventPublisher;
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Matched, Router, json};
use zoom_shared::metrics::Metrics;
use zoom_shared::tokens::provider::now_secs;
use zoom_shared::webhooks::intake::{Decision, Delivery, IntakeConfig, MAX_BODY_BYTES, decide};

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/zoom/webhooks`
    Intake,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([(Method::POST, "/api/zoom/webhooks", Route::Intake)])
}

/// The handler's dependencies, generic over the queue port.
pub struct WebhookHandler<P> {
    /// Secret and legacy token.
    pub config: IntakeConfig,
    /// The events queue.
    pub queue: P,
    /// Metrics.
    pub metrics: Metrics,
}

impl<P: EventPublisher + 'static> Handler<Route> for WebhookHandler<P> {
    async fn handle(
        &self,
        _matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        self.intake(&request).await
    }
}

impl<P: EventPublisher> WebhookHandler<P> {
    /// Verifies, decides, and publishes.
    pub async fn intake(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let headers = Delivery {
            signature: header("x-zm-signature"),
            timestamp: header("x-zm-request-timestamp"),
            authorization: header("authorization"),
        };
        // The raw bytes as received (lambda_http has already base64-decoded a binary body).
        let body: &[u8] = request.body().as_ref();
        let reject = |reason: &str| {
            self.metrics
                .count("WebhookRejected", 1.0, &[("Reason", reason)])
        };
        match decide(&self.config, headers, body, now_secs()) {
            Decision::Validate(answer) => json(StatusCode::OK, &answer),
            Decision::Publish(event) => {
                let attributes = [
                    ("event_type", event.event.as_str()),
                    ("account_id", event.account_id.as_str()),
                    ("dedup_key", event.dedup_key.as_str()),
                    ("authenticated_by", event.authenticated_by),
                ];
                let text = std::str::from_utf8(body)
                    .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
                if let Err(error) = self.queue.publish(text, &attributes).await {
                    tracing::error!(%error, event = %event.event, "events queue refused the event; Zoom will retry");
                    reject("queue_unavailable");
                    return Err(ApiError::unavailable(
                        "the event could not be queued; retry later",
                    ));
                }
                self.metrics
                    .count("WebhookAccepted", 1.0, &[("Event", event.event.as_str())]);
                json(StatusCode::OK, &json!({"status": "queued"}))
            }
            Decision::Ignore(event) => {
                self.metrics
                    .count("WebhookIgnored", 1.0, &[("Event", event.as_str())]);
                json(StatusCode::OK, &json!({"status": "ignored"}))
            }
            Decision::Unauthentic(error) => {
                reject("unauthentic");
                Err(ApiError::Unauthorized(error.to_string()))
            }
            Decision::Malformed(why) => {
                reject("malformed");
                Err(ApiError::BadRequest(why.into()))
            }
            Decision::TooLarge => {
                reject("too_large");
                Err(ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoom_shared::aws::queue::MemoryPublisher;
    use zoom_shared::webhooks::verify::signature;

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-webhooks");
    }

    fn handler() -> WebhookHandler<MemoryPublisher> {
        WebhookHandler {
            config: IntakeConfig {
                secret: b"s3cret".to_vec(),
                verification_token: None,
            },
            queue: MemoryPublisher::default(),
            metrics: Metrics::in_memory("zoom-webhooks").0,
        }
    }

    fn request(body: &str, signed: bool) -> Request {
        delivery(body.as_bytes(), Body::Text(body.to_owned()), signed)
    }

    /// A delivery of `bytes` (as `body`), signed with the handler's secret when `signed`.
    fn delivery(bytes: &[u8], body: Body, signed: bool) -> Request {
        let ts = now_secs().to_string();
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("https://x/api/zoom/webhooks");
        if signed {
            builder = builder
                .header("x-zm-request-timestamp", &ts)
                .header("x-zm-signature", signature(b"s3cret", &ts, bytes));
        }
        builder.body(body).expect("request")
    }

    #[tokio::test]
    async fn accepted_only_after_the_queue_took_it() {
        let h = handler();
        let body =
            r#"{"event":"meeting.started","event_ts":1,"payload":{"account_id":"a","object":{}}}"#;
        assert_eq!(
            h.intake(&request(body, true)).await.expect("ok").status(),
            200
        );
        assert_eq!(h.queue.messages.lock().expect("lock").as_slice(), [body]);
        h.queue
            .fail
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let failed = h.intake(&request(body, true)).await.expect_err("503");
        assert_eq!(failed.status(), 503);
    }

    #[tokio::test]
    async fn rejected_deliveries_enqueue_nothing() {
        let h = handler();
        assert_eq!(
            h.intake(&request(
                r#"{"event":"meeting.started","payload":{}}"#,
                false
            ))
            .await
            .expect_err("401")
            .status(),
            401
        );
        assert_eq!(
            h.intake(&request("not json", true))
                .await
                .expect_err("400")
                .status(),
            400
        );
        assert_eq!(
            h.intake(&request(&"x".repeat(MAX_BODY_BYTES + 1), true))
                .await
                .expect_err("413")
                .status(),
            413
        );
        assert!(h.queue.messages.lock().expect("lock").is_empty());
    }

    /// API Gateway delivers a body that is not UTF-8 base64-encoded (lambda_http decodes it
    /// to binary): unsigned it is 401, signed it is 400, never a 500, and nothing is queued.
    #[tokio::test]
    async fn a_body_that_is_not_utf8_is_refused() {
        let h = handler();
        let bytes = b"{\"event\":\"meeting.started\",\"x\":\"\xff\xfe\"}".to_vec();
        let binary = |signed: bool| delivery(&bytes, Body::Binary(bytes.clone()), signed);
        let unsigned = h.intake(&binary(false)).await.expect_err("401");
        assert_eq!(unsigned.status(), 401);
        let signed = h.intake(&binary(true)).await.expect_err("400");
        assert_eq!(signed.status(), 400, "{signed}");
        assert!(h.queue.messages.lock().expect("lock").is_empty());
    }
}
