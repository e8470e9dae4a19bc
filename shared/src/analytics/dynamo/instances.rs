//! What meeting events record on their instance: the points of its participant events, the
//! ones of a batch together (`POINTS#{uuid}#{chunk}`, each chunk put only if absent:
//! it is its deliveries' idempotency record, see [`crate::analytics::chunks`]) and the instance
//! record (`INSTANCE#{uuid}#META`: the meeting's fields, whether it
//! started, its end, when a settle is due, and what its last settle added). One write per
//! chunk of points or per meeting event, never a read of the timeline; a settle reads it all
//! once, each delivery counted once.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, NaiveDate, Utc};

use super::{DynamoAnalytics, err, num, text};
use crate::analytics::chunks::{Delivered, chunks, decode, distinct, tag};
use crate::analytics::event::Instance;
use crate::analytics::settle::{Contribution, Recorded};
use crate::analytics::store::{
    INSTANCE_TTL_SECS, InstanceRecord, SettleState, TIMELINE_TTL_SECS, day_of,
};
use crate::analytics::timeline::Point;
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::StoreError;
use crate::store::item::{b, flag, key, n, s};

/// Longest topic kept (Zoom's own limit is 200 characters).
const TOPIC_CHARS: usize = 200;

/// The sort-key prefix of an instance's chunks of points: outside `INSTANCE#{uuid}#`, which a
/// release before chunks reads whole as one-point items, so going back to it never misreads a
/// chunk (its settles would just not see the chunked points until the next release's settle).
fn chunk_prefix(uuid: &str) -> String {
    format!("POINTS#{uuid}#")
}

/// The key of an instance's record.
pub(super) fn meta_key(owner: &Owner, uuid: &str) -> HashMap<String, AttributeValue> {
    key(owner.data_pk(), format!("INSTANCE#{uuid}#META"))
}

fn topic(instance: &Instance) -> String {
    instance.topic.chars().take(TOPIC_CHARS).collect()
}

fn state_of(item: &HashMap<String, AttributeValue>) -> SettleState {
    SettleState {
        ended: item.contains_key("end"),
        settle_due: num(item, "settle_due"),
    }
}

/// The instance record of a stored META item.
fn record_of(item: &HashMap<String, AttributeValue>, uuid: &str) -> InstanceRecord {
    let start = num(item, "start");
    let rolled_to = crate::store::item::text(item, "r_day")
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .map(|d| (d, text(item, "r_host")));
    InstanceRecord {
        instance: Instance {
            meeting_id: num(item, "meeting_id"),
            uuid: uuid.to_owned(),
            host_id: text(item, "host_id"),
            topic: text(item, "topic"),
            start_time: DateTime::<Utc>::from_timestamp(start, 0).unwrap_or_default(),
        },
        recorded: Recorded {
            start,
            end: crate::store::item::number(item, "end"),
            started: flag(item, "started").unwrap_or(false),
        },
        rolled: Contribution {
            started: num(item, "r_started"),
            completed: num(item, "r_completed"),
            minutes: num(item, "r_minutes"),
            joins: num(item, "r_joins"),
            participant_seconds: num(item, "r_seconds"),
            peak: num(item, "r_peak"),
        },
        rolled_to,
        version: num(item, "version"),
    }
}

impl DynamoAnalytics {
    /// Writes `points` as chunks, each only if absent; answers the points of the chunks that
    /// were not stored before.
    pub(super) async fn put_points(
        &self,
        owner: &Owner,
        uuid: &str,
        points: &[Delivered],
        now: i64,
    ) -> Result<usize, StoreError> {
        let mut new = 0;
        for chunk in chunks(points) {
            let result = self
                .client()
                .put_item()
                .table_name(self.name())
                .item("pk", s(owner.data_pk()))
                .item("sk", s(format!("{}{}", chunk_prefix(uuid), chunk.key)))
                .item("pts", s(&chunk.body))
                .item("ttl", n(now + TIMELINE_TTL_SECS))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match result {
                Ok(_) => new += chunk.points,
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(err(&e)),
            }
        }
        Ok(new)
    }

    /// `SET` of the meeting's own fields, shared by `meeting.started` and `meeting.ended`.
    fn fields(
        &self,
        owner: &Owner,
        instance: &Instance,
        now: i64,
        extra: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(meta_key(owner, &instance.uuid)))
            .update_expression(format!(
                "SET meeting_id = :mid, host_id = :host, topic = :topic, #start = :start, #day = :day, #ttl = :ttl{extra}"
            ))
            .expression_attribute_names("#start", "start")
            .expression_attribute_names("#day", "day")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":mid", n(instance.meeting_id))
            .expression_attribute_values(":host", s(&instance.host_id))
            .expression_attribute_values(":topic", s(topic(instance)))
            .expression_attribute_values(":start", n(instance.start_time.timestamp()))
            .expression_attribute_values(":day", s(day_of(instance).format("%Y-%m-%d").to_string()))
            .expression_attribute_values(":ttl", n(now + INSTANCE_TTL_SECS))
    }

    pub(super) async fn started(
        &self,
        owner: &Owner,
        instance: &Instance,
        now: i64,
    ) -> Result<SettleState, StoreError> {
        let answer = self
            .fields(owner, instance, now, ", started = :yes")
            .expression_attribute_values(":yes", b(true))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| err(&e))?;
        Ok(answer.attributes().map(state_of).unwrap_or_default())
    }

    pub(super) async fn ended(
        &self,
        owner: &Owner,
        instance: &Instance,
        end: i64,
        settle_due: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.fields(owner, instance, now, ", #end = :end, settle_due = :due")
            .expression_attribute_names("#end", "end")
            .expression_attribute_values(":end", n(end))
            .expression_attribute_values(":due", n(settle_due))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    pub(super) async fn state(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> Result<Option<SettleState>, StoreError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(meta_key(owner, uuid)))
            .projection_expression("#end, settle_due")
            .expression_attribute_names("#end", "end")
            .send()
            .await
            .map_err(|e| err(&e))?;
        Ok(answer.item().map(state_of))
    }

    pub(super) async fn settle_due(
        &self,
        owner: &Owner,
        uuid: &str,
        due: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(meta_key(owner, uuid)))
            .update_expression("SET settle_due = :due")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":due", n(due))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(err(&e)),
        }
    }

    /// Every item of the owner's data partition under `prefix`, read consistently.
    async fn items_under(
        &self,
        owner: &Owner,
        prefix: String,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.name())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(owner.data_pk()))
                .expression_attribute_values(":prefix", s(&prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| err(&e))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    pub(super) async fn instance(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> Result<Option<(InstanceRecord, Vec<Point>)>, StoreError> {
        // The record (with the one-point items written before chunks) and the chunks.
        let (records, chunked) = futures_util::try_join!(
            self.items_under(owner, format!("INSTANCE#{uuid}#")),
            self.items_under(owner, chunk_prefix(uuid)),
        )?;
        let mut meta = None;
        let mut points = Vec::new();
        for item in &records {
            let sk = text(item, "sk");
            if sk.ends_with("#META") {
                meta = Some(record_of(item, uuid));
            } else if let Some((_, dedup)) = sk.split_once("#POINT#") {
                points.push(Delivered {
                    tag: tag(dedup),
                    point: Point {
                        at: num(item, "at"),
                        participant: text(item, "participant"),
                        join: flag(item, "join").unwrap_or(true),
                    },
                });
            }
        }
        for item in &chunked {
            if let Some(body) = crate::store::item::text(item, "pts") {
                points.extend(decode(&body));
            }
        }
        Ok(meta.map(|m| (m, distinct(points))))
    }
}
