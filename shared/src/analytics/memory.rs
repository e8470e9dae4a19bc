//! An in-memory [`AnalyticsReader`] for unit tests of the analytics API (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDate;

use super::store::{AnalyticsReader, DayFigures};
use crate::owner::Owner;
use crate::store::StoreError;

/// Day figures by namespace (host figures carry `host_id`).
#[derive(Debug, Default)]
pub struct MemoryAnalytics {
    /// Per-day figures by namespace.
    pub days: Mutex<HashMap<String, Vec<DayFigures>>>,
    /// Recent meetings by namespace.
    pub recent: Mutex<HashMap<String, Vec<serde_json::Value>>>,
}

fn in_range(day: &DayFigures, from: NaiveDate, to: NaiveDate) -> bool {
    NaiveDate::parse_from_str(&day.date, "%Y-%m-%d").is_ok_and(|d| d >= from && d <= to)
}

impl AnalyticsReader for MemoryAnalytics {
    async fn days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayFigures>, StoreError> {
        Ok(self
            .days
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&owner.namespace())
            .map(|d| {
                d.iter()
                    .filter(|x| x.host_id.is_none() && in_range(x, from, to))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn host_days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayFigures>, StoreError> {
        Ok(self
            .days
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&owner.namespace())
            .map(|d| {
                d.iter()
                    .filter(|x| x.host_id.is_some() && in_range(x, from, to))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn recent_meetings(
        &self,
        owner: &Owner,
        _from: NaiveDate,
        _to: NaiveDate,
        limit: i32,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        Ok(self
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&owner.namespace())
            .map(|r| {
                r.iter()
                    .take(usize::try_from(limit).unwrap_or(0))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}
