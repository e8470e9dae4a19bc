//! The DynamoDB adapter of archive records: in the connection's partition `DATA#{ns}`,
//! `sk=RECORDING#{fileId}` (`status`, `meeting_uuid`, `host_id`, `file_type`, `s3_key`, `size`,
//! `updated_at`).

use super::{ArchiveRecord, ArchiveRequest, ArchiveStatus, ArchiveStore, STALE_SECS};
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::item::{Item, key, n, number, s, text};
use crate::store::{StoreError, Table};

/// Archive records in the table.
#[derive(Debug, Clone)]
pub struct DynamoArchive {
    table: Table,
}

impl DynamoArchive {
    /// Records in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

fn record_key(owner: &Owner, file_id: &str) -> Item {
    key(owner.data_pk(), format!("RECORDING#{file_id}"))
}

fn status_text(status: ArchiveStatus) -> String {
    format!("{status:?}").to_lowercase()
}

impl ArchiveStore for DynamoArchive {
    async fn get(&self, owner: &Owner, file_id: &str) -> Result<Option<ArchiveRecord>, StoreError> {
        Ok(self
            .table
            .get(record_key(owner, file_id), true)
            .await?
            .and_then(|item| {
                Some(ArchiveRecord {
                    status: serde_json::from_value(serde_json::Value::from(text(&item, "status")?))
                        .ok()?,
                    s3_key: text(&item, "s3_key"),
                    size: number(&item, "size").and_then(|n| u64::try_from(n).ok()),
                    host_id: text(&item, "host_id").unwrap_or_default(),
                    file_type: text(&item, "file_type").unwrap_or_default(),
                    updated_at: number(&item, "updated_at").unwrap_or(0),
                })
            }))
    }

    async fn request(
        &self,
        owner: &Owner,
        request: &ArchiveRequest<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(record_key(owner, request.file_id)))
            .update_expression(
                "SET #status = :pending, meeting_uuid = :uuid, host_id = :host, file_type = :type, updated_at = :now",
            )
            .condition_expression(
                "attribute_not_exists(pk) OR #status = :failed OR (#status <> :archived AND updated_at < :stale)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(status_text(ArchiveStatus::Pending)))
            .expression_attribute_values(":failed", s(status_text(ArchiveStatus::Failed)))
            .expression_attribute_values(":archived", s(status_text(ArchiveStatus::Archived)))
            .expression_attribute_values(":uuid", s(request.meeting_uuid))
            .expression_attribute_values(":host", s(request.host_id))
            .expression_attribute_values(":type", s(request.file_type))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - STALE_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }

    async fn set(
        &self,
        owner: &Owner,
        file_id: &str,
        status: ArchiveStatus,
        stored: Option<(&str, u64)>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(record_key(owner, file_id)))
            // Only a record that exists: a purged connection's record is not brought back.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status_text(status)))
            .expression_attribute_values(":now", n(now));
        request = match stored {
            Some((s3_key, size)) => request
                .update_expression(
                    "SET #status = :status, updated_at = :now, s3_key = :key, #size = :size",
                )
                .expression_attribute_names("#size", "size")
                .expression_attribute_values(":key", s(s3_key))
                .expression_attribute_values(":size", n(i64::try_from(size).unwrap_or(i64::MAX))),
            None => request.update_expression("SET #status = :status, updated_at = :now"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}
