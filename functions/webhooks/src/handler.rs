//! `POST /api/zoom/webhooks` → [`WebhookHandler::intake`] (logic in
//! `shared/src/webhooks/intake.rs`). Answers: 200 once SQS accepted the event (or for the URL
//! validation, or an event we do not process); 401 bad signature or stale timestamp; 400 not a
//! JSON event; 413 over 1 MiB; 503 when SQS (or, for a large body, the bucket) fails, so Zoom
//! retries: an acknowledged event is never lost. A body over SQS's limit is spooled to the
//! bucket first and the message carries its key (`claim_check`).

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use zoom_shared::aws::queue::{EventPublisher, WebhookSpool};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Matched, Router, json};
use zoom_shared::metrics::Metrics;
use zoom_shared::tokens::provider::now_secs;
use zoom_shared::webhooks::intake::{
    Decision, Delivery, INLINE_LIMIT, IntakeConfig, MAX_BODY_BYTES, decide, spool_key,
};

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

/// The handler's dependencies, generic over the queue and spool ports.
pub struct WebhookHandler<P, S> {
    /// Secret and legacy token.
    pub config: IntakeConfig,
    /// The events queue.
    pub queue: P,
    /// Where bodies too large for a message go.
    pub spool: S,
    /// Metrics.
    pub metrics: Metrics,
}

impl<P: EventPublisher + 'static, S: WebhookSpool + 'static> Handler<Route>
    for WebhookHandler<P, S>
{
    async fn handle(
        &self,
        _matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        self.intake(&request).await
    }
}

impl<P: EventPublisher, S: WebhookSpool> WebhookHandler<P, S> {
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
                let text = std::str::from_utf8(body)
                    .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
                let mut attributes = vec![
                    ("event_type", event.event.as_str()),
                    ("account_id", event.account_id.as_str()),
                    ("dedup_key", event.dedup_key.as_str()),
                    ("authenticated_by", event.authenticated_by),
                ];
                let key = spool_key(&event.dedup_key);
                let message = if text.len() > INLINE_LIMIT {
                    if let Err(error) = self.spool.spool(&key, body).await {
                        tracing::error!(%error, event = %event.event, "a large event could not be spooled; Zoom will retry");
                        reject("spool_unavailable");
                        return Err(ApiError::unavailable(
                            "the event could not be stored; retry later",
                        ));
                    }
                    attributes.push(("claim_check", key.as_str()));
                    self.metrics.count("WebhookSpooled", 1.0, &[]);
                    serde_json::json!({"claim_check": key}).to_string()
                } else {
                    text.to_owned()
                };
                if let Err(error) = self.queue.publish(&message, &attributes).await {
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
    use zoom_shared::aws::queue::{MemoryPublisher, MemorySpool};
    use zoom_shared::webhooks::verify::signature;

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-webhooks");
    }

    fn handler() -> WebhookHandler<MemoryPublisher, MemorySpool> {
        WebhookHandler {
            config: IntakeConfig {
                secret: b"s3cret".to_vec(),
                verification_token: None,
            },
            queue: MemoryPublisher::default(),
            spool: MemorySpool::default(),
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

    #[tokio::test]
    async fn a_body_over_the_message_limit_goes_through_the_spool() {
        let h = handler();
        let files: Vec<String> = (0..6000)
            .map(|n| format!(r#"{{"id":"file-{n:05}","file_type":"MP4","file_size":1}}"#))
            .collect();
        let body = format!(
            r#"{{"event":"recording.completed","event_ts":1,"payload":{{"account_id":"a","object":{{"uuid":"u","host_id":"h","recording_files":[{}]}}}}}}"#,
            files.join(",")
        );
        assert!(body.len() > INLINE_LIMIT && body.len() < MAX_BODY_BYTES);
        assert_eq!(
            h.intake(&request(&body, true)).await.expect("ok").status(),
            200
        );
        let messages = h.queue.messages.lock().expect("lock").clone();
        assert_eq!(messages.len(), 1);
        let pointer: serde_json::Value = serde_json::from_str(&messages[0]).expect("json");
        let key = pointer["claim_check"].as_str().expect("key");
        assert!(key.starts_with("webhooks/"));
        assert_eq!(h.spool.fetch(key).await.expect("spooled"), body);
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
