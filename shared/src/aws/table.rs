//! The DynamoDB table adapter. Every item of the integration lives in this one table
//! (see `docs/data-model.md`); later concepts (connections, meetings, aggregates) add their
//! access patterns as methods on stores built over [`Table`].

use aws_sdk_dynamodb::types::TableStatus;

use super::describe_sdk_error;
use crate::probe::{Probe, ProbeFailure};

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
