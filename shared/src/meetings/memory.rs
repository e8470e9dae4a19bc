//! An in-memory [`MeetingStore`] for unit tests (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{MeetingStore, StoredMeeting};
use super::view::{Meeting, MeetingStatus};
use crate::owner::Owner;
use crate::store::StoreError;

/// Meetings by (namespace, id).
#[derive(Debug, Default)]
pub struct MemoryMeetings {
    items: Mutex<HashMap<(String, i64), StoredMeeting>>,
}

impl MemoryMeetings {
    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), StoredMeeting>> {
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
        Ok(self.items().get(&(owner.namespace(), id)).cloned())
    }

    async fn put_all(
        &self,
        owner: &Owner,
        meetings: &[Meeting],
        fetched_at: i64,
    ) -> Result<(), StoreError> {
        let mut items = self.items();
        for meeting in meetings {
            items.insert(
                (owner.namespace(), meeting.id),
                StoredMeeting {
                    meeting: meeting.clone(),
                    fetched_at,
                },
            );
        }
        Ok(())
    }

    async fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
    ) -> Result<bool, StoreError> {
        Ok(self
            .items()
            .get_mut(&(owner.namespace(), id))
            .map(|m| m.meeting.status = status)
            .is_some())
    }
}
