//! Per-connection caches of Zoom list pages, so a dashboard reload does not spend Zoom's
//! quota: one [`PageCache`] port with a [`Family`] per kind of page.
//!
//! - [`Family::MeetingLists`]: served for 60 s unless the connection's meetings changed after
//!   the page was fetched (a change marker written by our create, update and delete and by
//!   webhook-driven status changes; the fetch time is taken *before* the Zoom call, so a change
//!   racing a fetch always wins).
//! - [`Family::Users`]: served for 120 s.
//!
//! A cache is an optimisation: its failures are misses, never errors of the route it serves
//! (handlers log and count them, see [`cache_write_failed`]), and a page too large for one item
//! is simply not stored ([`MAX_PAGE_BYTES`]).

pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;

use serde_json::Value;

use crate::metrics::Metrics;
use crate::owner::Owner;
use crate::store::StoreError;

pub use dynamo::DynamoPageCache;

/// Largest page stored (DynamoDB items are at most 400 KB; the rest is the key and times).
pub const MAX_PAGE_BYTES: usize = 300 * 1024;

/// A kind of cached page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `GET /api/zoom/meetings` pages.
    MeetingLists,
    /// `GET /api/zoom/users` pages.
    Users,
}

impl Family {
    /// How long a page is served, in seconds.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Self::MeetingLists => 60,
            Self::Users => 120,
        }
    }

    /// The family's sort-key prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::MeetingLists => "PAGE#MEETINGS#",
            Self::Users => "PAGE#USERS#",
        }
    }
}

/// Whether a page fetched at `fetched_ms` may be served at `now_ms` for `family`, given the
/// last change at `changed_ms` (if any).
pub fn is_fresh(family: Family, fetched_ms: i64, changed_ms: Option<i64>, now_ms: i64) -> bool {
    let young =
        now_ms.saturating_sub(fetched_ms) < family.ttl_secs() * 1000 && fetched_ms <= now_ms;
    young && changed_ms.is_none_or(|changed| fetched_ms > changed)
}

/// Cached pages of a connection.
pub trait PageCache: Send + Sync {
    /// The page for Zoom query `query`, if it may be served at `now_ms`.
    fn get(
        &self,
        owner: &Owner,
        family: Family,
        query: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<Value>, StoreError>> + Send;
    /// Stores `page`, fetched at `fetched_ms` (taken before the Zoom call). A page over
    /// [`MAX_PAGE_BYTES`] is not stored (`Ok(false)`).
    fn put(
        &self,
        owner: &Owner,
        family: Family,
        query: &str,
        page: &Value,
        fetched_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records that the family's pages changed at `now_ms`: no page fetched before is served.
    fn changed(
        &self,
        owner: &Owner,
        family: Family,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Logs and counts a cache write that failed (the read it served still succeeds).
pub fn cache_write_failed(metrics: &Metrics, family: Family, error: &StoreError) {
    tracing::warn!(?family, %error, "cache write failed; the page is served uncached");
    metrics.count("CacheWriteFailed", 1.0, &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_young_page_with_no_change_is_served() {
        assert!(is_fresh(Family::MeetingLists, NOW - 1, None, NOW));
        assert!(is_fresh(Family::MeetingLists, NOW - 59_999, None, NOW));
        assert!(is_fresh(Family::Users, NOW - 119_999, None, NOW));
    }

    #[test]
    fn a_page_as_old_as_the_limit_is_not() {
        assert!(!is_fresh(Family::MeetingLists, NOW - 60_000, None, NOW));
        assert!(!is_fresh(Family::Users, NOW - 120_000, None, NOW));
        assert!(!is_fresh(Family::Users, i64::MIN, None, NOW));
    }

    #[test]
    fn a_change_at_or_after_the_fetch_wins() {
        let f = Family::MeetingLists;
        assert!(!is_fresh(f, NOW - 10, Some(NOW - 10), NOW));
        assert!(!is_fresh(f, NOW - 10, Some(NOW - 5), NOW));
        assert!(is_fresh(f, NOW - 10, Some(NOW - 11), NOW));
    }

    #[test]
    fn a_page_from_the_future_is_not_trusted() {
        assert!(!is_fresh(Family::MeetingLists, NOW + 1, None, NOW));
        assert!(!is_fresh(Family::MeetingLists, i64::MAX, None, NOW));
    }
}
