//! In-memory fakes of the purge ports, for unit tests of the purger and of the handlers that
//! queue purges (feature `fakes`). Each can be told to fail, so a purge cut off half-way can be
//! shown to finish on its next delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{FilePurger, PartitionPurger, PurgeJob, PurgeQueue};
use crate::aws::bucket::Purged;
use crate::owner::Owner;
use crate::store::StoreError;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes one of `failures` if any is left: `true` means "fail this call".
fn take(failures: &AtomicUsize) -> bool {
    failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// A [`PurgeQueue`] that records jobs.
#[derive(Debug, Default)]
pub struct MemoryPurgeQueue {
    /// Queued jobs with their delays.
    pub jobs: Mutex<Vec<(PurgeJob, i32)>>,
    /// How many of the next calls fail.
    pub failures: AtomicUsize,
}

impl MemoryPurgeQueue {
    /// The jobs queued so far.
    pub fn queued(&self) -> Vec<(PurgeJob, i32)> {
        lock(&self.jobs).clone()
    }
}

impl PurgeQueue for MemoryPurgeQueue {
    async fn queue_purge(&self, job: &PurgeJob, delay_secs: i32) -> Result<(), String> {
        if take(&self.failures) {
            return Err("the purge queue is unavailable (injected)".into());
        }
        lock(&self.jobs).push((job.clone(), delay_secs));
        Ok(())
    }
}

/// Items per partition key.
#[derive(Debug, Default)]
pub struct MemoryPartitions {
    items: Mutex<BTreeMap<String, usize>>,
    /// How many of the next calls fail.
    pub failures: AtomicUsize,
}

impl MemoryPartitions {
    /// Adds `n` items to each of `owner`'s partitions.
    pub fn add(&self, owner: &Owner, n: usize) {
        let mut items = lock(&self.items);
        for pk in owner.partitions() {
            *items.entry(pk).or_default() += n;
        }
    }

    /// How many items `owner`'s partitions hold.
    pub fn count(&self, owner: &Owner) -> usize {
        let items = lock(&self.items);
        owner
            .partitions()
            .iter()
            .filter_map(|pk| items.get(pk))
            .sum()
    }
}

impl PartitionPurger for MemoryPartitions {
    async fn purge_partitions(&self, owner: &Owner) -> Result<usize, StoreError> {
        if take(&self.failures) {
            return Err(StoreError("ServiceUnavailable (injected)".into()));
        }
        let mut items = lock(&self.items);
        Ok(owner
            .partitions()
            .iter()
            .filter_map(|pk| items.remove(pk))
            .sum())
    }
}

/// Object keys of a bucket.
#[derive(Debug, Default)]
pub struct MemoryFiles {
    keys: Mutex<BTreeSet<String>>,
    /// How many of the next calls fail.
    pub failures: AtomicUsize,
}

impl MemoryFiles {
    /// Stores an object under `key`.
    pub fn put(&self, key: &str) {
        lock(&self.keys).insert(key.to_owned());
    }

    /// How many objects live under `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        lock(&self.keys)
            .iter()
            .filter(|k| k.starts_with(prefix))
            .count()
    }
}

impl FilePurger for MemoryFiles {
    async fn purge_files(&self, prefix: &str) -> Result<Purged, String> {
        if take(&self.failures) {
            return Err("S3 is unavailable (injected)".into());
        }
        let mut keys = lock(&self.keys);
        let before = keys.len();
        keys.retain(|k| !k.starts_with(prefix));
        Ok(Purged {
            versions: before - keys.len(),
            uploads: 0,
        })
    }
}
