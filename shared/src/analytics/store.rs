//! The analytics concept's ports: what the processor writes for an event ([`AnalyticsWriter`]:
//! the per-event idempotency claim, a meeting instance's state and its one-transaction change)
//! and what the analytics API reads ([`AnalyticsReader`]: per-day and per-host-per-day figures,
//! recent meetings), all within an [`Owner`]'s namespace.

use chrono::NaiveDate;
use serde::Serialize;

use super::event::Instance;
use super::timeline::{Figures, Point};
use crate::owner::Owner;
use crate::store::StoreError;

/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_SECS: i64 = 7 * 86_400;
/// How long timeline points are kept.
pub const TIMELINE_TTL_SECS: i64 = 90 * 86_400;

/// The outcome of claiming an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours to process; the attempt number.
    Claimed(i64),
    /// Already completed: skip.
    Duplicate,
    /// Another worker holds it: retry later.
    Busy,
}

/// The stored state of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceMeta {
    /// Write version.
    pub version: i64,
    /// Figures stored.
    pub figures: Figures,
    /// End, once ended (epoch seconds).
    pub end: Option<i64>,
    /// `meeting.started` counted.
    pub started_counted: bool,
    /// `meeting.ended` counted.
    pub ended_counted: bool,
}

/// Counter increments of one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Meetings started.
    pub meetings_started: i64,
    /// Meetings completed.
    pub meetings_completed: i64,
    /// Meeting minutes.
    pub meeting_minutes: i64,
    /// Participant joins.
    pub participant_joins: i64,
    /// Participant seconds.
    pub participant_seconds: i64,
}

/// Everything one event changes for an instance.
#[derive(Debug, Clone)]
pub struct InstanceChange {
    /// The instance.
    pub instance: Instance,
    /// The stored version it was computed from (`None`: no instance item yet).
    pub expected_version: Option<i64>,
    /// The participant point to add, with its delivery key.
    pub point: Option<(String, Point)>,
    /// New figures.
    pub figures: Figures,
    /// End, if known.
    pub end: Option<i64>,
    /// Increments.
    pub add: Counters,
    /// Whether started/ended are now counted.
    pub started_counted: bool,
    /// Whether ended is now counted.
    pub ended_counted: bool,
}

/// The UTC day of an instance.
pub fn day_of(instance: &Instance) -> NaiveDate {
    instance.start_time.date_naive()
}

/// One day's aggregate, as the analytics API reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DayFigures {
    /// `yyyy-mm-dd`.
    pub date: String,
    /// Meetings started.
    pub meetings_started: i64,
    /// Meetings completed.
    pub meetings_completed: i64,
    /// Minutes of completed meetings.
    pub total_meeting_minutes: i64,
    /// Participant joins.
    pub participant_joins: i64,
    /// Participant minutes.
    pub participant_minutes: i64,
    /// Most participants at once in one meeting.
    pub peak_concurrent_participants: i64,
    /// Average minutes of a completed meeting.
    pub average_duration_minutes: f64,
    /// Host (per-host items only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Participant seconds (kept exact; minutes are derived).
    #[serde(skip)]
    pub participant_seconds: i64,
}

impl DayFigures {
    /// Figures from a stored day item.
    pub fn from_item(item: &crate::store::item::Item, date: String, host: Option<String>) -> Self {
        let num = |name: &str| crate::store::item::number(item, name).unwrap_or(0);
        let peak = item
            .iter()
            .filter(|(k, _)| k.starts_with("peak_"))
            .filter_map(|(_, v)| v.as_n().ok()?.parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        let mut day = Self {
            date,
            meetings_started: num("meetings_started"),
            meetings_completed: num("meetings_completed"),
            total_meeting_minutes: num("meeting_minutes"),
            participant_joins: num("participant_joins"),
            participant_seconds: num("participant_seconds"),
            peak_concurrent_participants: peak,
            host_id: host,
            ..Self::default()
        };
        day.finish();
        day
    }

    /// Derives minutes and the average from the exact counters.
    pub fn finish(&mut self) {
        self.participant_minutes = self.participant_seconds / 60;
        self.average_duration_minutes = if self.meetings_completed > 0 {
            (self.total_meeting_minutes as f64 / self.meetings_completed as f64 * 10.0).round()
                / 10.0
        } else {
            0.0
        };
    }

    /// Adds another day's counters (peak: the larger).
    pub fn absorb(&mut self, other: &DayFigures) {
        self.meetings_started += other.meetings_started;
        self.meetings_completed += other.meetings_completed;
        self.total_meeting_minutes += other.total_meeting_minutes;
        self.participant_joins += other.participant_joins;
        self.participant_seconds += other.participant_seconds;
        self.peak_concurrent_participants = self
            .peak_concurrent_participants
            .max(other.peak_concurrent_participants);
        self.finish();
    }
}

/// What the processor writes.
pub trait AnalyticsWriter: Send + Sync {
    /// Claims event `dedup` for `owner` until `now + lease`.
    fn claim_event(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        now: i64,
        lease: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Gives a claim up (after a failure) so a redelivery can claim it at once.
    fn release_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks a claim completed (events whose effects are idempotent on their own).
    fn complete_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// An instance's stored state and timeline.
    fn instance_state(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> impl Future<Output = Result<(Option<InstanceMeta>, Vec<Point>), StoreError>> + Send;
    /// Applies one event's change and completes its claim, atomically. `Ok(false)` when the
    /// instance moved meanwhile (another event of it won): retry.
    fn apply_instance_change(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        change: &InstanceChange,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records a deauthorization for compliance (kept; no TTL).
    fn record_deauthorization(
        &self,
        record: &Deauthorization<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A deauthorization, as recorded for compliance.
#[derive(Debug, Clone)]
pub struct Deauthorization<'a> {
    /// The Zoom user who removed the app.
    pub zoom_user_id: &'a str,
    /// The account.
    pub account_id: &'a str,
    /// Zoom's `deauthorization_time`.
    pub at: &'a str,
    /// Connections deleted because of it.
    pub connections_deleted: usize,
    /// Connections kept because they were made after it.
    pub connections_kept: usize,
    /// When we recorded it.
    pub now: i64,
}

/// What the analytics API reads.
pub trait AnalyticsReader: Send + Sync {
    /// Per-day aggregates from `from` to `to`.
    fn days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DayFigures>, StoreError>> + Send;
    /// Per-host per-day aggregates from `from` to `to`.
    fn host_days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DayFigures>, StoreError>> + Send;
    /// The most recently ended meetings, ending between `from` and `to` (inclusive days).
    fn recent_meetings(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
        limit: i32,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, StoreError>> + Send;
}
