//! Meetings stored per tenant (`pk=TENANT#{tenant}`, `sk=MEETING#{id}`), with the time they
//! were fetched from Zoom, so a fresh copy is served without spending Zoom's quota.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use super::list_cache::now_millis;
use super::view::{Meeting, MeetingStatus};
use crate::aws::{Table, describe_sdk_error, is_condition_failure};
use crate::tokens::store::StoreError;

/// A stored meeting and when it was last fetched from Zoom (epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeeting {
    /// The meeting.
    pub meeting: Meeting,
    /// Last fetched from Zoom.
    pub fetched_at: i64,
}

fn key(tenant: &str, id: i64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("TENANT#{tenant}")),
        ),
        ("sk".to_owned(), AttributeValue::S(format!("MEETING#{id}"))),
    ])
}

fn item(
    tenant: &str,
    meeting: &Meeting,
    fetched_at: i64,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let data = serde_json::to_string(meeting)
        .map_err(|_| StoreError("meeting could not be encoded".into()))?;
    let mut item = key(tenant, meeting.id);
    item.insert(
        "meeting_id".into(),
        AttributeValue::N(meeting.id.to_string()),
    );
    item.insert("host_id".into(), AttributeValue::S(meeting.host_id.clone()));
    item.insert(
        "status".into(),
        AttributeValue::S(format!("{:?}", meeting.status).to_lowercase()),
    );
    item.insert("data".into(), AttributeValue::S(data));
    item.insert(
        "fetched_at".into(),
        AttributeValue::N(fetched_at.to_string()),
    );
    Ok(item)
}

fn parse(item: &HashMap<String, AttributeValue>) -> Option<StoredMeeting> {
    let data = item.get("data")?.as_s().ok()?;
    let mut meeting: Meeting = serde_json::from_str(data).ok()?;
    // Webhooks update `status` (and times) without rewriting `data`.
    if let Some(status) = item.get("status").and_then(|v| v.as_s().ok()) {
        meeting.status = serde_json::from_value(serde_json::Value::from(status.as_str()))
            .unwrap_or(meeting.status);
    }
    let fetched_at = item.get("fetched_at")?.as_n().ok()?.parse().ok()?;
    Some(StoredMeeting {
        meeting,
        fetched_at,
    })
}

impl Table {
    /// A tenant's stored meeting.
    pub async fn get_meeting(
        &self,
        tenant: &str,
        id: i64,
    ) -> Result<Option<StoredMeeting>, StoreError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(key(tenant, id)))
            .send()
            .await
            .map_err(|e| StoreError(describe_sdk_error(&e)))?;
        Ok(answer.item().and_then(parse))
    }

    /// Stores meetings for a tenant (batched, 25 per request, unprocessed items retried).
    pub async fn put_meetings(
        &self,
        tenant: &str,
        meetings: &[Meeting],
        fetched_at: i64,
    ) -> Result<(), StoreError> {
        for chunk in meetings.chunks(25) {
            let mut requests = Vec::new();
            for meeting in chunk {
                let put = PutRequest::builder()
                    .set_item(Some(item(tenant, meeting, fetched_at)?))
                    .build()
                    .map_err(|_| StoreError("meeting item could not be built".into()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            for _ in 0..8 {
                if requests.is_empty() {
                    break;
                }
                let answer = self
                    .client()
                    .batch_write_item()
                    .request_items(self.name(), requests.clone())
                    .send()
                    .await
                    .map_err(|e| StoreError(describe_sdk_error(&e)))?;
                requests = answer
                    .unprocessed_items()
                    .and_then(|u| u.get(self.name()))
                    .cloned()
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError("some meetings could not be stored".into()));
            }
        }
        Ok(())
    }

    /// Sets a stored meeting's status and records the change for the tenant's cached meeting
    /// lists (their pages show status too); a no-op when the tenant has no such meeting.
    pub async fn set_meeting_status(
        &self,
        tenant: &str,
        id: i64,
        status: MeetingStatus,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key(tenant, id)))
            .update_expression("SET #status = :status")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":status",
                AttributeValue::S(format!("{status:?}").to_lowercase()),
            )
            .send()
            .await;
        match result {
            // Only a stored meeting can be on a cached page (lists store what they show), and
            // a tenant whose items were deleted gets no new one.
            Ok(_) => self.meeting_lists_changed(tenant, now_millis()).await,
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError(describe_sdk_error(&e))),
        }
    }
}
