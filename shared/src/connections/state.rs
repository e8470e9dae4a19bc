//! The one-use OAuth state of the connect flow: `pk=OAUTHSTATE#{sha256(state)}`, `sk=STATE`,
//! holding the tenant that started the flow, the sealed PKCE verifier and the hash of the
//! browser nonce (the cookie set on the browser that started it). A state is consumed
//! atomically, and only by whoever it is bound to: the same tenant (API callback) or the same
//! browser (browser callback). A wrong tenant or browser leaves it for its owner.

use crate::aws::is_condition_failure;
use crate::store::item::{key, n, s, text};
use crate::store::{StoreError, Table};

/// A stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    /// The tenant that started the flow.
    pub tenant_id: String,
    /// The sealed PKCE verifier.
    pub pkce_verifier: String,
    /// SHA-256 (hex) of the browser nonce.
    pub browser_hash: String,
}

/// Who is completing a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// The tenant of a caller JWT (the API callback).
    Tenant(&'a str),
    /// The hash of the nonce cookie the browser presented (the browser callback).
    Browser(&'a str),
}

/// OAuth states.
pub trait StateStore: Send + Sync {
    /// Stores a new state under its hash until `expires_at`.
    fn put(
        &self,
        state_hash: &str,
        record: &StateRecord,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes and returns the state if it exists, has not expired at `now` and is bound to
    /// `binding`; `None` otherwise (and then it stays).
    fn consume(
        &self,
        state_hash: &str,
        now: i64,
        binding: Binding<'_>,
    ) -> impl Future<Output = Result<Option<StateRecord>, StoreError>> + Send;
}

/// States in the table (the connections' adapter's table).
#[derive(Debug, Clone)]
pub struct DynamoStates {
    table: Table,
}

impl DynamoStates {
    /// States in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

fn state_key(state_hash: &str) -> crate::store::item::Item {
    key(format!("OAUTHSTATE#{state_hash}"), "STATE")
}

impl StateStore for DynamoStates {
    async fn put(
        &self,
        state_hash: &str,
        record: &StateRecord,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut item = state_key(state_hash);
        item.extend([
            ("tenant_id".to_owned(), s(&record.tenant_id)),
            ("pkce_verifier".to_owned(), s(&record.pkce_verifier)),
            ("browser_hash".to_owned(), s(&record.browser_hash)),
            ("expires_at".to_owned(), n(expires_at)),
            ("ttl".to_owned(), n(expires_at)),
        ]);
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    async fn consume(
        &self,
        state_hash: &str,
        now: i64,
        binding: Binding<'_>,
    ) -> Result<Option<StateRecord>, StoreError> {
        let (condition, value) = match binding {
            Binding::Tenant(tenant) => ("tenant_id = :bound", tenant),
            Binding::Browser(hash) => ("browser_hash = :bound", hash),
        };
        let result = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .set_key(Some(state_key(state_hash)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .condition_expression(format!(
                "attribute_exists(pk) AND expires_at > :now AND {condition}"
            ))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":bound", s(value))
            .send()
            .await;
        match result {
            Ok(answer) => Ok(answer.attributes().and_then(|item| {
                Some(StateRecord {
                    tenant_id: text(item, "tenant_id")?,
                    pkce_verifier: text(item, "pkce_verifier")?,
                    browser_hash: text(item, "browser_hash").unwrap_or_default(),
                })
            })),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}
