//! An in-memory [`PageCache`] for unit tests (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::{Family, MAX_PAGE_BYTES, PageCache, is_fresh};
use crate::owner::Owner;
use crate::store::StoreError;

/// A page's key: (namespace, family, query).
type PageKey = (String, Family, String);

/// Pages by (namespace, family, query) and markers by (namespace, family).
#[derive(Debug, Default)]
pub struct MemoryPageCache {
    pages: Mutex<HashMap<PageKey, (Value, i64)>>,
    markers: Mutex<HashMap<(String, Family), i64>>,
    /// When set, every write fails.
    pub fail_writes: std::sync::atomic::AtomicBool,
}

impl MemoryPageCache {
    fn failing(&self) -> Result<(), StoreError> {
        if self.fail_writes.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError("timed out".into()));
        }
        Ok(())
    }
}

impl PageCache for MemoryPageCache {
    async fn get(
        &self,
        owner: &Owner,
        family: Family,
        query: &str,
        now_ms: i64,
    ) -> Result<Option<Value>, StoreError> {
        let changed = self
            .markers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(owner.namespace(), family))
            .copied();
        Ok(self
            .pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(owner.namespace(), family, query.to_owned()))
            .filter(|(_, fetched)| is_fresh(family, *fetched, changed, now_ms))
            .map(|(page, _)| page.clone()))
    }

    async fn put(
        &self,
        owner: &Owner,
        family: Family,
        query: &str,
        page: &Value,
        fetched_ms: i64,
    ) -> Result<bool, StoreError> {
        self.failing()?;
        if page.to_string().len() > MAX_PAGE_BYTES {
            return Ok(false);
        }
        self.pages.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (owner.namespace(), family, query.to_owned()),
            (page.clone(), fetched_ms),
        );
        Ok(true)
    }

    async fn changed(&self, owner: &Owner, family: Family, now_ms: i64) -> Result<(), StoreError> {
        self.failing()?;
        self.markers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((owner.namespace(), family), now_ms);
        Ok(())
    }
}
