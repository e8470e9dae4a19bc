//! The archive: recording files copied from Zoom into the recordings bucket, one record per
//! file in the connection's partition, and the jobs that copy them. Each record and object
//! belongs to the [`Owner`] whose namespace it lives in; a record is only ever created for a
//! file its owner owns (checked against the recording's host before a job is queued).

pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;

use serde::{Deserialize, Serialize};

use crate::owner::Owner;
use crate::store::StoreError;

pub use dynamo::DynamoArchive;

/// A request to copy one recording file from Zoom into the recordings bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveJob {
    /// Whose file it is (its token downloads it; its namespace holds the record and object).
    pub owner: Owner,
    /// The meeting instance UUID.
    pub meeting_uuid: String,
    /// The Zoom file id.
    pub file_id: String,
}

/// Where an archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveStatus {
    /// Queued.
    Pending,
    /// Copying.
    Archiving,
    /// In the bucket.
    Archived,
    /// The last attempt failed.
    Failed,
}

/// An archive record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRecord {
    /// Status.
    pub status: ArchiveStatus,
    /// Object key, once archived.
    pub s3_key: Option<String>,
    /// Bytes, once archived.
    pub size: Option<u64>,
    /// The recording's host (checked again before a download is presigned).
    pub host_id: String,
    /// Zoom's file type (`MP4`, `M4A`, `TRANSCRIPT`, …): the download's name and type.
    pub file_type: String,
    /// When the status last changed (epoch seconds).
    pub updated_at: i64,
}

/// What an archive request records about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRequest<'a> {
    /// The meeting instance UUID.
    pub meeting_uuid: &'a str,
    /// The Zoom file id.
    pub file_id: &'a str,
    /// The recording's host.
    pub host_id: &'a str,
    /// Zoom's file type.
    pub file_type: &'a str,
}

/// Pending or archiving records older than this are requeued on the next download request.
pub const STALE_SECS: i64 = 900;

/// The object key of a file: under the owner's prefix, per instance.
pub fn object_key(owner: &Owner, meeting_uuid: &str, file_id: &str) -> String {
    use crate::store::item::digest;
    format!(
        "{}{}/{}",
        owner.object_prefix(),
        digest(meeting_uuid),
        digest(file_id)
    )
}

/// A connection's archive records.
pub trait ArchiveStore: Send + Sync {
    /// The record of a file.
    fn get(
        &self,
        owner: &Owner,
        file_id: &str,
    ) -> impl Future<Output = Result<Option<ArchiveRecord>, StoreError>> + Send;
    /// Records that an archive was requested: creates the record, or re-requests a failed or
    /// stale one. Returns whether a job should be queued (false: one is already in flight or
    /// the file is archived).
    fn request(
        &self,
        owner: &Owner,
        request: &ArchiveRequest<'_>,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Sets a record's status (and, when archived, where and how big); `false` when the record
    /// is gone (its connection was purged): nothing is written then.
    fn set(
        &self,
        owner: &Owner,
        file_id: &str,
        status: ArchiveStatus,
        stored: Option<(&str, u64)>,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Where archive jobs are queued.
pub trait ArchiveJobs: Send + Sync {
    /// Queues `job`; `Ok` once the queue accepted it.
    fn queue_archive(&self, job: &ArchiveJob) -> impl Future<Output = Result<(), String>> + Send;
}

impl ArchiveJobs for crate::aws::Queue {
    async fn queue_archive(&self, job: &ArchiveJob) -> Result<(), String> {
        self.send_json(job, &[("job", "archive")]).await
    }
}

/// Short-lived links to archived files.
pub trait FileLinks: Send + Sync {
    /// A link to `key` valid for `ttl`, downloaded as `file_name` of `content_type`.
    fn link(
        &self,
        key: &str,
        ttl: std::time::Duration,
        file_name: &str,
        content_type: &str,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

impl FileLinks for crate::aws::Bucket {
    async fn link(
        &self,
        key: &str,
        ttl: std::time::Duration,
        file_name: &str,
        content_type: &str,
    ) -> Result<String, String> {
        self.presigned_get(key, ttl, file_name, content_type).await
    }
}

/// Fakes of the archive's queue and links, for unit tests (feature `fakes`).
#[cfg(any(test, feature = "fakes"))]
pub mod fakes {
    use super::*;

    /// Records queued jobs.
    #[derive(Debug, Default)]
    pub struct MemoryArchiveJobs {
        /// The jobs.
        pub jobs: std::sync::Mutex<Vec<ArchiveJob>>,
    }

    impl ArchiveJobs for MemoryArchiveJobs {
        async fn queue_archive(&self, job: &ArchiveJob) -> Result<(), String> {
            self.jobs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(job.clone());
            Ok(())
        }
    }

    /// Links of the form `memory://{key}?name={file_name}`.
    #[derive(Debug, Default)]
    pub struct MemoryLinks;

    impl FileLinks for MemoryLinks {
        async fn link(
            &self,
            key: &str,
            _ttl: std::time::Duration,
            file_name: &str,
            _content_type: &str,
        ) -> Result<String, String> {
            Ok(format!("memory://{key}?name={file_name}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::tests::user_owner;

    #[test]
    fn object_keys_live_under_their_owners_prefix() {
        let a = user_owner("a", "u");
        let b = user_owner("b", "u");
        let key = object_key(&a, "uuid==", "f1");
        assert!(key.starts_with(&a.object_prefix()));
        assert!(!key.starts_with(&b.object_prefix()));
        assert_ne!(key, object_key(&a, "uuid==", "f2"));
    }

    #[test]
    fn jobs_carry_their_owner() {
        let job = ArchiveJob {
            owner: user_owner("a", "u"),
            meeting_uuid: "m".into(),
            file_id: "f".into(),
        };
        let text = serde_json::to_string(&job).expect("json");
        assert_eq!(
            serde_json::from_str::<ArchiveJob>(&text).expect("back"),
            job
        );
    }
}
