//! Archive records (`pk=TENANT#{tenant}`, `sk=RECORDING#{fileId}`) and archive jobs.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::aws::{Table, describe_sdk_error, is_condition_failure};
use crate::tokens::store::StoreError;

/// A request to copy one recording file from Zoom into the recordings bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveJob {
    /// The tenant whose token downloads it.
    pub tenant_id: String,
    /// The meeting instance UUID.
    pub meeting_uuid: String,
    /// The Zoom file id.
    pub file_id: String,
}

/// Where an archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveStatus {
    /// Queued.
    Pending,
    /// Copying.
    Archiving,
    /// In the bucket.
    Archived,
    /// The last attempt failed.
    Failed,
}

/// An archive record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRecord {
    /// Status.
    pub status: ArchiveStatus,
    /// Object key, once archived.
    pub s3_key: Option<String>,
    /// Bytes, once archived.
    pub size: Option<u64>,
    /// When the status last changed (epoch seconds).
    pub updated_at: i64,
}

/// Pending or archiving records older than this are requeued on the next download request.
pub const STALE_SECS: i64 = 900;

fn key(tenant: &str, file_id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("TENANT#{tenant}")),
        ),
        (
            "sk".to_owned(),
            AttributeValue::S(format!("RECORDING#{file_id}")),
        ),
    ])
}

fn status_text(status: ArchiveStatus) -> AttributeValue {
    AttributeValue::S(format!("{status:?}").to_lowercase())
}

/// The object key of a file in the recordings bucket: per tenant (hashed), per instance.
pub fn object_key(tenant: &str, meeting_uuid: &str, file_id: &str) -> String {
    let hash = |s: &str| -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
        digest
            .as_ref()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    format!(
        "tenants/{}/{}/{}",
        hash(tenant),
        hash(meeting_uuid),
        hash(file_id)
    )
}

impl Table {
    /// The archive record of a file.
    pub async fn get_archive(
        &self,
        tenant: &str,
        file_id: &str,
    ) -> Result<Option<ArchiveRecord>, StoreError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(key(tenant, file_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError(describe_sdk_error(&e)))?;
        Ok(answer.item().and_then(|item| {
            let text = |n: &str| item.get(n).and_then(|v| v.as_s().ok()).cloned();
            let number = |n: &str| {
                item.get(n)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
            };
            Some(ArchiveRecord {
                status: serde_json::from_value(serde_json::Value::from(text("status")?)).ok()?,
                s3_key: text("s3_key"),
                size: number("size").map(|n| n as u64),
                updated_at: number("updated_at").unwrap_or(0),
            })
        }))
    }

    /// Records that an archive was requested: creates the record, or re-requests a failed or
    /// stale one. Returns whether a job should be queued (false: one is already in flight).
    pub async fn request_archive(
        &self,
        tenant: &str,
        meeting_uuid: &str,
        file_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key(tenant, file_id)))
            .update_expression("SET #status = :pending, meeting_uuid = :uuid, updated_at = :now")
            .condition_expression(
                "attribute_not_exists(pk) OR #status = :failed OR (#status <> :archived AND updated_at < :stale)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", status_text(ArchiveStatus::Pending))
            .expression_attribute_values(":failed", status_text(ArchiveStatus::Failed))
            .expression_attribute_values(":archived", status_text(ArchiveStatus::Archived))
            .expression_attribute_values(":uuid", AttributeValue::S(meeting_uuid.to_owned()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":stale", AttributeValue::N((now - STALE_SECS).to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError(describe_sdk_error(&e))),
        }
    }

    /// Sets an archive's status (and, when archived, where and how big).
    pub async fn set_archive(
        &self,
        tenant: &str,
        file_id: &str,
        status: ArchiveStatus,
        stored: Option<(&str, u64)>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key(tenant, file_id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", status_text(status))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        request = match stored {
            Some((s3_key, size)) => request
                .update_expression(
                    "SET #status = :status, updated_at = :now, s3_key = :key, #size = :size",
                )
                .expression_attribute_names("#size", "size")
                .expression_attribute_values(":key", AttributeValue::S(s3_key.to_owned()))
                .expression_attribute_values(":size", AttributeValue::N(size.to_string())),
            None => request.update_expression("SET #status = :status, updated_at = :now"),
        };
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError(describe_sdk_error(&e)))
    }
}
