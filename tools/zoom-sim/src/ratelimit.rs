//! Zoom's rate limits: per-label limits per account (per second, or per minute for
//! Resource-intensive), and the daily limit of meeting create/update calls per host.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode};

use crate::config::Plan;
use crate::http::{Reply, zoom_error};

/// Zoom's rate-limit labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// Light.
    Light,
    /// Medium.
    Medium,
    /// Heavy.
    Heavy,
    /// Resource-intensive.
    ResourceIntensive,
}

impl Label {
    /// The label as Zoom's `X-RateLimit-Category` names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Light => "Light",
            Self::Medium => "Medium",
            Self::Heavy => "Heavy",
            Self::ResourceIntensive => "Resource-intensive",
        }
    }

    /// Requests allowed per window, and the window, on `plan`.
    pub fn limit(self, plan: Plan) -> (u32, Duration) {
        let second = Duration::from_secs(1);
        match (plan, self) {
            (Plan::Free, Self::Light) => (4, second),
            (Plan::Free, Self::Medium) => (2, second),
            (Plan::Free, Self::Heavy) => (1, second),
            (Plan::Free, Self::ResourceIntensive) => (1, Duration::from_secs(60)),
            (Plan::Pro, Self::Light) => (30, second),
            (Plan::Pro, Self::Medium) => (20, second),
            (Plan::Pro, Self::Heavy) => (10, second),
            (Plan::Pro, Self::ResourceIntensive) => (10, Duration::from_secs(60)),
            (Plan::Business, Self::Light) => (80, second),
            (Plan::Business, Self::Medium) => (60, second),
            (Plan::Business, Self::Heavy) => (40, second),
            (Plan::Business, Self::ResourceIntensive) => (20, Duration::from_secs(60)),
        }
    }
}

/// Fixed windows per label.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: HashMap<Label, (Instant, u32)>,
}

/// The outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed; `remaining` in the window of `limit`.
    Allowed {
        /// Limit per window.
        limit: u32,
        /// Left in this window.
        remaining: u32,
    },
    /// Over the limit; retry after this many seconds.
    Limited {
        /// Limit per window.
        limit: u32,
        /// Seconds until the window resets (at least 1).
        retry_after: u64,
    },
}

impl RateLimiter {
    /// Counts one request of `label` at `now`.
    pub fn check(&mut self, label: Label, plan: Plan, now: Instant) -> Verdict {
        let (limit, window) = label.limit(plan);
        let entry = self.windows.entry(label).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let left = window.saturating_sub(now.duration_since(entry.0));
            return Verdict::Limited {
                limit,
                retry_after: left.as_secs_f64().ceil().max(1.0) as u64,
            };
        }
        entry.1 += 1;
        Verdict::Allowed {
            limit,
            remaining: limit - entry.1,
        }
    }
}

/// Adds Zoom's rate-limit headers to an answer.
pub fn add_headers(reply: &mut Reply, label: Label, limit_type: &str, limit: u32, remaining: u32) {
    let headers = reply.headers_mut();
    headers.insert(
        "x-ratelimit-category",
        HeaderValue::from_static(label.name()),
    );
    if let Ok(v) = HeaderValue::from_str(limit_type) {
        headers.insert("x-ratelimit-type", v);
    }
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
}

/// Zoom's per-second (QPS) 429.
pub fn qps_limited(label: Label, limit: u32, retry_after: u64) -> Reply {
    let mut reply = zoom_error(
        StatusCode::TOO_MANY_REQUESTS,
        429,
        "You have reached the maximum per-second rate limit for this API. Try again later.",
    );
    add_headers(&mut reply, label, "QPS", limit, 0);
    reply
        .headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after));
    reply
}

/// Zoom's daily-limit 429: `Retry-After` is the HTTP date of the next UTC midnight.
pub fn daily_limited(label: Label, limit: u32, now: DateTime<Utc>) -> Reply {
    let mut reply = zoom_error(
        StatusCode::TOO_MANY_REQUESTS,
        429,
        &format!(
            "You have exceeded the daily rate limit of ({limit}) for Create/Update meeting API requests permitted for this particular user. You may resume these requests at GMT 00:00:00."
        ),
    );
    add_headers(&mut reply, label, "Daily-limit", limit, 0);
    let midnight = (now + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    if let Ok(v) = HeaderValue::from_str(&midnight.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        reply.headers_mut().insert("retry-after", v);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_allows_the_limit_then_limits_then_resets() {
        let mut limiter = RateLimiter::default();
        let start = Instant::now();
        for _ in 0..2 {
            assert!(matches!(
                limiter.check(Label::Medium, Plan::Free, start),
                Verdict::Allowed { .. }
            ));
        }
        assert_eq!(
            limiter.check(Label::Medium, Plan::Free, start),
            Verdict::Limited {
                limit: 2,
                retry_after: 1
            }
        );
        let later = start + Duration::from_millis(1001);
        assert!(matches!(
            limiter.check(Label::Medium, Plan::Free, later),
            Verdict::Allowed { remaining: 1, .. }
        ));
    }
}
