//! Backing off from contention within the invocation's deadline: full jitter over an
//! exponentially growing window, and never a wait that would outlive the deadline (then the
//! work is left for redelivery instead).

use std::time::{Duration, Instant};

/// The first window.
const BASE: Duration = Duration::from_millis(20);
/// The largest window.
const CAP: Duration = Duration::from_secs(2);
/// Time kept in hand before the deadline for the write that follows a wait.
pub const RESERVE: Duration = Duration::from_secs(3);

/// Retries of one piece of work.
#[derive(Debug)]
pub struct Backoff {
    attempt: u32,
    deadline: Instant,
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The window of attempt `attempt` (0-based).
pub fn window(attempt: u32) -> Duration {
    BASE.saturating_mul(1u32 << attempt.min(16)).min(CAP)
}

impl Backoff {
    /// Retries until `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Self {
            attempt: 0,
            deadline,
        }
    }

    /// How many waits so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The next wait, or `None` when it would run into the deadline.
    pub fn next_wait(&mut self) -> Option<Duration> {
        let wait = window(self.attempt).mul_f64(random_fraction());
        self.attempt += 1;
        (Instant::now() + wait + RESERVE < self.deadline).then_some(wait)
    }

    /// Waits before the next attempt; `false` when the deadline is too close to try again.
    pub async fn wait(&mut self) -> bool {
        match self.next_wait() {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_grow_then_stop_at_the_cap() {
        assert_eq!(window(0), BASE);
        assert_eq!(window(3), BASE * 8);
        assert_eq!(window(30), CAP);
    }

    #[test]
    fn waits_are_jittered_inside_the_window_and_stop_before_the_deadline() {
        let mut backoff = Backoff::until(Instant::now() + Duration::from_secs(3600));
        let waits: Vec<Duration> = (0..6).filter_map(|_| backoff.next_wait()).collect();
        assert_eq!(waits.len(), 6);
        for (i, w) in waits.iter().enumerate() {
            assert!(*w <= window(i as u32), "{i}: {w:?}");
        }
        let far = Instant::now() + Duration::from_secs(3600);
        let first_waits: std::collections::HashSet<Duration> = (0..20)
            .filter_map(|_| Backoff::until(far).next_wait())
            .collect();
        assert!(first_waits.len() > 1, "jittered: {first_waits:?}");
        let mut late = Backoff::until(Instant::now() + RESERVE);
        assert_eq!(late.next_wait(), None, "no wait that outlives the deadline");
    }
}
