//! The one retry policy for Zoom calls, as pure functions: which answers are retried, how long
//! to wait (exponential backoff with full jitter, or Zoom's `Retry-After`), and never past the
//! caller's deadline.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Attempts in all (the first try and two retries).
pub const MAX_ATTEMPTS: u32 = 3;
/// Backoff base.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// Backoff cap.
pub const MAX_DELAY: Duration = Duration::from_secs(4);

/// The full-jitter backoff before retry number `retry` (0-based): a uniformly random wait in
/// `[0, min(MAX_DELAY, BASE_DELAY · 2^retry)]`; `random` is any 64-bit random value.
pub fn backoff(retry: u32, random: u64) -> Duration {
    let ceiling = BASE_DELAY
        .saturating_mul(1u32 << retry.min(16))
        .min(MAX_DELAY);
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(fraction)
}

/// A 64-bit random value for jitter.
pub fn jitter_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// Parses `Retry-After`: whole seconds, an HTTP date, or an ISO-8601 date; the wait from `now`
/// (a date in the past is no wait). `None` when unparseable.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop and report the failure.
    GiveUp,
}

/// Decides whether to retry after attempt number `attempt` (1-based) failed, given the wait
/// the answer asks for (`Retry-After`, or the backoff) and the time `left` before the caller's
/// deadline. A wait that does not fit, with time for one more attempt, is a give-up.
pub fn decide(attempt: u32, wait: Duration, left: Duration, min_attempt_time: Duration) -> Next {
    if attempt >= MAX_ATTEMPTS {
        return Next::GiveUp;
    }
    match left.checked_sub(wait) {
        Some(rest) if rest >= min_attempt_time => Next::RetryAfter(wait),
        _ => Next::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_after_in_all_three_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("2026-11-27T10:01:00Z", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("2026-11-27T09:00:00Z", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn waits_that_do_not_fit_the_deadline_give_up() {
        let min = Duration::from_millis(500);
        assert_eq!(
            decide(1, Duration::from_secs(1), Duration::from_secs(5), min),
            Next::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            decide(1, Duration::from_secs(5), Duration::from_secs(5), min),
            Next::GiveUp
        );
        assert_eq!(
            decide(MAX_ATTEMPTS, Duration::ZERO, Duration::from_secs(60), min),
            Next::GiveUp
        );
    }

    proptest! {
        #[test]
        fn backoff_stays_within_its_ceiling(retry in 0u32..40, random in any::<u64>()) {
            let wait = backoff(retry, random);
            let ceiling = BASE_DELAY.saturating_mul(1u32 << retry.min(16)).min(MAX_DELAY);
            prop_assert!(wait <= ceiling);
        }

        #[test]
        fn a_retry_never_outlives_the_deadline(attempt in 1u32..10, wait_ms in 0u64..20_000, left_ms in 0u64..20_000) {
            let min = Duration::from_millis(300);
            if let Next::RetryAfter(w) = decide(attempt, Duration::from_millis(wait_ms), Duration::from_millis(left_ms), min) {
                prop_assert!(w + min <= Duration::from_millis(left_ms));
                prop_assert!(attempt < MAX_ATTEMPTS);
            }
        }

        #[test]
        fn numeric_retry_after_round_trips(seconds in 0u64..1_000_000) {
            prop_assert_eq!(parse_retry_after(&seconds.to_string(), Utc::now()), Some(Duration::from_secs(seconds)));
        }
    }
}
