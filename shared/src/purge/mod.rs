//! Deleting what a connection owns, everywhere: its items (the partitions of
//! [`Owner::partitions`]) and its archived files (every version under
//! [`Owner::object_prefix`], unfinished uploads aborted). Disconnect, a deauthorization and a
//! reconnect to another Zoom user queue a [`PurgeJob`]; `zoom-tenant-purger` runs it. A purge
//! is idempotent and resumable (a job cut off by a timeout is delivered again), and every job
//! runs twice: at once, and again [`LATE_WRITER_DELAY_SECS`] later, to remove what requests in
//! flight at disconnect time wrote into the old namespace after the first pass (no request runs
//! longer than a Lambda's 900 s limit).

pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;

use serde::{Deserialize, Serialize};

use crate::aws::bucket::Purged;
use crate::aws::{Bucket, Queue};
use crate::owner::Owner;
use crate::store::StoreError;

pub use dynamo::DynamoPurge;
#[cfg(any(test, feature = "fakes"))]
pub use memory::{MemoryFiles, MemoryPartitions, MemoryPurgeQueue};

/// The delay of the second pass, in seconds (SQS's longest delay).
pub const LATE_WRITER_DELAY_SECS: i32 = 900;

/// A purge of one connection's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeJob {
    /// The connection whose data goes.
    pub owner: Owner,
    /// 1: the first pass; 2: the late-writer sweep.
    pub pass: u8,
    /// Why (`disconnect`, `deauthorized`, `reconnected`), for the logs.
    pub reason: String,
    /// When the removal was decided (epoch seconds). A connection with the same id that was
    /// (re)connected at or after this is live again, and is not purged.
    #[serde(default)]
    pub queued_at: i64,
}

impl PurgeJob {
    /// The first pass of a purge of `owner`, decided now.
    pub fn first(owner: &Owner, reason: &str) -> Self {
        Self {
            owner: owner.clone(),
            pass: 1,
            reason: reason.to_owned(),
            queued_at: crate::clock::now_secs(),
        }
    }

    /// Whether a connection made at `connected_at` with the job's connection id is newer than
    /// the removal (a re-authorization raced it): then its data stays.
    pub fn spares(&self, connection_id: &str, connected_at: i64) -> bool {
        connection_id == self.owner.connection_id && connected_at >= self.queued_at
    }
}

/// Deletes a connection's items.
pub trait PartitionPurger: Send + Sync {
    /// Deletes every item of the owner's partitions; returns how many.
    fn purge_partitions(
        &self,
        owner: &Owner,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// Deletes a connection's archived files.
pub trait FilePurger: Send + Sync {
    /// Deletes every version of every object under `prefix` and aborts its unfinished uploads
    /// (idempotent: a later call finishes what a cut-off one left).
    fn purge_files(&self, prefix: &str) -> impl Future<Output = Result<Purged, String>> + Send;
}

impl FilePurger for Bucket {
    async fn purge_files(&self, prefix: &str) -> Result<Purged, String> {
        self.purge_prefix(prefix).await
    }
}

/// Where purge jobs are queued.
pub trait PurgeQueue: Send + Sync {
    /// Queues `job`, delivered after `delay_secs`; `Ok` once the queue accepted it.
    fn queue_purge(
        &self,
        job: &PurgeJob,
        delay_secs: i32,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

impl PurgeQueue for Queue {
    async fn queue_purge(&self, job: &PurgeJob, delay_secs: i32) -> Result<(), String> {
        self.send_json_delayed(job, &[("job", "purge")], delay_secs)
            .await
    }
}
