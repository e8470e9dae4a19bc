//! The DynamoDB adapter of meetings: in the connection's partition `DATA#{ns}`,
//! `sk=MEETING#{id}` (`data`: Zoom's copy as JSON, never `start_url`; `fetched_at`; `host_id`;
//! `event_status`: what webhooks said; `stale`).

use super::store::{MeetingStore, StoredMeeting};
use super::view::{Meeting, MeetingStatus, effective_status};
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::item::{Item, flag, key, n, number, s, text};
use crate::store::{StoreError, Table};

/// Meetings in the table.
#[derive(Debug, Clone)]
pub struct DynamoMeetings {
    table: Table,
}

impl DynamoMeetings {
    /// Meetings in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

fn meeting_key(owner: &Owner, id: i64) -> Item {
    key(owner.data_pk(), format!("MEETING#{id}"))
}

fn status_text(status: MeetingStatus) -> String {
    format!("{status:?}").to_lowercase()
}

fn parse(item: &Item) -> Option<StoredMeeting> {
    let mut meeting: Meeting = serde_json::from_str(&text(item, "data")?).ok()?;
    let event: Option<MeetingStatus> = text(item, "event_status")
        .and_then(|s| serde_json::from_value(serde_json::Value::from(s)).ok());
    meeting.status = effective_status(meeting.status, event, meeting.meeting_type);
    let stale = flag(item, "stale").unwrap_or(false);
    Some(StoredMeeting {
        settled: meeting.status.is_final() && !stale,
        meeting,
        fetched_at: if stale {
            0
        } else {
            number(item, "fetched_at").unwrap_or(0)
        },
    })
}

/// `Ok(true)` on success, `Ok(false)` when the meeting is not stored.
fn stored<T, E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(StoreError::from_sdk(&e)),
    }
}

impl MeetingStore for DynamoMeetings {
    async fn get(&self, owner: &Owner, id: i64) -> Result<Option<StoredMeeting>, StoreError> {
        Ok(self
            .table
            .get(meeting_key(owner, id), false)
            .await?
            .as_ref()
            .and_then(parse))
    }

    async fn save(
        &self,
        owner: &Owner,
        meeting: &Meeting,
        fetched_at: i64,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(meeting)
            .map_err(|_| StoreError("meeting could not be encoded".into()))?;
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(meeting_key(owner, meeting.id)))
            .update_expression(
                "SET #data = :data, fetched_at = :at, host_id = :host, meeting_id = :id REMOVE stale",
            )
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(data))
            .expression_attribute_values(":at", n(fetched_at))
            .expression_attribute_values(":host", s(&meeting.host_id))
            .expression_attribute_values(":id", n(meeting.id))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    async fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        // Read first (consistently: a meeting made a moment ago is seen): most meetings a
        // webhook reports were not made through this API, and a read of a missing item costs
        // one read unit where a refused conditional write costs a write unit (five times the
        // price). The write keeps its condition for races.
        let current = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .set_key(Some(meeting_key(owner, id)))
            .projection_expression("pk, event_at")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(&e))?;
        let Some(item) = current.item() else {
            return Ok(false);
        };
        if number(item, "event_at").is_some_and(|stored_at| stored_at > at_ms) {
            return Ok(false);
        }
        stored(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(meeting_key(owner, id)))
                .update_expression("SET event_status = :status, event_at = :at REMOVE stale")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(event_at) OR event_at <= :at)",
                )
                .expression_attribute_values(":status", s(status_text(status)))
                .expression_attribute_values(":at", n(at_ms))
                .send()
                .await,
        )
    }

    async fn mark_stale(&self, owner: &Owner, id: i64) -> Result<bool, StoreError> {
        stored(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(meeting_key(owner, id)))
                .update_expression("SET stale = :yes")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":yes", crate::store::item::b(true))
                .send()
                .await,
        )
    }
}
