//! The meetings concept's port: a connection's stored meetings (the copy served without
//! spending Zoom's quota) and their status as webhooks settle it.

use super::view::{Meeting, MeetingStatus};
use crate::owner::Owner;
use crate::store::StoreError;

/// A stored meeting and when it was last fetched from Zoom (epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeeting {
    /// The meeting.
    pub meeting: Meeting,
    /// Last fetched from Zoom.
    pub fetched_at: i64,
}

/// A connection's meetings. Only meetings the owner owns are ever stored (callers check
/// [`Owner::owns`] first), so a stored meeting is one the owner may see.
pub trait MeetingStore: Send + Sync {
    /// One stored meeting.
    fn get(
        &self,
        owner: &Owner,
        id: i64,
    ) -> impl Future<Output = Result<Option<StoredMeeting>, StoreError>> + Send;
    /// Stores meetings fetched at `fetched_at`.
    fn put_all(
        &self,
        owner: &Owner,
        meetings: &[Meeting],
        fetched_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Sets a stored meeting's status; `false` (and nothing written) when it is not stored.
    fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
