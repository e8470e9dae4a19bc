//! The DynamoDB adapter of analytics, in the owner's namespace: the idempotency claim
//! `DATA#{ns}` / `EVENT#{dedup}`; an instance's state `DATA#{ns}` / `INSTANCE#{uuid}#META` and its
//! points `INSTANCE#{uuid}#POINT#{dedup}`; per-day aggregates `ANALYTICS#{ns}` / `DAY#{date}`,
//! per host `HOSTANALYTICS#{ns}` / `DAY#{date}#HOST#{host}`, recent meetings `ANALYTICS#{ns}` /
//! `RECENT#{end}#{uuid}`; deauthorization records `COMPLIANCE#{user}`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::store::{
    AnalyticsReader, AnalyticsWriter, Claim, DayFigures, Deauthorization, IDEMPOTENCY_TTL_SECS,
    InstanceChange, InstanceMeta, TIMELINE_TTL_SECS, day_of,
};
use super::timeline::{Figures, Point};
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::item::{n, s};
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

/// An event's idempotency claim lives in its owner's data partition, so the purge of a
/// connection removes its claims too.
fn claim_key(owner: &Owner, dedup: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(owner.data_pk())),
        ("sk".to_owned(), s(format!("EVENT#{dedup}"))),
    ])
}

/// The attribute that holds an instance's peak on a day item.
fn peak_attribute(uuid: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, uuid.as_bytes());
    format!("peak_{}", hex::encode(&digest.as_ref()[..8]))
}

impl AnalyticsWriter for DynamoAnalytics {
    /// Claims event `dedup` for `tenant` until `now + lease`.
    async fn claim_event(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        now: i64,
        lease: i64,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(claim_key(owner, dedup)))
            .update_expression("SET #status = :progress, claim_id = :claim, claimed_until = :until, #ttl = :ttl ADD attempts :one")
            .condition_expression("attribute_not_exists(pk) OR (#status = :progress AND claimed_until < :now)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":progress", s("in_progress"))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":until", n(now + lease))
            .expression_attribute_values(":ttl", n(now + IDEMPOTENCY_TTL_SECS))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(answer) => Ok(Claim::Claimed(
                answer.attributes().map(|a| num(a, "attempts")).unwrap_or(1),
            )),
            Err(e) if is_condition_failure(&e) => {
                let current = self
                    .client()
                    .get_item()
                    .table_name(self.name())
                    .set_key(Some(claim_key(owner, dedup)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| err(&e))?;
                let done = current
                    .item()
                    .is_some_and(|i| text(i, "status") == "completed");
                Ok(if done { Claim::Duplicate } else { Claim::Busy })
            }
            Err(e) => Err(err(&e)),
        }
    }

    /// Gives a claim up (after a failure) so a redelivery can claim it at once.
    async fn release_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.name())
            .set_key(Some(claim_key(owner, dedup)))
            .condition_expression("claim_id = :claim AND #status = :progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":progress", s("in_progress"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(err(&e)),
        }
    }

    /// Marks a claim completed (events whose effects are idempotent on their own).
    async fn complete_claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let mut update = complete_claim_update(owner, dedup, claim_id)?;
        update.table_name = self.name().to_owned();
        self.client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    /// An instance's stored state and timeline.
    async fn instance_state(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> Result<(Option<InstanceMeta>, Vec<Point>), StoreError> {
        let mut meta = None;
        let mut points = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.name())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(owner.data_pk()))
                .expression_attribute_values(":prefix", s(format!("INSTANCE#{uuid}#")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| err(&e))?;
            for item in page.items() {
                let sk = text(item, "sk");
                if sk.ends_with("#META") {
                    meta = Some(InstanceMeta {
                        version: num(item, "version"),
                        figures: Figures {
                            peak: num(item, "peak"),
                            participant_seconds: num(item, "participant_seconds"),
                            joins: num(item, "joins"),
                        },
                        end: item
                            .get("end")
                            .and_then(|v| v.as_n().ok())
                            .and_then(|v| v.parse().ok()),
                        started_counted: item
                            .get("started_counted")
                            .and_then(|v| v.as_bool().ok())
                            .copied()
                            .unwrap_or(false),
                        ended_counted: item
                            .get("ended_counted")
                            .and_then(|v| v.as_bool().ok())
                            .copied()
                            .unwrap_or(false),
                    });
                } else {
                    points.push(Point {
                        at: num(item, "at"),
                        participant: text(item, "participant"),
                        join: item
                            .get("join")
                            .and_then(|v| v.as_bool().ok())
                            .copied()
                            .unwrap_or(true),
                    });
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok((meta, points));
            }
        }
    }

    /// Applies one event's change and completes its claim, atomically. `Ok(false)` when the
    /// instance moved meanwhile (another event of it won): retry.
    async fn apply_instance_change(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        change: &InstanceChange,
        now: i64,
    ) -> Result<bool, StoreError> {
        let i = &change.instance;
        let pk = owner.data_pk();
        let day = day_of(i).format("%Y-%m-%d").to_string();
        let host = if i.host_id.is_empty() {
            "unknown".to_owned()
        } else {
            i.host_id.clone()
        };
        let mut items = Vec::new();
        if let Some((key, point)) = &change.point {
            let put = Put::builder()
                .table_name(self.name())
                .item("pk", s(&pk))
                .item("sk", s(format!("INSTANCE#{}#POINT#{key}", i.uuid)))
                .item("at", n(point.at))
                .item("participant", s(&point.participant))
                .item("join", AttributeValue::Bool(point.join))
                .item("ttl", n(now + TIMELINE_TTL_SECS))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let mut meta = Update::builder()
            .table_name(self.name())
            .key("pk", s(&pk))
            .key("sk", s(format!("INSTANCE#{}#META", i.uuid)))
            .update_expression(
                "SET version = :next, meeting_id = :mid, host_id = :host, topic = :topic, #start = :start, #day = :day, \
                 peak = :peak, participant_seconds = :ps, joins = :joins, started_counted = :sc, ended_counted = :ec, #ttl = :ttl",
            )
            .expression_attribute_names("#start", "start")
            .expression_attribute_names("#day", "day")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":next", n(change.expected_version.unwrap_or(0) + 1))
            .expression_attribute_values(":mid", n(i.meeting_id))
            .expression_attribute_values(":host", s(&host))
            .expression_attribute_values(":topic", s(&i.topic))
            .expression_attribute_values(":start", n(i.start_time.timestamp()))
            .expression_attribute_values(":day", s(&day))
            .expression_attribute_values(":peak", n(change.figures.peak))
            .expression_attribute_values(":ps", n(change.figures.participant_seconds))
            .expression_attribute_values(":joins", n(change.figures.joins))
            .expression_attribute_values(":sc", AttributeValue::Bool(change.started_counted))
            .expression_attribute_values(":ec", AttributeValue::Bool(change.ended_counted))
            .expression_attribute_values(":ttl", n(now + TIMELINE_TTL_SECS));
        meta = match change.expected_version {
            None => meta.condition_expression("attribute_not_exists(pk)"),
            Some(v) => meta
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        if let Some(end) = change.end {
            meta = meta
                .update_expression(
                    "SET version = :next, meeting_id = :mid, host_id = :host, topic = :topic, #start = :start, #day = :day, \
                     peak = :peak, participant_seconds = :ps, joins = :joins, started_counted = :sc, ended_counted = :ec, #ttl = :ttl, #end = :end",
                )
                .expression_attribute_names("#end", "end")
                .expression_attribute_values(":end", n(end));
        }
        items.push(
            TransactWriteItem::builder()
                .update(meta.build().map_err(|e| StoreError(e.to_string()))?)
                .build(),
        );
        items.push(self.day_update(owner.analytics_pk(), format!("DAY#{day}"), change)?);
        items.push(self.day_update(
            owner.host_analytics_pk(),
            format!("DAY#{day}#HOST#{host}"),
            change,
        )?);
        if change.add.meetings_completed > 0
            && let Some(end) = change.end
        {
            let end_text = DateTime::<Utc>::from_timestamp(end, 0)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default();
            let put = Put::builder()
                .table_name(self.name())
                .item("pk", s(owner.analytics_pk()))
                .item("sk", s(format!("RECENT#{end_text}#{}", i.uuid)))
                .item("meeting_id", n(i.meeting_id))
                .item("uuid", s(&i.uuid))
                .item("topic", s(&i.topic))
                .item("host_id", s(&host))
                .item(
                    "start_time",
                    s(i.start_time.to_rfc3339_opts(SecondsFormat::Secs, true)),
                )
                .item("end_time", s(end_text))
                .item("duration_minutes", n(change.add.meeting_minutes))
                .item("day", s(&day))
                .build()
                .map_err(|e| StoreError(e.to_string()))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let mut complete = complete_claim_update(owner, dedup, claim_id)?;
        complete.table_name = self.name().to_owned();
        items.push(TransactWriteItem::builder().update(complete).build());
        match self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(err(&e)),
        }
    }

    /// Records a deauthorization for compliance (kept; no TTL).
    async fn record_deauthorization(&self, r: &Deauthorization<'_>) -> Result<(), StoreError> {
        let count = |c: usize| n(i64::try_from(c).unwrap_or(i64::MAX));
        self.client()
            .put_item()
            .table_name(self.name())
            .item("pk", s(format!("COMPLIANCE#{}", r.zoom_user_id)))
            .item("sk", s(format!("DEAUTH#{}#{}", r.now, r.at)))
            .item("account_id", s(r.account_id))
            .item("deauthorization_time", s(r.at))
            .item("connections_deleted", count(r.connections_deleted))
            .item("connections_kept", count(r.connections_kept))
            .item("recorded_at", n(r.now))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(&e))
    }
}

impl DynamoAnalytics {
    fn day_update(
        &self,
        pk: String,
        sk: String,
        change: &InstanceChange,
    ) -> Result<TransactWriteItem, StoreError> {
        let a = change.add;
        let update = Update::builder()
            .table_name(self.name())
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression(
                "ADD meetings_started :ms, meetings_completed :mc, meeting_minutes :mm, participant_joins :pj, participant_seconds :ps \
                 SET #peak = :peak, host_id = :host",
            )
            .expression_attribute_names("#peak", peak_attribute(&change.instance.uuid))
            .expression_attribute_values(":ms", n(a.meetings_started))
            .expression_attribute_values(":mc", n(a.meetings_completed))
            .expression_attribute_values(":mm", n(a.meeting_minutes))
            .expression_attribute_values(":pj", n(a.participant_joins))
            .expression_attribute_values(":ps", n(a.participant_seconds))
            .expression_attribute_values(":peak", n(change.figures.peak))
            .expression_attribute_values(":host", s(&change.instance.host_id))
            .build()
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn query_all(
        &self,
        pk: String,
        from: String,
        to: String,
        forward: bool,
        limit: Option<i32>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.name())
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":from", s(&from))
                .expression_attribute_values(":to", s(&to))
                .scan_index_forward(forward)
                .set_limit(limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| err(&e))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() || limit.is_some_and(|l| items.len() >= l as usize) {
                return Ok(items);
            }
        }
    }
}

impl AnalyticsReader for DynamoAnalytics {
    /// The per-day aggregates from `from` to `to` (one query; cost grows with days).
    async fn days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayFigures>, StoreError> {
        let items = self
            .query_all(
                owner.analytics_pk(),
                format!("DAY#{from}"),
                format!("DAY#{to}"),
                true,
                None,
            )
            .await?;
        Ok(items
            .iter()
            .map(|item| {
                DayFigures::from_item(
                    item,
                    text(item, "sk").trim_start_matches("DAY#").to_owned(),
                    None,
                )
            })
            .collect())
    }

    /// The tenant's per-host per-day aggregates from `from` to `to`.
    async fn host_days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayFigures>, StoreError> {
        let items = self
            .query_all(
                owner.host_analytics_pk(),
                format!("DAY#{from}"),
                format!("DAY#{to}#HOST#\u{10FFFF}"),
                true,
                None,
            )
            .await?;
        Ok(items
            .iter()
            .map(|item| {
                let sk = text(item, "sk");
                let mut parts = sk.trim_start_matches("DAY#").splitn(2, "#HOST#");
                let date = parts.next().unwrap_or_default().to_owned();
                let host = parts.next().map(str::to_owned);
                DayFigures::from_item(item, date, host)
            })
            .collect())
    }

    /// The tenant's most recently ended meetings, ending between `from` and `to` (inclusive days).
    async fn recent_meetings(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
        limit: i32,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let items = self
            .query_all(
                owner.analytics_pk(),
                format!("RECENT#{from}"),
                format!("RECENT#{to}T99"),
                false,
                Some(limit),
            )
            .await?;
        Ok(items
            .iter()
            .take(limit as usize)
            .map(|item| {
                serde_json::json!({
                    "meeting_id": num(item, "meeting_id"), "uuid": text(item, "uuid"), "topic": text(item, "topic"),
                    "host_id": text(item, "host_id"), "start_time": text(item, "start_time"), "end_time": text(item, "end_time"),
                    "duration_minutes": num(item, "duration_minutes"),
                })
            })
            .collect())
    }
}

fn complete_claim_update(owner: &Owner, dedup: &str, claim_id: &str) -> Result<Update, StoreError> {
    Update::builder()
        .table_name(String::new())
        .set_key(Some(claim_key(owner, dedup)))
        .update_expression("SET #status = :done")
        .condition_expression("claim_id = :claim AND #status = :progress")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":done", s("completed"))
        .expression_attribute_values(":claim", s(claim_id))
        .expression_attribute_values(":progress", s("in_progress"))
        .build()
        .map_err(|e| StoreError(e.to_string()))
}
