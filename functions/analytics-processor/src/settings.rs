//! The processor's tunables from its environment, each checked: a value that is set but
//! invalid stops the function at start with the variable's name, never a silent default.

use std::time::Duration;

use zoom_shared::config::{ConfigError, Env};

use crate::processor::{CONCURRENCY, STOP_MARGIN};

/// The default delay between a meeting's end and its settle (AWS).
pub const SETTLE_DELAY_SECS: i32 = 60;

/// The default idempotency lease (AWS).
pub const LEASE_SECS: i64 = 60;

fn parsed<T: std::str::FromStr>(
    env: &Env,
    name: &'static str,
    default: T,
    valid: impl Fn(&T) -> bool,
    reason: &'static str,
) -> Result<T, ConfigError> {
    match env.optional(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<T>()
            .ok()
            .filter(valid)
            .ok_or(ConfigError::Invalid { name, reason }),
    }
}

/// `ZOOM_SETTLE_DELAY_SECS`: how long after a meeting's end (or a late event) it settles.
pub fn settle_delay(env: &Env) -> Result<i32, ConfigError> {
    parsed(
        env,
        "ZOOM_SETTLE_DELAY_SECS",
        SETTLE_DELAY_SECS,
        |s| (1..=900).contains(s),
        "must be 1 to 900 seconds (SQS's longest delay)",
    )
}

/// `ZOOM_IDEMPOTENCY_LEASE_SECS`: how long a claim holds before another worker may take over.
pub fn lease(env: &Env) -> Result<i64, ConfigError> {
    parsed(
        env,
        "ZOOM_IDEMPOTENCY_LEASE_SECS",
        LEASE_SECS,
        |s| (1..=900).contains(s),
        "must be 1 to 900 seconds",
    )
}

/// `ZOOM_PROCESSOR_CONCURRENCY`: meeting groups handled at once within a batch.
pub fn concurrency(env: &Env) -> Result<usize, ConfigError> {
    parsed(
        env,
        "ZOOM_PROCESSOR_CONCURRENCY",
        CONCURRENCY,
        |c| (1..=100).contains(c),
        "must be 1 to 100 groups",
    )
}

/// A fault injected into every settle of several instances on its jobs' first delivery (tests
/// of the fallbacks; never set in AWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleGroupFault {
    /// The group fails as an outage would: its jobs come back and settle alone.
    Retry,
    /// DynamoDB "refuses" the group as invalid: each instance is settled alone at once.
    Invalid,
}

/// `ZOOM_FAULT_SETTLE_GROUP`: `retry` or `invalid` (see [`SettleGroupFault`]); unset, none.
pub fn settle_group_fault(env: &Env) -> Result<Option<SettleGroupFault>, ConfigError> {
    match env.optional("ZOOM_FAULT_SETTLE_GROUP").map(str::trim) {
        None => Ok(None),
        Some("retry") => Ok(Some(SettleGroupFault::Retry)),
        Some("invalid") => Ok(Some(SettleGroupFault::Invalid)),
        Some(_) => Err(ConfigError::Invalid {
            name: "ZOOM_FAULT_SETTLE_GROUP",
            reason: "must be retry or invalid",
        }),
    }
}

/// `ZOOM_PROCESSOR_STOP_MARGIN_SECS`: how long before the deadline no message is started.
pub fn stop_margin(env: &Env) -> Result<Duration, ConfigError> {
    parsed(
        env,
        "ZOOM_PROCESSOR_STOP_MARGIN_SECS",
        STOP_MARGIN.as_secs_f64(),
        |s| s.is_finite() && (0.0..=900.0).contains(s),
        "must be 0 to 900 seconds",
    )
    .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn unset_values_take_the_aws_defaults() {
        let e = env(&[]);
        assert_eq!(settle_delay(&e).ok(), Some(60));
        assert_eq!(lease(&e).ok(), Some(60));
        assert_eq!(concurrency(&e).ok(), Some(CONCURRENCY));
        assert_eq!(stop_margin(&e).ok(), Some(STOP_MARGIN));
        assert_eq!(settle_group_fault(&e).ok(), Some(None), "no fault in AWS");
    }

    #[test]
    fn a_settle_group_fault_is_retry_or_invalid_and_nothing_else() {
        let fault = |v: &str| settle_group_fault(&env(&[("ZOOM_FAULT_SETTLE_GROUP", v)]));
        assert_eq!(fault("retry").ok(), Some(Some(SettleGroupFault::Retry)));
        assert_eq!(
            fault(" invalid ").ok(),
            Some(Some(SettleGroupFault::Invalid))
        );
        assert_eq!(fault("").ok(), Some(None), "empty is unset, as everywhere");
        for value in ["Retry", "yes", "1"] {
            let error = fault(value).expect_err(value).to_string();
            assert!(error.contains("ZOOM_FAULT_SETTLE_GROUP"), "{error}");
        }
    }

    #[test]
    fn valid_values_are_taken() {
        let e = env(&[
            ("ZOOM_SETTLE_DELAY_SECS", "2"),
            ("ZOOM_IDEMPOTENCY_LEASE_SECS", "3"),
            ("ZOOM_PROCESSOR_CONCURRENCY", "8"),
            ("ZOOM_PROCESSOR_STOP_MARGIN_SECS", "2.5"),
        ]);
        assert_eq!(settle_delay(&e).ok(), Some(2));
        assert_eq!(lease(&e).ok(), Some(3));
        assert_eq!(concurrency(&e).ok(), Some(8));
        assert_eq!(stop_margin(&e).ok(), Some(Duration::from_millis(2_500)));
    }

    #[test]
    fn invalid_values_stop_the_function_with_the_variables_name() {
        for value in ["abc", "-1", "0", "901", "NaN", "inf", "1e9"] {
            let e = env(&[
                ("ZOOM_SETTLE_DELAY_SECS", value),
                ("ZOOM_IDEMPOTENCY_LEASE_SECS", value),
                ("ZOOM_PROCESSOR_CONCURRENCY", value),
            ]);
            for (name, result) in [
                ("ZOOM_SETTLE_DELAY_SECS", settle_delay(&e).map(|_| ())),
                ("ZOOM_IDEMPOTENCY_LEASE_SECS", lease(&e).map(|_| ())),
                ("ZOOM_PROCESSOR_CONCURRENCY", concurrency(&e).map(|_| ())),
            ] {
                let error = result.expect_err(value).to_string();
                assert!(error.contains(name), "{value:?}: {error}");
            }
        }
        for value in ["abc", "-1", "901", "NaN", "inf", "1e9"] {
            let e = env(&[("ZOOM_PROCESSOR_STOP_MARGIN_SECS", value)]);
            let error = stop_margin(&e).expect_err(value).to_string();
            assert!(error.contains("ZOOM_PROCESSOR_STOP_MARGIN_SECS"), "{error}");
        }
        assert_eq!(
            stop_margin(&env(&[("ZOOM_PROCESSOR_STOP_MARGIN_SECS", "0")])).ok(),
            Some(Duration::ZERO),
            "no margin is a valid choice"
        );
    }
}
