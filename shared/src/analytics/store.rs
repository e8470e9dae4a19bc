//! The analytics concept's ports: what the processor writes ([`AnalyticsWriter`]: idempotency
//! claims of the events that are not meeting figures, the records meeting events leave on their
//! instance, and the settle that adds an instance's figures to its day) and what the analytics
//! API reads ([`AnalyticsReader`]: per-day and per-host-per-day figures, recent meetings), all
//! within an [`Owner`]'s namespace.

use chrono::NaiveDate;
use serde::Serialize;

use super::chunks::Delivered;
use super::event::Instance;
use super::settle::{Contribution, Counters, Peaks, Recorded};
use super::timeline::Point;
use crate::owner::Owner;
use crate::store::StoreError;
use crate::store::item::Item;

/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_SECS: i64 = 7 * 86_400;
/// How long participant points are kept: a participant event later than this after its
/// meeting's end is not counted (its instance can no longer be settled again exactly).
pub const TIMELINE_TTL_SECS: i64 = 90 * 86_400;
/// How long an instance's record is kept (its settled figures and its place among the recent
/// meetings): longer than the analytics API's longest range.
pub const INSTANCE_TTL_SECS: i64 = 400 * 86_400;

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

/// What a meeting event left on its instance, as the next step needs it: whether it ended and
/// until when a settle is already queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettleState {
    /// `meeting.ended` was recorded.
    pub ended: bool,
    /// A settle is queued to run at this time (epoch seconds; 0: none).
    pub settle_due: i64,
}

/// A meeting instance as a settle reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// The instance (meeting, uuid, host, topic, start).
    pub instance: Instance,
    /// What its events recorded.
    pub recorded: Recorded,
    /// What its last settle added to the day (zero before the first).
    pub rolled: Contribution,
    /// The day and host it was added to at its first settle (kept for later settles).
    pub rolled_to: Option<(NaiveDate, String)>,
    /// Write version of the settled state (0: never settled).
    pub version: i64,
}

impl InstanceRecord {
    /// The day and host its figures belong to.
    pub fn day_and_host(&self) -> (NaiveDate, String) {
        self.rolled_to
            .clone()
            .unwrap_or_else(|| (day_of(&self.instance), host_key(&self.instance.host_id)))
    }
}

/// A day item's bounded peak list with its version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredPeaks {
    /// The list.
    pub peaks: Peaks,
    /// Version of the list (0: none stored).
    pub version: i64,
}

/// A peak list to store with a settle, conditioned on the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeaksChange {
    /// The new list.
    pub peaks: Peaks,
    /// The version it was computed from.
    pub expected_version: i64,
}

/// A day item a settle adds to: the owner's day, or, for an owner that keeps host-days
/// ([`keeps_host_days`]), a host's day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayKey {
    /// The UTC day.
    pub day: NaiveDate,
    /// The host, for a host's day.
    pub host: Option<String>,
}

/// One instance's part of a settle: its contribution now, stored on its record (conditioned on
/// the version it was read at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSettle {
    /// The instance as it was read.
    pub record: InstanceRecord,
    /// What it contributes now.
    pub contribution: Contribution,
}

/// One day item's part of a settle: the counters to add and its peak list, when it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChange {
    /// Which day item.
    pub key: DayKey,
    /// What its counters gain.
    pub delta: Counters,
    /// Its peak list, when it changes.
    pub peaks: Option<PeaksChange>,
}

/// Everything one settle writes, in one transaction: the settled instances of one owner (one or
/// several of a batch's) and the day items their figures move.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settle {
    /// The instances whose contribution changed.
    pub instances: Vec<InstanceSettle>,
    /// The day items that change.
    pub days: Vec<DayChange>,
}

impl Settle {
    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.days.is_empty()
    }
}

/// How a settle's write went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    /// Written.
    Applied,
    /// The instance or a peak list changed since it was read: read again and recompute.
    Moved,
    /// DynamoDB refused for contention (`TransactionConflict`, throttling): back off, retry.
    Contended(String),
    /// DynamoDB refused the request as invalid: a bug; retrying cannot help.
    Invalid(String),
}

/// Whether `owner`'s figures are also kept per host (`HOSTANALYTICS#` items). Only an owner with
/// the account-wide role sees several hosts; an owner with a user's reach owns that user's
/// meetings only ([`Owner::owns`]), so its per-host figures are its per-day figures, read from
/// the day items instead of written twice.
pub fn keeps_host_days(owner: &Owner) -> bool {
    matches!(owner.reach, crate::owner::Reach::Account)
}

/// The host key of per-host items (`unknown` for an event without a host).
pub fn host_key(host_id: &str) -> String {
    if host_id.is_empty() {
        "unknown".to_owned()
    } else {
        host_id.to_owned()
    }
}

/// The key an instance goes by in a day's peak list.
pub fn peak_key(uuid: &str) -> String {
    crate::store::item::digest(uuid)[..16].to_owned()
}

/// The peak list of a stored day item.
pub fn peaks_of(item: &Item) -> Peaks {
    let top = item
        .get("peaks")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse::<i64>().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    Peaks {
        top,
        floor: crate::store::item::number(item, "peaks_floor").unwrap_or(0),
    }
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
        // The bounded peak list (`peaks`, `peaks_floor`); items written before it carry one
        // `peak_{hash}` per meeting instead.
        let legacy = item
            .iter()
            .filter(|(k, _)| k.starts_with("peak_"))
            .filter_map(|(_, v)| v.as_n().ok()?.parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        let peak = peaks_of(item).peak().max(legacy);
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
    /// Claims event `dedup` for `owner` until `now + lease` (events other than meeting figures).
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
    /// Marks a claim completed.
    fn complete_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records participant events as points of their instance, several to an item
    /// ([`super::chunks`]); answers how many were not recorded before (a chunk already stored
    /// is its deliveries' idempotency record).
    fn record_points(
        &self,
        owner: &Owner,
        uuid: &str,
        points: &[Delivered],
        now: i64,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    /// Records `meeting.started` on its instance; answers the instance's settle state.
    fn record_started(
        &self,
        owner: &Owner,
        instance: &Instance,
        now: i64,
    ) -> impl Future<Output = Result<SettleState, StoreError>> + Send;
    /// Records `meeting.ended` (at `end`) on its instance, with a settle queued for `settle_due`.
    fn record_ended(
        &self,
        owner: &Owner,
        instance: &Instance,
        end: i64,
        settle_due: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The instance's settle state (`None`: nothing recorded); may be slightly stale.
    fn settle_state(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> impl Future<Output = Result<Option<SettleState>, StoreError>> + Send;
    /// Notes that a settle of the instance is queued for `due`.
    fn mark_settle_due(
        &self,
        owner: &Owner,
        uuid: &str,
        due: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The instance's record and all of its points, read consistently.
    fn instance_for_settle(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> impl Future<Output = Result<Option<(InstanceRecord, Vec<Point>)>, StoreError>> + Send;
    /// The peak list of a day item, read consistently (a peak that changes nothing on a stale
    /// list would be lost, since an unchanged list is neither written nor checked).
    fn day_peaks(
        &self,
        owner: &Owner,
        key: &DayKey,
    ) -> impl Future<Output = Result<StoredPeaks, StoreError>> + Send;
    /// Writes a settle in one transaction: each instance's new contribution (conditioned on the
    /// version it was read at), the counters' deltas on the day items, and the peak lists that
    /// change (conditioned on theirs).
    fn apply_settle(
        &self,
        owner: &Owner,
        settle: &Settle,
    ) -> impl Future<Output = Result<SettleOutcome, StoreError>> + Send;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::Reach;
    use crate::owner::tests::user_owner;

    #[test]
    fn only_an_account_wide_owner_keeps_figures_per_host() {
        let user = user_owner("t", "u1");
        assert!(!keeps_host_days(&user), "its only host is its user");
        let account = Owner {
            reach: Reach::Account,
            ..user
        };
        assert!(keeps_host_days(&account));
    }
}
