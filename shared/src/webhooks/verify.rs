//! Webhook authenticity, as Zoom signs: `x-zm-signature = "v0=" + hex(HMAC-SHA256(secret,
//! "v0:" + x-zm-request-timestamp + ":" + raw body))`, over the raw bytes as received, compared
//! in constant time; a timestamp more than [`MAX_SKEW_SECS`] from now is a replay.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a delivery is not authentic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature or timestamp header.
    #[error("missing x-zm-signature or x-zm-request-timestamp")]
    Missing,
    /// The timestamp is not a number.
    #[error("x-zm-request-timestamp is not a number")]
    BadTimestamp,
    /// Too old or too far ahead.
    #[error("x-zm-request-timestamp is more than 5 minutes from now")]
    Stale,
    /// The signature does not match.
    #[error("x-zm-signature does not match")]
    BadSignature,
    /// An event that removes data came without a signature (only the static legacy token).
    #[error("app_deauthorized is accepted only when signed (x-zm-signature)")]
    UnsignedDeauthorization,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// The signature Zoom would send for `body` at `timestamp`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(b"v0:");
    m.update(timestamp.as_bytes());
    m.update(b":");
    m.update(body);
    format!("v0={}", hex::encode(m.finalize().into_bytes()))
}

/// Verifies a delivery's signature and freshness at `now` (epoch seconds).
pub fn verify(
    secret: &[u8],
    signature_header: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let (Some(signature_header), Some(timestamp)) = (signature_header, timestamp) else {
        return Err(VerifyError::Missing);
    };
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    // abs_diff: an extreme timestamp (i64::MIN) must be stale, not an overflow.
    if now.abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(VerifyError::Stale);
    }
    let given = signature_header
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::BadSignature)?;
    let mut m = mac(secret);
    m.update(b"v0:");
    m.update(timestamp.as_bytes());
    m.update(b":");
    m.update(body);
    m.verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

/// The `encryptedToken` answering an `endpoint.url_validation` challenge.
pub fn encrypted_token(secret: &[u8], plain_token: &str) -> String {
    let mut m = mac(secret);
    m.update(plain_token.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Constant-time comparison of the legacy verification token.
pub fn legacy_token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let dir = std::env::var("ZOOM_SHARED_DIR")
            .unwrap_or_else(|_| format!("{}/../../shared", env!("CARGO_MANIFEST_DIR")));
        serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/zoom/webhook-test-vectors.json"))
                .expect("vectors"),
        )
        .expect("json")
    }

    #[test]
    fn zoom_test_vectors_verify() {
        let v = vectors();
        for name in ["sig_meeting.started", "sig_endpoint.url_validation"] {
            let case = &v[name];
            let secret = case["secret"].as_str().expect("secret").as_bytes();
            let ts = case["x-zm-request-timestamp"].as_str().expect("ts");
            let body = case["raw_body"].as_str().expect("body").as_bytes();
            let now: i64 = ts.parse().expect("n");
            assert_eq!(
                signature(secret, ts, body),
                case["x-zm-signature"].as_str().expect("sig")
            );
            assert_eq!(
                verify(secret, case["x-zm-signature"].as_str(), Some(ts), body, now),
                Ok(()),
                "{name}"
            );
        }
        for name in ["crc", "crc_crosscheck_beats"] {
            let case = &v[name];
            assert_eq!(
                encrypted_token(
                    case["secret"].as_str().expect("s").as_bytes(),
                    case["plainToken"].as_str().expect("p")
                ),
                case["encryptedToken"].as_str().expect("e")
            );
        }
    }

    #[test]
    fn the_reserialized_body_does_not_verify() {
        let v = vectors();
        let original = &v["sig_meeting.started"];
        let ts = original["x-zm-request-timestamp"].as_str().expect("ts");
        let body = v["negative_reserialized"]["reserialized_body"]
            .as_str()
            .expect("b");
        let result = verify(
            original["secret"].as_str().expect("s").as_bytes(),
            original["x-zm-signature"].as_str(),
            Some(ts),
            body.as_bytes(),
            ts.parse().expect("n"),
        );
        assert_eq!(result, Err(VerifyError::BadSignature));
        assert_eq!(
            signature(
                original["secret"].as_str().expect("s").as_bytes(),
                ts,
                body.as_bytes()
            ),
            v["negative_reserialized"]["signature_over_reserialized"]
                .as_str()
                .expect("sig")
        );
    }

    #[test]
    fn replays_and_garbage_are_refused() {
        let sig = signature(b"s", "1000", b"{}");
        assert_eq!(
            verify(
                b"s",
                Some(&sig),
                Some("1000"),
                b"{}",
                1000 + MAX_SKEW_SECS + 1
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(
                b"s",
                Some(&sig),
                Some("1000"),
                b"{}",
                1000 - MAX_SKEW_SECS - 1
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(b"s", Some(&sig), Some("soon"), b"{}", 1000),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(b"s", None, Some("1000"), b"{}", 1000),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify(b"s", Some("v0=zz"), Some("1000"), b"{}", 1000),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(b"s", Some("v1=00"), Some("1000"), b"{}", 1000),
            Err(VerifyError::BadSignature)
        );
        assert!(
            legacy_token_matches("abc", "abc")
                && !legacy_token_matches("abc", "abd")
                && !legacy_token_matches("abc", "ab")
        );
    }

    proptest! {
        #[test]
        fn any_body_signed_verifies_and_any_change_breaks_it(body in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<usize>(), secret in "[a-z]{1,32}") {
            let sig = signature(secret.as_bytes(), "1700000000", &body);
            prop_assert_eq!(verify(secret.as_bytes(), Some(&sig), Some("1700000000"), &body, 1_700_000_000), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = flip % changed.len();
                changed[i] ^= 1;
                prop_assert_eq!(verify(secret.as_bytes(), Some(&sig), Some("1700000000"), &changed, 1_700_000_000), Err(VerifyError::BadSignature));
            }
        }
    }

    /// Regression (seen while writing the webhook fuzz target): a timestamp at the edge of i64
    /// overflowed `now - ts`.
    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            assert_eq!(
                verify(b"k", Some("v0=00"), Some(&ts), b"{}", 1_800_000_000),
                Err(VerifyError::Stale)
            );
        }
    }
}
