//! Signed webhooks and Zoom's retries.

mod support;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::*;

/// Verifies a delivery the way `../shared/zoom/webhook-test-vectors.json` describes.
fn verifies(secret: &str, hook: &Received) -> bool {
    let timestamp = &hook.headers["x-zm-request-timestamp"];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("v0:{timestamp}:{}", hook.body).as_bytes());
    hook.headers["x-zm-signature"] == format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn deliveries_are_signed_like_zoom() {
    let hooks = receiver(vec![], vec![]).await;
    let sim = start(|c| {
        c.webhook_url = hooks.url.clone();
        c.webhook_secret = "zoom_test_webhook_secret_123".into();
    })
    .await;
    let id = sim
        .sim
        .state()
        .world
        .meetings
        .keys()
        .next()
        .copied()
        .expect("meeting");
    client()
        .post(format!("{}/_sim/meetings/{id}/start", sim.url()))
        .send()
        .await
        .expect("start");
    eventually(|| !hooks.received.lock().expect("l").is_empty()).await;
    let hook = hooks.received.lock().expect("l")[0].clone();
    assert!(verifies("zoom_test_webhook_secret_123", &hook));
    assert!(!verifies("another-secret", &hook));
    let now = chrono::Utc::now().timestamp();
    let ts: i64 = hook.headers["x-zm-request-timestamp"].parse().expect("ts");
    assert!((now - ts).abs() < 5);
    assert_eq!(
        serde_json::from_str::<Value>(&hook.body).expect("j")["event"],
        "meeting.started"
    );
}

#[tokio::test]
async fn failing_deliveries_are_retried_on_zoom_schedule() {
    let hooks = receiver(vec![500, 503], vec![]).await;
    let sim = start(|c| c.webhook_url = hooks.url.clone()).await;
    let sent = client()
        .post(format!("{}/_sim/webhooks/send", sim.url()))
        .json(&json!({"event": {"event": "meeting.started", "event_ts": 1, "payload": {"account_id": "a", "object": {}}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status(), 200);
    eventually(|| hooks.received.lock().expect("l").len() >= 3).await;
    let deliveries: Value = client()
        .get(format!("{}/_sim/deliveries", sim.url()))
        .send()
        .await
        .expect("d")
        .json()
        .await
        .expect("j");
    let attempts = deliveries.as_array().expect("list");
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["status"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        vec![500, 503, 200]
    );
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["attempt"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let received = hooks.received.lock().expect("l").clone();
    assert!(
        received.windows(2).all(|w| w[0].body == w[1].body),
        "every attempt carries the same body"
    );
}

#[tokio::test]
async fn a_slow_answer_counts_as_failed_and_is_retried() {
    let hooks = receiver(vec![200, 200], vec![800, 0]).await;
    let sim = start(|c| {
        c.webhook_url = hooks.url.clone();
        c.webhook_timeout_ms = 300;
    })
    .await;
    client()
        .post(format!("{}/_sim/webhooks/send", sim.url()))
        .json(&json!({"event": {"event": "meeting.ended", "event_ts": 1, "payload": {}}}))
        .send()
        .await
        .expect("send");
    eventually(|| sim.sim.state().deliveries.iter().any(|d| d.ok)).await;
    let deliveries = sim.sim.state().deliveries.clone();
    assert!(
        !deliveries[0].ok
            && deliveries[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("no answer"))
    );
    assert!(deliveries[1].ok);
}

#[tokio::test]
async fn gives_up_after_the_last_retry() {
    let hooks = receiver(vec![500, 500, 500, 500, 500], vec![]).await;
    let sim = start(|c| c.webhook_url = hooks.url.clone()).await;
    client()
        .post(format!("{}/_sim/webhooks/send", sim.url()))
        .json(&json!({"event": {"event": "meeting.ended", "event_ts": 1, "payload": {}}}))
        .send()
        .await
        .expect("send");
    eventually(|| sim.sim.state().deliveries.len() >= 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        sim.sim.state().deliveries.len(),
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn url_validation_challenge_is_checked() {
    // A receiver that does not answer the challenge properly.
    let hooks = receiver(vec![], vec![]).await;
    let sim = start(|c| c.webhook_url = hooks.url.clone()).await;
    let result: Value = client()
        .post(format!("{}/_sim/webhooks/url-validation", sim.url()))
        .send()
        .await
        .expect("v")
        .json()
        .await
        .expect("j");
    assert_eq!(result["valid"], false);
    assert!(
        result["expected"]["encryptedToken"]
            .as_str()
            .is_some_and(|t| t.len() == 64)
    );
    let hook = hooks.received.lock().expect("l")[0].clone();
    assert_eq!(
        serde_json::from_str::<Value>(&hook.body).expect("j")["event"],
        "endpoint.url_validation"
    );
}

#[tokio::test]
async fn participant_time_field_can_follow_the_example() {
    let hooks = receiver(vec![], vec![]).await;
    let sim = start(|c| c.webhook_url = hooks.url.clone()).await;
    let id = sim
        .sim
        .state()
        .world
        .meetings
        .keys()
        .next()
        .copied()
        .expect("meeting");
    client()
        .post(format!("{}/_sim/meetings/{id}/start", sim.url()))
        .send()
        .await
        .expect("start");
    let joined = client()
        .post(format!("{}/_sim/meetings/{id}/participants", sim.url()))
        .json(&json!({"time_field": "date_time", "at": "2026-11-27T10:00:00Z"}))
        .send()
        .await
        .expect("join");
    assert_eq!(joined.status(), 200);
    eventually(|| hooks.received.lock().expect("l").len() >= 2).await;
    let bodies: Vec<Value> = hooks
        .received
        .lock()
        .expect("l")
        .iter()
        .map(|h| serde_json::from_str(&h.body).expect("j"))
        .collect();
    let join = bodies
        .iter()
        .find(|b| b["event"] == "meeting.participant_joined")
        .expect("joined");
    assert_eq!(
        join["payload"]["object"]["participant"]["date_time"],
        "2026-11-27T10:00:00Z"
    );
}
