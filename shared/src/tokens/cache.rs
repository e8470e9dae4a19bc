//! The Server-to-Server token cache, shared by every function: `pk=S2S#{account}`,
//! `sk=TOKEN` (sealed token and expiry; TTL removes it with the token).

use crate::store::item::{key, n, number, s, text};
use crate::store::{StoreError, Table};

/// Where the account's token is shared.
pub trait AccountTokenCache: Send + Sync {
    /// The cached (sealed token, expiry).
    fn get(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Option<(String, i64)>, StoreError>> + Send;
    /// Caches a sealed token until `expires_at`.
    fn put(
        &self,
        account_id: &str,
        sealed: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The cache in the table.
#[derive(Debug, Clone)]
pub struct DynamoTokenCache {
    table: Table,
}

impl DynamoTokenCache {
    /// The cache in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

fn cache_key(account_id: &str) -> crate::store::item::Item {
    key(format!("S2S#{account_id}"), "TOKEN")
}

impl AccountTokenCache for DynamoTokenCache {
    async fn get(&self, account_id: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .table
            .get(cache_key(account_id), false)
            .await?
            .and_then(|item| {
                Some((
                    text(&item, "access_token")?,
                    number(&item, "access_expires_at")?,
                ))
            }))
    }

    async fn put(&self, account_id: &str, sealed: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut item = cache_key(account_id);
        item.extend([
            ("access_token".to_owned(), s(sealed)),
            ("access_expires_at".to_owned(), n(expires_at)),
            ("ttl".to_owned(), n(expires_at)),
        ]);
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }
}
