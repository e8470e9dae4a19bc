//! Webhooks as Zoom sends them: Zoom's event shapes, signed with `x-zm-signature`
//! (`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`) and `x-zm-request-timestamp`, retried
//! on a non-2xx answer or no answer within the timeout, every attempt recorded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Sim;
use crate::world::{Meeting, PastMeeting, Recording, zoom_time};

/// One delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The delivery (one event; shared by its attempts).
    pub delivery_id: u64,
    /// Event type.
    pub event: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// Target URL.
    pub url: String,
    /// HTTP status answered, if any.
    pub status: Option<u16>,
    /// Time to the answer (or to giving up), in milliseconds.
    pub latency_ms: u64,
    /// 2xx within the timeout.
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// When the attempt started.
    pub at: String,
}

fn mac(secret: &str, message: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `x-zm-signature` for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    format!("v0={}", mac(secret, &format!("v0:{timestamp}:{body}")))
}

/// The `encryptedToken` of a URL validation challenge.
pub fn encrypted_token(secret: &str, plain_token: &str) -> String {
    mac(secret, plain_token)
}

/// Milliseconds since the epoch.
pub fn event_ts(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn meeting_object(m: &Meeting, start: DateTime<Utc>) -> Value {
    json!({
        "id": m.id.to_string(), "uuid": m.uuid, "host_id": m.host_id, "topic": m.topic,
        "type": m.meeting_type, "start_time": zoom_time(start), "timezone": m.timezone, "duration": m.duration,
    })
}

/// `meeting.started`.
pub fn meeting_started(account_id: &str, m: &Meeting, at: DateTime<Utc>) -> Value {
    json!({"event": "meeting.started", "event_ts": event_ts(at), "payload": {"account_id": account_id, "object": meeting_object(m, at)}})
}

/// `meeting.ended`, for the ended instance `past`.
pub fn meeting_ended(
    account_id: &str,
    m: &Meeting,
    past: &PastMeeting,
    at: DateTime<Utc>,
) -> Value {
    let mut object = meeting_object(m, past.start_time);
    object["uuid"] = json!(past.uuid);
    object["end_time"] = json!(zoom_time(past.end_time));
    json!({"event": "meeting.ended", "event_ts": event_ts(at), "payload": {"account_id": account_id, "object": object}})
}

/// A participant of a live meeting, as webhooks describe it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveParticipant {
    /// Participant id in the meeting.
    pub id: String,
    /// Numeric user id in the meeting.
    pub user_id: String,
    /// Name.
    pub user_name: String,
    /// Email.
    pub email: String,
    /// Participant UUID.
    pub participant_uuid: String,
    /// Joined.
    pub join_time: DateTime<Utc>,
    /// Left, once left.
    pub leave_time: Option<DateTime<Utc>>,
}

/// `meeting.participant_joined`; `time_field` is `join_time` (Zoom's document) or
/// `date_time` (Zoom's published example).
pub fn participant_joined(
    account_id: &str,
    m: &Meeting,
    start: DateTime<Utc>,
    p: &LiveParticipant,
    time_field: &str,
) -> Value {
    let mut object = meeting_object(m, start);
    let mut participant = json!({
        "user_id": p.user_id, "user_name": p.user_name, "id": p.id, "participant_uuid": p.participant_uuid,
        "email": p.email, "participant_user_id": p.id,
    });
    participant[time_field] = json!(zoom_time(p.join_time));
    object["participant"] = participant;
    json!({"event": "meeting.participant_joined", "event_ts": event_ts(p.join_time), "payload": {"account_id": account_id, "object": object}})
}

/// `meeting.participant_left`.
pub fn participant_left(
    account_id: &str,
    m: &Meeting,
    start: DateTime<Utc>,
    p: &LiveParticipant,
    left: DateTime<Utc>,
) -> Value {
    let mut object = meeting_object(m, start);
    object["participant"] = json!({
        "user_id": p.user_id, "user_name": p.user_name, "id": p.id, "participant_uuid": p.participant_uuid,
        "email": p.email, "participant_user_id": p.id, "leave_time": zoom_time(left), "leave_reason": "left the meeting",
    });
    json!({"event": "meeting.participant_left", "event_ts": event_ts(left), "payload": {"account_id": account_id, "object": object}})
}

/// `meeting.deleted`: the whole meeting, or (`occurrence`) one occurrence of a series
/// (`operation: "single"` with `occurrences`).
pub fn meeting_deleted(
    account_id: &str,
    m: &Meeting,
    operator: &str,
    at: DateTime<Utc>,
    occurrence: Option<&str>,
) -> Value {
    let mut object = json!({"uuid": m.uuid, "id": m.id, "host_id": m.host_id, "topic": m.topic, "type": m.meeting_type,
                   "start_time": zoom_time(m.start_time), "duration": m.duration, "timezone": m.timezone});
    if let Some(occurrence) = occurrence {
        object["occurrences"] = json!([{"occurrence_id": occurrence, "start_time": zoom_time(m.start_time), "status": "deleted"}]);
    }
    json!({"event": "meeting.deleted", "event_ts": event_ts(at), "payload": {
        "account_id": account_id, "operator": operator,
        "operation": if occurrence.is_some() { "single" } else { "all" },
        "object": object}})
}

/// `recording.completed`.
pub fn recording_completed(
    account_id: &str,
    r: &Recording,
    host_email: &str,
    base_url: &str,
    download_token: &str,
    at: DateTime<Utc>,
) -> Value {
    let mut object = r.json(account_id, base_url);
    object["type"] = json!(2);
    object["password"] = json!("");
    object["host_email"] = json!(host_email);
    object["timezone"] = json!("UTC");
    json!({"event": "recording.completed", "event_ts": event_ts(at), "download_token": download_token,
           "payload": {"account_id": account_id, "object": object}})
}

/// `app_deauthorized`.
pub fn app_deauthorized(
    account_id: &str,
    user_id: &str,
    client_id: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({"event": "app_deauthorized", "event_ts": event_ts(at), "payload": {
        "account_id": account_id, "user_id": user_id, "signature": hex::encode(user_id.as_bytes()),
        "deauthorization_time": zoom_time(at), "client_id": client_id}})
}

/// `endpoint.url_validation`.
pub fn url_validation(plain_token: &str, at: DateTime<Utc>) -> Value {
    json!({"payload": {"plainToken": plain_token}, "event_ts": event_ts(at), "event": "endpoint.url_validation"})
}

/// One signed POST of `body` to the configured URL; returns the attempt's record and the
/// answer's body when there was one.
pub async fn post_once(
    sim: &Sim,
    delivery_id: u64,
    event: &str,
    attempt: u32,
    body: &str,
) -> (Delivery, Option<String>) {
    let (url, secret, timeout) = {
        let state = sim.state();
        (
            state.config.webhook_url.clone(),
            state.config.webhook_secret.clone(),
            state.config.webhook_timeout(),
        )
    };
    let timestamp = Utc::now().timestamp().to_string();
    let started = Instant::now();
    let at = zoom_time(Utc::now());
    let result = sim
        .http
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header("user-agent", "Zoom Marketplace/1.0a")
        .header("x-zm-request-timestamp", &timestamp)
        .header("x-zm-signature", sign(&secret, &timestamp, body))
        .header("x-zm-trackingid", format!("sim-{delivery_id}-{attempt}"))
        .body(body.to_owned())
        .timeout(timeout)
        .send()
        .await;
    let (status, error, answer) = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            let answer = response.text().await.ok();
            (Some(status), None, answer)
        }
        Err(e) if e.is_timeout() => (
            None,
            Some(format!("no answer within {} ms", timeout.as_millis())),
            None,
        ),
        Err(e) => (None, Some(format!("connection failed: {e}")), None),
    };
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let record = Delivery {
        delivery_id,
        event: event.to_owned(),
        attempt,
        url,
        status,
        latency_ms: started.elapsed().as_millis() as u64,
        ok,
        error,
        at,
    };
    sim.state().deliveries.push(record.clone());
    (record, answer)
}

/// Sends `event` (its JSON value) in the background with Zoom's retry schedule; returns the
/// delivery id. The body is serialised once: every attempt sends the same bytes, freshly signed.
pub fn send(sim: &Arc<Sim>, event: Value) -> u64 {
    let name = event["event"].as_str().unwrap_or("unknown").to_owned();
    let body = event.to_string();
    send_body(sim, name, body)
}

/// Sends an already serialised event body (a new delivery of the same bytes).
pub fn send_body(sim: &Arc<Sim>, name: String, body: String) -> u64 {
    let delivery_id = sim
        .next_delivery
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    let delays = {
        let mut state = sim.state();
        state.delivery_bodies.insert(delivery_id, body.clone());
        state.config.webhook_retry_delays_ms.clone()
    };
    let sim = sim.clone();
    tokio::spawn(async move {
        for attempt in 1..=(delays.len() as u32 + 1) {
            let (record, _) = post_once(&sim, delivery_id, &name, attempt, &body).await;
            if record.ok {
                break;
            }
            if let Some(delay) = delays.get(attempt as usize - 1) {
                tokio::time::sleep(Duration::from_millis(*delay)).await;
            }
        }
    });
    delivery_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_test_vectors() {
        let vectors: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/zoom/webhook-test-vectors.json",
                std::env::var("ZOOM_SHARED_DIR")
                    .unwrap_or_else(|_| format!("{}/../../../shared", env!("CARGO_MANIFEST_DIR")))
            ))
            .expect("test vectors"),
        )
        .expect("json");
        for name in ["sig_meeting.started", "sig_endpoint.url_validation"] {
            let v = &vectors[name];
            let secret = v["secret"].as_str().expect("secret");
            let ts = v["x-zm-request-timestamp"].as_str().expect("ts");
            let body = v["raw_body"].as_str().expect("body");
            assert_eq!(
                sign(secret, ts, body),
                v["x-zm-signature"].as_str().expect("sig"),
                "{name}"
            );
        }
        let crc = &vectors["crc"];
        assert_eq!(
            encrypted_token(
                crc["secret"].as_str().expect("s"),
                crc["plainToken"].as_str().expect("p")
            ),
            crc["encryptedToken"].as_str().expect("e")
        );
        let negative = &vectors["negative_reserialized"];
        let original = &vectors["sig_meeting.started"];
        assert_ne!(
            sign(
                original["secret"].as_str().expect("s"),
                original["x-zm-request-timestamp"].as_str().expect("t"),
                negative["reserialized_body"].as_str().expect("b")
            ),
            original["x-zm-signature"].as_str().expect("sig"),
            "a re-serialised body must not verify"
        );
    }
}
