//! The DynamoDB side of a purge: each of the owner's partitions queried for its keys and
//! deleted in batches (unprocessed items sent again).

use super::PartitionPurger;
use crate::owner::Owner;
use crate::store::{StoreError, Table};

/// Purges in the table.
#[derive(Debug, Clone)]
pub struct DynamoPurge {
    table: Table,
}

impl DynamoPurge {
    /// Purges in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

impl PartitionPurger for DynamoPurge {
    async fn purge_partitions(&self, owner: &Owner) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for pk in owner.partitions() {
            let keys = self.table.keys_of(&pk, None).await?;
            deleted += self.table.delete_all(keys).await?;
        }
        Ok(deleted)
    }
}
