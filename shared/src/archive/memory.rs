//! An in-memory [`ArchiveStore`] for unit tests (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{ArchiveRecord, ArchiveRequest, ArchiveStatus, ArchiveStore, STALE_SECS};
use crate::owner::Owner;
use crate::store::StoreError;

/// Records by (namespace, file id).
#[derive(Debug, Default)]
pub struct MemoryArchive {
    /// The records.
    pub records: Mutex<HashMap<(String, String), ArchiveRecord>>,
}

impl ArchiveStore for MemoryArchive {
    async fn get(&self, owner: &Owner, file_id: &str) -> Result<Option<ArchiveRecord>, StoreError> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(owner.namespace(), file_id.to_owned()))
            .cloned())
    }

    async fn request(
        &self,
        owner: &Owner,
        request: &ArchiveRequest<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let key = (owner.namespace(), request.file_id.to_owned());
        let again = records.get(&key).is_none_or(|r| {
            r.status == ArchiveStatus::Failed
                || (r.status != ArchiveStatus::Archived && r.updated_at < now - STALE_SECS)
        });
        if again {
            records.insert(
                key,
                ArchiveRecord {
                    status: ArchiveStatus::Pending,
                    s3_key: None,
                    size: None,
                    host_id: request.host_id.to_owned(),
                    file_type: request.file_type.to_owned(),
                    updated_at: now,
                },
            );
        }
        Ok(again)
    }

    async fn set(
        &self,
        owner: &Owner,
        file_id: &str,
        status: ArchiveStatus,
        stored: Option<(&str, u64)>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let Some(record) = records.get_mut(&(owner.namespace(), file_id.to_owned())) else {
            return Ok(false);
        };
        record.status = status;
        record.updated_at = now;
        if let Some((key, size)) = stored {
            record.s3_key = Some(key.to_owned());
            record.size = Some(size);
        }
        Ok(true)
    }
}
