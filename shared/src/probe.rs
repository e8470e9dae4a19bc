//! Dependency probes: the port a health check runs against each dependency.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Why a dependency check failed, in words safe to show a caller (no secrets, no URLs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeFailure(pub String);

/// A dependency that can say whether it is usable.
pub trait Probe: Send + Sync {
    /// The dependency's short name (`table`, `queue`).
    fn name(&self) -> &'static str;
    /// Checks the dependency once.
    fn probe(&self) -> impl Future<Output = Result<(), ProbeFailure>> + Send;
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    /// The dependency's name.
    pub name: &'static str,
    /// `ok` or `error`.
    pub status: &'static str,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ProbeReport {
    /// Whether the dependency is usable.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Runs `probe`, giving up after `timeout`.
pub async fn run<P: Probe>(probe: &P, timeout: Duration) -> ProbeReport {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, probe.probe()).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(failure)) => Some(failure.0),
        Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
    };
    ProbeReport {
        name: probe.name(),
        status: if error.is_none() { "ok" } else { "error" },
        latency_ms,
        error,
    }
}

/// An in-memory probe for unit tests: answers with a fixed result after an optional delay.
#[derive(Debug, Clone)]
pub struct FakeProbe {
    /// The name it reports.
    pub name: &'static str,
    /// The failure it reports, if any.
    pub failure: Option<String>,
    /// How long it takes.
    pub delay: Duration,
}

impl Probe for FakeProbe {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn probe(&self) -> Result<(), ProbeFailure> {
        tokio::time::sleep(self.delay).await;
        match &self.failure {
            Some(reason) => Err(ProbeFailure(reason.clone())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(failure: Option<&str>, delay_ms: u64) -> FakeProbe {
        FakeProbe {
            name: "table",
            failure: failure.map(str::to_owned),
            delay: Duration::from_millis(delay_ms),
        }
    }

    #[tokio::test]
    async fn reports_success_failure_and_timeout() {
        let ok = run(&fake(None, 0), Duration::from_secs(1)).await;
        assert!(ok.is_ok() && ok.status == "ok" && ok.name == "table");

        let failed = run(&fake(Some("not found"), 0), Duration::from_secs(1)).await;
        assert_eq!(failed.error.as_deref(), Some("not found"));
        assert_eq!(failed.status, "error");

        let slow = run(&fake(None, 500), Duration::from_millis(20)).await;
        assert_eq!(slow.error.as_deref(), Some("no answer within 20 ms"));
    }
}
