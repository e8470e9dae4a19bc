//! What to do with one webhook delivery, as pure logic over its raw bytes: answer Zoom's URL
//! validation, reject it (with why), acknowledge and ignore it, or publish it to the queue.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::verify::{self, VerifyError};

/// Largest accepted webhook body: 1 MiB. Zoom's events are mostly a few KiB, but a
/// `recording.completed` with many per-participant files can pass SQS's 256 KiB; anything larger
/// than 1 MiB is refused with 413 before any work.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest body sent inline in an SQS message (SQS takes 256 KiB with the attributes); a larger
/// one goes through the bucket ([`spool_key`]) and the message carries only its key.
pub const INLINE_LIMIT: usize = 240 * 1024;

/// The bucket key a large delivery is spooled under: content-addressed, so Zoom's retries of
/// one delivery write the same object.
pub fn spool_key(dedup_key: &str) -> String {
    format!("webhooks/{dedup_key}.json")
}

/// Longest `plainToken` of a URL validation answered (characters, as the API document's
/// `maxLength` counts them).
pub const MAX_PLAIN_TOKEN_CHARS: usize = 256;

/// The events the analytics processor handles; others are acknowledged and counted.
pub const PROCESSED_EVENTS: &[&str] = &[
    "meeting.started",
    "meeting.ended",
    "meeting.participant_joined",
    "meeting.participant_left",
    "meeting.deleted",
    "meeting.updated",
    "recording.completed",
    "app_deauthorized",
];

/// The intake's settings.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// The webhook signing secret.
    pub secret: Vec<u8>,
    /// The legacy verification token, accepted only when configured.
    pub verification_token: Option<String>,
}

/// The headers the intake reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery<'a> {
    /// `x-zm-signature`.
    pub signature: Option<&'a str>,
    /// `x-zm-request-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `authorization` (legacy verification token).
    pub authorization: Option<&'a str>,
}

/// A message for the events queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Zoom's event type.
    pub event: String,
    /// Zoom's account id ("" when absent).
    pub account_id: String,
    /// Stable across Zoom's retries: the SHA-256 of the raw body.
    pub dedup_key: String,
    /// How the delivery proved it is Zoom's: `signature`, or `verification_token` (the legacy
    /// static token; the processor trusts no data removal to it).
    pub authenticated_by: &'static str,
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// 200 with this JSON (URL validation).
    Validate(Value),
    /// Publish the raw body with these attributes, then 200.
    Publish(QueuedEvent),
    /// 200 without publishing (an event we do not process).
    Ignore(String),
    /// 401.
    Unauthentic(VerifyError),
    /// 400.
    Malformed(&'static str),
    /// 413.
    TooLarge,
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    payload: Option<Value>,
}

/// Decides what to do with `body` delivered with `headers` at `now` (epoch seconds).
pub fn decide(config: &IntakeConfig, headers: Delivery<'_>, body: &[u8], now: i64) -> Decision {
    if body.len() > MAX_BODY_BYTES {
        return Decision::TooLarge;
    }
    let signed = headers.signature.is_some() || headers.timestamp.is_some();
    let legacy_ok = !signed
        && matches!((&config.verification_token, headers.authorization), (Some(expected), Some(given)) if verify::legacy_token_matches(expected, given));
    if !legacy_ok
        && let Err(error) = verify::verify(
            &config.secret,
            headers.signature,
            headers.timestamp,
            body,
            now,
        )
    {
        return Decision::Unauthentic(error);
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Decision::Malformed("the body is not a JSON Zoom event (event and payload)");
    };
    let Some(payload) = envelope.payload.filter(Value::is_object) else {
        return Decision::Malformed("the event has no payload object");
    };
    if envelope.event == "endpoint.url_validation" {
        let Some(plain) = payload
            .get("plainToken")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty() && p.chars().count() <= MAX_PLAIN_TOKEN_CHARS)
        else {
            return Decision::Malformed("url validation without a plainToken");
        };
        return Decision::Validate(serde_json::json!({
            "plainToken": plain,
            "encryptedToken": verify::encrypted_token(&config.secret, plain),
        }));
    }
    if !PROCESSED_EVENTS.contains(&envelope.event.as_str()) {
        return Decision::Ignore(envelope.event);
    }
    if legacy_ok && envelope.event == "app_deauthorized" {
        return Decision::Unauthentic(VerifyError::UnsignedDeauthorization);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    Decision::Publish(QueuedEvent {
        event: envelope.event,
        account_id: payload
            .get("account_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        dedup_key: hex::encode(&digest.as_ref()[..16]),
        authenticated_by: if legacy_ok {
            "verification_token"
        } else {
            "signature"
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::verify::signature;

    const NOW: i64 = 1_800_000_000;

    fn config() -> IntakeConfig {
        IntakeConfig {
            secret: b"secret".to_vec(),
            verification_token: None,
        }
    }

    fn signed(body: &str) -> Decision {
        let ts = NOW.to_string();
        let sig = signature(b"secret", &ts, body.as_bytes());
        decide(
            &config(),
            Delivery {
                signature: Some(&sig),
                timestamp: Some(&ts),
                authorization: None,
            },
            body.as_bytes(),
            NOW,
        )
    }

    #[test]
    fn a_processed_event_is_published_with_its_attributes() {
        let body = r#"{"event":"meeting.started","event_ts":1,"payload":{"account_id":"acc","object":{}}}"#;
        match signed(body) {
            Decision::Publish(e) => {
                assert_eq!(
                    (e.event.as_str(), e.account_id.as_str()),
                    ("meeting.started", "acc")
                );
                assert_eq!(e.dedup_key.len(), 32);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retries_of_one_event_share_a_dedup_key() {
        let body =
            r#"{"event":"meeting.ended","event_ts":2,"payload":{"account_id":"a","object":{}}}"#;
        let (Decision::Publish(a), Decision::Publish(b)) = (signed(body), signed(body)) else {
            panic!("published")
        };
        assert_eq!(a.dedup_key, b.dedup_key);
    }

    #[test]
    fn url_validation_is_answered() {
        match signed(
            r#"{"event":"endpoint.url_validation","event_ts":1,"payload":{"plainToken":"abc"}}"#,
        ) {
            Decision::Validate(v) => {
                assert_eq!(v["plainToken"], "abc");
                assert_eq!(
                    v["encryptedToken"],
                    crate::webhooks::verify::encrypted_token(b"secret", "abc")
                );
            }
            other => panic!("{other:?}"),
        }
        // The token's limit counts characters (the document's maxLength), not bytes.
        let wide = "é".repeat(MAX_PLAIN_TOKEN_CHARS);
        let body = |token: &str| {
            serde_json::json!({"event": "endpoint.url_validation", "payload": {"plainToken": token}})
                .to_string()
        };
        assert!(matches!(signed(&body(&wide)), Decision::Validate(_)));
        let over = "a".repeat(MAX_PLAIN_TOKEN_CHARS + 1);
        for token in ["", over.as_str()] {
            assert!(
                matches!(signed(&body(token)), Decision::Malformed(_)),
                "{token:?}"
            );
        }
    }

    #[test]
    fn other_events_are_ignored_and_garbage_is_refused() {
        assert!(
            matches!(signed(r#"{"event":"user.created","payload":{}}"#), Decision::Ignore(e) if e == "user.created")
        );
        for body in [
            "not json",
            "[]",
            r#"{"event":"meeting.started"}"#,
            r#"{"event":5,"payload":{}}"#,
            r#"{"event":"meeting.started","payload":[]}"#,
        ] {
            assert!(matches!(signed(body), Decision::Malformed(_)), "{body}");
        }
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        assert_eq!(
            decide(&config(), Delivery::default(), big.as_bytes(), NOW),
            Decision::TooLarge
        );
        assert!(matches!(
            decide(&config(), Delivery::default(), b"{}", NOW),
            Decision::Unauthentic(VerifyError::Missing)
        ));
    }

    #[test]
    fn the_legacy_token_works_only_when_configured() {
        let body = br#"{"event":"meeting.started","payload":{"account_id":"a"}}"#;
        let headers = Delivery {
            authorization: Some("legacy"),
            ..Delivery::default()
        };
        assert!(matches!(
            decide(&config(), headers, body, NOW),
            Decision::Unauthentic(_)
        ));
        let with_token = IntakeConfig {
            verification_token: Some("legacy".into()),
            ..config()
        };
        assert!(matches!(
            decide(&with_token, headers, body, NOW),
            Decision::Publish(_)
        ));
        let wrong = Delivery {
            authorization: Some("nope"),
            ..Delivery::default()
        };
        assert!(matches!(
            decide(&with_token, wrong, body, NOW),
            Decision::Unauthentic(_)
        ));
        match decide(&with_token, headers, body, NOW) {
            Decision::Publish(event) => assert_eq!(event.authenticated_by, "verification_token"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_deauthorization_is_never_trusted_to_the_legacy_token() {
        let body = br#"{"event":"app_deauthorized","payload":{"account_id":"a","user_id":"u","deauthorization_time":"2026-11-27T09:00:00Z"}}"#;
        let with_token = IntakeConfig {
            verification_token: Some("legacy".into()),
            ..config()
        };
        let headers = Delivery {
            authorization: Some("legacy"),
            ..Delivery::default()
        };
        assert!(matches!(
            decide(&with_token, headers, body, NOW),
            Decision::Unauthentic(VerifyError::UnsignedDeauthorization)
        ));
        match signed(std::str::from_utf8(body).expect("utf8")) {
            Decision::Publish(event) => assert_eq!(event.authenticated_by, "signature"),
            other => panic!("a signed deauthorization is published: {other:?}"),
        }
    }
}
