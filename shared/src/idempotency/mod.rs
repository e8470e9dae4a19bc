//! `Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header Field", and
//! Stripe's practice): a client that repeats a non-idempotent request with the same key gets
//! the first request's answer, never a second effect.
//!
//! - The first request with a key claims it ([`Begin::New`]) with a fingerprint of the request
//!   (method, path, query, body); its answer is stored for [`RETENTION_SECS`] and replayed for
//!   a retry with the same fingerprint ([`Begin::Replay`]).
//! - The same key with another request is [`Begin::Mismatch`] (422); while the first is still
//!   running, [`Begin::InFlight`] (409).
//! - A first attempt whose outcome at Zoom is unknown (Zoom's answer was lost, or the attempt
//!   died after sending) is [`Begin::Unknown`]: the handler reconciles with Zoom before it
//!   acts again.
//!
//! Records live in the owner's partition (`DATA#{ns}` / `IDEM#{route}#{digest(key)}`), so they
//! are purged with the connection.

pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;

use serde::{Deserialize, Serialize};

use crate::http::{ApiError, FieldError};
use crate::owner::Owner;
use crate::store::StoreError;

pub use dynamo::DynamoIdempotency;

/// How long an answer is kept for replay (the draft and Stripe: at least 24 hours).
pub const RETENTION_SECS: i64 = 25 * 3600;
/// How long a claim holds before a retry may take it over (longer than any request runs).
pub const CLAIM_SECS: i64 = 60;
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Location`, when the answer had one.
    pub location: Option<String>,
    /// The JSON body.
    pub body: String,
}

/// What a key's record says when a request with it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Ours to run (new, or a takeover of an attempt that never reached Zoom).
    New {
        /// Identifies this attempt's claim.
        claim: String,
    },
    /// The first request finished: this is its answer.
    Replay(StoredAnswer),
    /// The same key with another request.
    Mismatch,
    /// The first request is still running.
    InFlight,
    /// The first attempt may or may not have taken effect at Zoom: reconcile, then finish.
    Unknown {
        /// Identifies this attempt's claim.
        claim: String,
        /// When the first attempt started (epoch seconds).
        started_at: i64,
    },
}

/// The key's records.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `route` with `fingerprint`, or tells what it already holds.
    fn begin(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> impl Future<Output = Result<Begin, StoreError>> + Send;
    /// Records that the claimed attempt is about to call Zoom (from now on its outcome can be
    /// unknown).
    fn sending(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records that Zoom's answer was lost: the next retry reconciles.
    fn unknown(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores the final answer (replayed to retries).
    fn finish(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
        answer: &StoredAnswer,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Drops the claim of an attempt that made nothing: it failed before it reached Zoom, or
    /// Zoom refused it (`claimed` or `sending`; never an `unknown` or `done` record), so a retry
    /// with the key runs anew at once instead of waiting for the claim to expire.
    fn release(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The `Idempotency-Key` header, checked: absent, or 1 to 255 characters of visible ASCII and
/// spaces as sent, not all spaces (the API document's rule); quotes around it (the draft's
/// sf-string) are then removed, unless nothing would remain.
pub fn key_of(request: &lambda_http::Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )])
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty()
        || text.len() > MAX_KEY_LEN
        || !text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        return Err(invalid());
    }
    let key = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|inner| !inner.is_empty())
        .unwrap_or(text);
    Ok(Some(key.to_owned()))
}

/// The fingerprint of a request: SHA-256 of its method, path, query and body.
pub fn fingerprint(request: &lambda_http::Request) -> String {
    let mut text = format!(
        "{} {}?{}\n",
        request.method(),
        request.uri().path(),
        request.uri().query().unwrap_or("")
    )
    .into_bytes();
    text.extend_from_slice(request.body().as_ref());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &text);
    hex::encode(digest.as_ref())
}

/// The problem for a [`Begin`] that is not the caller's to run.
pub fn refusal(begin: &Begin) -> Option<ApiError> {
    match begin {
        Begin::Mismatch => Some(ApiError::Unprocessable(
            "this Idempotency-Key was used with another request".into(),
        )),
        Begin::InFlight => Some(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed; retry later".into(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: Option<&str>, body: &str) -> lambda_http::Request {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/api/zoom/meetings?user_id=me");
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        builder
            .body(lambda_http::Body::Text(body.to_owned()))
            .expect("request")
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(key_of(&request(None, "")).expect("none"), None);
        assert_eq!(
            key_of(&request(Some("\"abc-1\""), ""))
                .expect("quoted")
                .as_deref(),
            Some("abc-1")
        );
        for bad in [
            "",
            "   ",
            &"k".repeat(256),
            &format!("\"{}\"", "k".repeat(254)),
        ] {
            assert!(key_of(&request(Some(bad), "")).is_err(), "{bad:?}");
        }
        // The limits apply to the value as sent; `""` alone is a key of its own.
        assert_eq!(
            key_of(&request(Some("\"\""), ""))
                .expect("quotes")
                .as_deref(),
            Some("\"\"")
        );
        let longest = format!("\"{}\"", "k".repeat(253));
        assert_eq!(
            key_of(&request(Some(&longest), ""))
                .expect("255")
                .map(|k| k.len()),
            Some(253)
        );
    }

    /// A key outside visible ASCII is a 400 naming the header, whichever way it arrives: as
    /// text (API Gateway's event carries header values as JSON strings, e.g. the `×ø\u{9b}`
    /// Schemathesis sent) or as raw bytes that are not UTF-8 (Latin-1, as Python's HTTP
    /// clients send a non-ASCII value).
    #[test]
    fn keys_outside_visible_ascii_are_a_400_naming_the_header() {
        let raw: [&[u8]; 5] = [
            "×ø\u{9b}".as_bytes(),
            b"\xd7\xf8\x9b",
            "é".as_bytes(),
            b"k\xe9",
            b"a\tb",
        ];
        for bytes in raw {
            let mut request = request(None, "");
            request.headers_mut().insert(
                "idempotency-key",
                http::HeaderValue::from_bytes(bytes).expect("a header value"),
            );
            let error = key_of(&request).expect_err("refused");
            assert_eq!(error.status(), 400, "{bytes:?}");
            match error {
                ApiError::Validation(fields) => {
                    assert_eq!(fields[0].field, "Idempotency-Key", "{bytes:?}");
                }
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn fingerprints_follow_the_request() {
        let a = fingerprint(&request(Some("k"), r#"{"topic":"a"}"#));
        assert_eq!(
            a,
            fingerprint(&request(Some("other key"), r#"{"topic":"a"}"#))
        );
        assert_ne!(a, fingerprint(&request(Some("k"), r#"{"topic":"b"}"#)));
    }
}
