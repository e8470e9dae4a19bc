//! The meetings concept's port: a connection's stored meetings (the copy served without
//! spending Zoom's quota), the status webhooks gave them, and when they went stale.

use super::view::{Meeting, MeetingStatus};
use crate::owner::Owner;
use crate::store::StoreError;

/// A stored meeting.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeeting {
    /// The meeting, with its effective status ([`super::view::effective_status`]).
    pub meeting: Meeting,
    /// Last fetched from Zoom (epoch seconds; 0 once marked stale).
    pub fetched_at: i64,
    /// A webhook settled its status (completed or cancelled) and nothing changed since.
    pub settled: bool,
}

/// A connection's meetings. Only meetings the owner owns are ever stored (callers check
/// [`Owner::owns`] first), so a stored meeting is one the owner may see. A Zoom copy and the
/// webhook status are kept apart, so refreshing the copy never loses what webhooks said.
pub trait MeetingStore: Send + Sync {
    /// One stored meeting.
    fn get(
        &self,
        owner: &Owner,
        id: i64,
    ) -> impl Future<Output = Result<Option<StoredMeeting>, StoreError>> + Send;
    /// Stores Zoom's full copy of a meeting, fetched at `fetched_at` (the webhook status stays).
    fn save(
        &self,
        owner: &Owner,
        meeting: &Meeting,
        fetched_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records a webhook's status for a stored meeting, as of `at_ms` (when it happened): an
    /// older status than the one stored is ignored, so deliveries out of order cannot undo a
    /// later change. `false` (and nothing written) when it is not stored or is older.
    fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
        at_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Marks a stored meeting stale (Zoom says it changed): the next read asks Zoom. `false`
    /// when it is not stored.
    fn mark_stale(
        &self,
        owner: &Owner,
        id: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
