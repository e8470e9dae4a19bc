//! What the analytics API reads: per-day and per-host-per-day items of a range (one query each,
//! one small item per day or host-day), and the most recently ended meetings from the
//! recent-meetings index (`gsi1`: `RECENT#{ns}`, newest first, a bounded page).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;

use super::{DynamoAnalytics, err, num, text};
use crate::analytics::store::{AnalyticsReader, DayFigures};
use crate::owner::{Owner, Reach};
use crate::store::StoreError;
use crate::store::item::s;

impl DynamoAnalytics {
    async fn query_all(
        &self,
        index: Option<&str>,
        (pk_name, pk): (&str, String),
        (sk_name, from, to): (&str, String, String),
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
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_names("#sk", sk_name)
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
    /// The per-day aggregates from `from` to `to` (one query; one item per day).
    async fn days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayFigures>, StoreError> {
        let items = self
            .query_all(
                None,
                ("pk", owner.analytics_pk()),
                ("sk", format!("DAY#{from}"), format!("DAY#{to}")),
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

    /// The per-host per-day aggregates from `from` to `to` (one item per host and day; for an
    /// owner with a user's reach, its days as that user's).
    async fn host_days(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayFigures>, StoreError> {
        if let Reach::User { zoom_user_id } = &owner.reach {
            let mut days = self.days(owner, from, to).await?;
            for day in &mut days {
                day.host_id = Some(zoom_user_id.clone());
            }
            return Ok(days);
        }
        let items = self
            .query_all(
                None,
                ("pk", owner.host_analytics_pk()),
                (
                    "sk",
                    format!("DAY#{from}"),
                    format!("DAY#{to}#HOST#\u{10FFFF}"),
                ),
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

    /// The most recently ended meetings, ending between `from` and `to` (inclusive days).
    async fn recent_meetings(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
        limit: i32,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let items = self
            .query_all(
                Some("gsi1"),
                ("gsi1pk", format!("RECENT#{}", owner.namespace())),
                ("gsi1sk", format!("{from}"), format!("{to}T99")),
                false,
                Some(limit),
            )
            .await?;
        Ok(items
            .iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|item| {
                serde_json::json!({
                    "meeting_id": num(item, "meeting_id"), "uuid": text(item, "sk").trim_start_matches("INSTANCE#").trim_end_matches("#META"),
                    "topic": text(item, "topic"), "host_id": text(item, "r_host"), "start_time": text(item, "start_time"),
                    "end_time": text(item, "end_time"), "duration_minutes": num(item, "r_minutes"),
                })
            })
            .collect())
    }
}
