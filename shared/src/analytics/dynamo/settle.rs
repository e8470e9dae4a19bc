//! The settle transaction: each settled instance's new contribution on its record (conditioned
//! on the version it was read at), the counters' deltas added to its day and its host's day,
//! and the days' bounded peak lists when they change (conditioned on their version). One small
//! item per instance and one per day item it moves, each written once however many of the
//! owner's instances settle together (an owner with a user's reach has no host-days: see
//! [`crate::analytics::store::keeps_host_days`]), so its cost does not depend on the day's
//! meetings or the meeting's participants.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::instances::meta_key;
use super::{DynamoAnalytics, built, err, num};
use crate::analytics::settle::Peaks;
use crate::analytics::store::{
    DayChange, DayKey, InstanceSettle, Settle, SettleOutcome, StoredPeaks, peaks_of,
};
use crate::owner::Owner;
use crate::store::StoreError;
use crate::store::item::{key, n, s};

fn day_sk(day: NaiveDate) -> String {
    format!("DAY#{}", day.format("%Y-%m-%d"))
}

fn host_day_sk(day: NaiveDate, host: &str) -> String {
    format!("DAY#{}#HOST#{host}", day.format("%Y-%m-%d"))
}

fn stored(item: Option<&HashMap<String, AttributeValue>>) -> StoredPeaks {
    item.map(|i| StoredPeaks {
        peaks: peaks_of(i),
        version: num(i, "peaks_v"),
    })
    .unwrap_or_default()
}

fn peaks_value(peaks: &Peaks) -> AttributeValue {
    AttributeValue::M(peaks.top.iter().map(|(k, v)| (k.clone(), n(*v))).collect())
}

/// One day item's part of the settle: `ADD` the counters, and the peak list when it changes.
fn day_update(
    table: &str,
    owner: &Owner,
    change: &DayChange,
) -> Result<Option<TransactWriteItem>, StoreError> {
    if change.delta.is_zero() && change.peaks.is_none() {
        return Ok(None);
    }
    let d = change.delta;
    let (pk, sk) = match &change.key.host {
        None => (owner.analytics_pk(), day_sk(change.key.day)),
        Some(host) => (owner.host_analytics_pk(), host_day_sk(change.key.day, host)),
    };
    let mut sets = Vec::new();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key(pk, sk)));
    if let Some(host) = &change.key.host {
        sets.push("host_id = :host");
        update = update.expression_attribute_values(":host", s(host));
    }
    if let Some(change) = &change.peaks {
        sets.push("peaks = :peaks, peaks_floor = :floor, peaks_v = :pv");
        update = update
            .expression_attribute_values(":peaks", peaks_value(&change.peaks))
            .expression_attribute_values(":floor", n(change.peaks.floor))
            .expression_attribute_values(":pv", n(change.expected_version + 1));
        update = if change.expected_version == 0 {
            update.condition_expression("attribute_not_exists(peaks_v)")
        } else {
            update
                .condition_expression("peaks_v = :expected")
                .expression_attribute_values(":expected", n(change.expected_version))
        };
    }
    let mut expression = if sets.is_empty() {
        String::new()
    } else {
        format!("SET {}", sets.join(", "))
    };
    if !d.is_zero() {
        expression.push_str(
            " ADD meetings_started :ms, meetings_completed :mc, meeting_minutes :mm, participant_joins :pj, participant_seconds :ps",
        );
        update = update
            .expression_attribute_values(":ms", n(d.meetings_started))
            .expression_attribute_values(":mc", n(d.meetings_completed))
            .expression_attribute_values(":mm", n(d.meeting_minutes))
            .expression_attribute_values(":pj", n(d.participant_joins))
            .expression_attribute_values(":ps", n(d.participant_seconds));
    }
    let update = built(update.update_expression(expression).build())?;
    Ok(Some(TransactWriteItem::builder().update(update).build()))
}

/// The instance's part: its new contribution, where it went, and its place among the recent
/// meetings once it ended.
fn instance_update(
    table: &str,
    owner: &Owner,
    settled: &InstanceSettle,
) -> Result<TransactWriteItem, StoreError> {
    let (record, c) = (&settled.record, settled.contribution);
    let (day, host) = record.day_and_host();
    let mut expression =
        "SET version = :next, r_started = :rs, r_completed = :rc, r_minutes = :rm, \
         r_joins = :rj, r_seconds = :rsec, r_peak = :rp, r_day = :rday, r_host = :rhost"
            .to_owned();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(meta_key(owner, &record.instance.uuid)))
        .expression_attribute_values(":next", n(record.version + 1))
        .expression_attribute_values(":rs", n(c.started))
        .expression_attribute_values(":rc", n(c.completed))
        .expression_attribute_values(":rm", n(c.minutes))
        .expression_attribute_values(":rj", n(c.joins))
        .expression_attribute_values(":rsec", n(c.participant_seconds))
        .expression_attribute_values(":rp", n(c.peak))
        .expression_attribute_values(":rday", s(day.format("%Y-%m-%d").to_string()))
        .expression_attribute_values(":rhost", s(host));
    if let Some(end) = record.recorded.end {
        let end_text = DateTime::<Utc>::from_timestamp(end, 0)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default();
        expression.push_str(", gsi1pk = :gpk, gsi1sk = :gsk, end_time = :et, start_time = :st");
        update = update
            .expression_attribute_values(":gpk", s(format!("RECENT#{}", owner.namespace())))
            .expression_attribute_values(":gsk", s(format!("{end_text}#{}", record.instance.uuid)))
            .expression_attribute_values(":et", s(end_text))
            .expression_attribute_values(
                ":st",
                s(record
                    .instance
                    .start_time
                    .to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
    }
    update = if record.version == 0 {
        update.condition_expression("attribute_exists(pk) AND attribute_not_exists(version)")
    } else {
        update
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(record.version))
    };
    let update = built(update.update_expression(expression).build())?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// What a cancelled transaction's reasons mean.
fn outcome_of(
    e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<SettleOutcome> {
    let reasons: Vec<&str> = match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(x)) => x
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .filter(|c| *c != "None")
            .collect(),
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
            vec!["TransactionInProgress"]
        }
        Some(TransactWriteItemsError::ProvisionedThroughputExceededException(_))
        | Some(TransactWriteItemsError::RequestLimitExceeded(_)) => vec!["ThrottlingError"],
        _ => return None,
    };
    if let Some(invalid) = reasons.iter().find(|r| r.contains("Validation")) {
        return Some(SettleOutcome::Invalid((*invalid).to_owned()));
    }
    if reasons.contains(&"ConditionalCheckFailed") {
        return Some(SettleOutcome::Moved);
    }
    Some(SettleOutcome::Contended(
        reasons
            .first()
            .copied()
            .unwrap_or("TransactionCanceled")
            .to_owned(),
    ))
}

impl DynamoAnalytics {
    pub(super) async fn peaks(
        &self,
        owner: &Owner,
        day: &DayKey,
    ) -> Result<StoredPeaks, StoreError> {
        let (pk, sk) = match &day.host {
            None => (owner.analytics_pk(), day_sk(day.day)),
            Some(host) => (owner.host_analytics_pk(), host_day_sk(day.day, host)),
        };
        let item = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(key(pk, sk)))
            .projection_expression("peaks, peaks_floor, peaks_v")
            // Consistent: on a stale list an instance's new peak could change nothing, and a
            // list that does not change is neither written nor checked.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err(&e))?;
        Ok(stored(item.item()))
    }

    pub(super) async fn write_settle(
        &self,
        owner: &Owner,
        settle: &Settle,
    ) -> Result<SettleOutcome, StoreError> {
        let mut items = settle
            .instances
            .iter()
            .map(|i| instance_update(self.name(), owner, i))
            .collect::<Result<Vec<_>, _>>()?;
        for day in &settle.days {
            items.extend(day_update(self.name(), owner, day)?);
        }
        if items.is_empty() {
            return Ok(SettleOutcome::Applied);
        }
        match self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(SettleOutcome::Applied),
            Err(e) => match outcome_of(&e) {
                Some(outcome) => Ok(outcome),
                None if e.code() == Some("ValidationException") => {
                    Ok(SettleOutcome::Invalid("ValidationException".to_owned()))
                }
                None => Err(err(&e)),
            },
        }
    }
}
