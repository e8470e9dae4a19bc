//! The DynamoDB table handle every store adapter is built over, with the generic operations
//! they share (paged partition reads, batch writes with unprocessed-item retries). Every item of
//! the integration lives in this one table (`docs/data-model.md`); which keys a concept may
//! touch is that concept's adapter's business.

use aws_sdk_dynamodb::types::{DeleteRequest, TableStatus, WriteRequest};

use super::StoreError;
use super::item::{Item, s};
use crate::aws::describe_sdk_error;
use crate::probe::{Probe, ProbeFailure};

/// Unprocessed batch items are sent again at most this many times.
const BATCH_ROUNDS: usize = 8;

/// The integration's DynamoDB table.
#[derive(Debug, Clone)]
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl Table {
    /// The table `name`, reached through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One item by key.
    pub async fn get(&self, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(&e))?;
        Ok(answer.item().cloned())
    }

    /// Every key (`pk`, `sk`) of partition `pk` whose sort key begins with `prefix`, all pages.
    pub async fn keys_of(&self, pk: &str, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        self.query_partition(pk, prefix, Some("pk, sk"), false)
            .await
    }

    /// Every item of partition `pk` (sort key beginning with `prefix`), all pages.
    pub async fn query_partition(
        &self,
        pk: &str,
        prefix: Option<&str>,
        projection: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.name)
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(consistent)
                .set_projection_expression(projection.map(str::to_owned))
                .set_exclusive_start_key(start);
            request = match prefix {
                Some(prefix) => request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix)),
                None => request.key_condition_expression("pk = :pk"),
            };
            let page = request.send().await.map_err(|e| StoreError::from_sdk(&e))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Writes `requests` in batches of 25, sending unprocessed items again; returns how many
    /// were written.
    async fn batch(&self, requests: Vec<WriteRequest>) -> Result<usize, StoreError> {
        let mut written = 0;
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for _ in 0..BATCH_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                let answer = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, pending.clone())
                    .send()
                    .await
                    .map_err(|e| StoreError(describe_sdk_error(&e)))?;
                let left = answer
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.name))
                    .cloned()
                    .unwrap_or_default();
                written += pending.len() - left.len();
                pending = left;
            }
            if !pending.is_empty() {
                return Err(StoreError("some items could not be written".into()));
            }
        }
        Ok(written)
    }

    /// Deletes the items with `keys` (batched); returns how many.
    pub async fn delete_all(&self, keys: Vec<Item>) -> Result<usize, StoreError> {
        let mut requests = Vec::with_capacity(keys.len());
        for key in keys {
            let delete = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(|_| StoreError("a key could not be built".into()))?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        self.batch(requests).await
    }
}

impl Probe for Table {
    fn name(&self) -> &'static str {
        "table"
    }

    /// `DescribeTable`: the table exists and is `ACTIVE`.
    async fn probe(&self) -> Result<(), ProbeFailure> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.name)
            .send()
            .await
            .map_err(|e| ProbeFailure(describe_sdk_error(&e)))?;
        match described.table().and_then(|t| t.table_status()) {
            Some(TableStatus::Active) => Ok(()),
            Some(status) => Err(ProbeFailure(format!("table status is {}", status.as_str()))),
            None => Err(ProbeFailure("table status unknown".to_owned())),
        }
    }
}
