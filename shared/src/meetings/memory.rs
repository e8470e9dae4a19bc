//! An in-memory [`MeetingStore`] for unit tests (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{MeetingStore, StoredMeeting};
use super::view::{Meeting, MeetingStatus, effective_status};
use crate::owner::Owner;
use crate::store::StoreError;

/// One stored meeting: Zoom's copy, when fetched, the webhook status (and when it happened),
/// stale or not.
type Entry = (Meeting, i64, Option<(MeetingStatus, i64)>, bool);

/// Meetings by (namespace, id).
#[derive(Debug, Default)]
pub struct MemoryMeetings {
    items: Mutex<HashMap<(String, i64), Entry>>,
}

impl MemoryMeetings {
    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), Entry>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many meetings the owner has stored.
    pub fn count(&self, owner: &Owner) -> usize {
        let ns = owner.namespace();
        self.items().keys().filter(|(n, _)| *n == ns).count()
    }
}

impl MeetingStore for MemoryMeetings {
    async fn get(&self, owner: &Owner, id: i64) -> Result<Option<StoredMeeting>, StoreError> {
        Ok(self
            .items()
            .get(&(owner.namespace(), id))
            .map(|(m, at, event, stale)| {
                let mut meeting = m.clone();
                meeting.status = effective_status(m.status, event.map(|(s, _)| s), m.meeting_type);
                StoredMeeting {
                    settled: meeting.status.is_final() && !stale,
                    meeting,
                    fetched_at: if *stale { 0 } else { *at },
                }
            }))
    }

    async fn save(
        &self,
        owner: &Owner,
        meeting: &Meeting,
        fetched_at: i64,
    ) -> Result<(), StoreError> {
        let mut items = self.items();
        let event = items
            .get(&(owner.namespace(), meeting.id))
            .and_then(|(_, _, e, _)| *e);
        items.insert(
            (owner.namespace(), meeting.id),
            (meeting.clone(), fetched_at, event, false),
        );
        Ok(())
    }

    async fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut items = self.items();
        let Some(entry) = items.get_mut(&(owner.namespace(), id)) else {
            return Ok(false);
        };
        if entry.2.is_some_and(|(_, at)| at > at_ms) {
            return Ok(false);
        }
        entry.2 = Some((status, at_ms));
        entry.3 = false;
        Ok(true)
    }

    async fn mark_stale(&self, owner: &Owner, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .items()
            .get_mut(&(owner.namespace(), id))
            .map(|entry| entry.3 = true)
            .is_some())
    }
}
