//! The DynamoDB adapter of meetings: in the connection's partition `DATA#{ns}`,
//! `sk=MEETING#{id}` (`data`: the meeting JSON, `status`, `host_id`, `fetched_at`; never
//! `start_url`).

use super::store::{MeetingStore, StoredMeeting};
use super::view::{Meeting, MeetingStatus};
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::item::{Item, key, n, number, s, text};
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

fn to_item(owner: &Owner, meeting: &Meeting, fetched_at: i64) -> Result<Item, StoreError> {
    let data = serde_json::to_string(meeting)
        .map_err(|_| StoreError("meeting could not be encoded".into()))?;
    let mut item = meeting_key(owner, meeting.id);
    item.extend([
        ("meeting_id".to_owned(), n(meeting.id)),
        ("host_id".to_owned(), s(&meeting.host_id)),
        ("status".to_owned(), s(status_text(meeting.status))),
        ("data".to_owned(), s(data)),
        ("fetched_at".to_owned(), n(fetched_at)),
    ]);
    Ok(item)
}

fn parse(item: &Item) -> Option<StoredMeeting> {
    let mut meeting: Meeting = serde_json::from_str(&text(item, "data")?).ok()?;
    // Webhooks update `status` without rewriting `data`.
    if let Some(status) = text(item, "status") {
        meeting.status =
            serde_json::from_value(serde_json::Value::from(status)).unwrap_or(meeting.status);
    }
    Some(StoredMeeting {
        meeting,
        fetched_at: number(item, "fetched_at")?,
    })
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

    async fn put_all(
        &self,
        owner: &Owner,
        meetings: &[Meeting],
        fetched_at: i64,
    ) -> Result<(), StoreError> {
        let items = meetings
            .iter()
            .map(|m| to_item(owner, m, fetched_at))
            .collect::<Result<Vec<_>, _>>()?;
        self.table.put_all(items).await.map(|_| ())
    }

    async fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
    ) -> Result<bool, StoreError> {
        let result = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(meeting_key(owner, id)))
            .update_expression("SET #status = :status")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status_text(status)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}
