//! The DynamoDB adapter of analytics, in the owner's namespace (`docs/data-model.md`):
//! - [`claims`]: idempotency claims `DATA#{ns}` / `EVENT#{dedup}` of the events that are not
//!   meeting figures, and deauthorization records `COMPLIANCE#{user}`;
//! - [`instances`]: a meeting instance's record `DATA#{ns}` / `INSTANCE#{uuid}#META` and its
//!   participant points `POINTS#{uuid}#{chunk}`, the points of a meeting group of a
//!   batch several to an item (under 4 KB; items of one point each,
//!   `INSTANCE#{uuid}#POINT#{dedup}`, written before, are still read);
//! - [`settle`]: the one transaction that adds a settled instance's figures to its day
//!   `ANALYTICS#{ns}` / `DAY#{date}` and, for an owner with the account-wide role, its host's
//!   day `HOSTANALYTICS#{ns}` / `DAY#{date}#HOST#{host}`, with the instance in the recent-meetings index
//!   (`gsi1`: `RECENT#{ns}` / `{end}#{uuid}`);
//! - [`read`]: what the analytics API reads.
//!
//! Every item stays small (under 4 KB; under 1 KB but a meeting's topic and a chunk of points):
//! nothing grows with the day's
//! meetings, a meeting's participants or the tenant's history.

mod claims;
mod instances;
mod read;
mod settle;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::chunks::Delivered;
use super::event::Instance;
use super::store::{
    AnalyticsWriter, Claim, DayKey, Deauthorization, InstanceRecord, Settle, SettleOutcome,
    SettleState, StoredPeaks,
};
use super::timeline::Point;
use crate::owner::Owner;
use crate::store::{StoreError, Table};

/// Analytics in the table.
#[derive(Debug, Clone)]
pub struct DynamoAnalytics {
    table: Table,
}

impl DynamoAnalytics {
    /// Analytics in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.table.client()
    }

    fn name(&self) -> &str {
        self.table.name()
    }
}

fn err<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError {
    StoreError::from_sdk(e)
}

fn num(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    crate::store::item::number(item, name).unwrap_or(0)
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    crate::store::item::text(item, name).unwrap_or_default()
}

fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError(format!("request could not be built: {e}")))
}

impl AnalyticsWriter for DynamoAnalytics {
    async fn claim_event(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        now: i64,
        lease: i64,
    ) -> Result<Claim, StoreError> {
        self.claim(owner, dedup, claim_id, now, lease).await
    }

    async fn release_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        self.release(owner, dedup, claim_id).await
    }

    async fn complete_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        self.complete(owner, dedup, claim_id).await
    }

    async fn record_points(
        &self,
        owner: &Owner,
        uuid: &str,
        points: &[Delivered],
        now: i64,
    ) -> Result<usize, StoreError> {
        self.put_points(owner, uuid, points, now).await
    }

    async fn record_started(
        &self,
        owner: &Owner,
        instance: &Instance,
        now: i64,
    ) -> Result<SettleState, StoreError> {
        self.started(owner, instance, now).await
    }

    async fn record_ended(
        &self,
        owner: &Owner,
        instance: &Instance,
        end: i64,
        settle_due: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.ended(owner, instance, end, settle_due, now).await
    }

    async fn settle_state(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> Result<Option<SettleState>, StoreError> {
        self.state(owner, uuid).await
    }

    async fn mark_settle_due(&self, owner: &Owner, uuid: &str, due: i64) -> Result<(), StoreError> {
        self.settle_due(owner, uuid, due).await
    }

    async fn instance_for_settle(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> Result<Option<(InstanceRecord, Vec<Point>)>, StoreError> {
        self.instance(owner, uuid).await
    }

    async fn day_peaks(&self, owner: &Owner, key: &DayKey) -> Result<StoredPeaks, StoreError> {
        self.peaks(owner, key).await
    }

    async fn apply_settle(
        &self,
        owner: &Owner,
        settle: &Settle,
    ) -> Result<SettleOutcome, StoreError> {
        self.write_settle(owner, settle).await
    }

    async fn record_deauthorization(&self, r: &Deauthorization<'_>) -> Result<(), StoreError> {
        self.deauthorization(r).await
    }
}
