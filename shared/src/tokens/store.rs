//! DynamoDB items of the token vault: the tenant's connection (encrypted tokens, version,
//! refresh lease), the one-use OAuth state, the Server-to-Server token cache, and deletion of
//! everything a tenant owns. Keys are in `docs/data-model.md`.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, ReturnValue, WriteRequest};

use crate::aws::{Table, describe_sdk_error, is_condition_failure};

/// A storage failure, described without data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failed: {0}")]
pub struct StoreError(pub String);

impl From<StoreError> for crate::http::ApiError {
    /// Storage trouble is a dependency outage: 503, naming no data.
    fn from(error: StoreError) -> Self {
        crate::http::ApiError::unavailable(error)
    }
}

/// Whether a connection can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Usable.
    Active,
    /// The refresh token is dead: the user must connect again.
    NeedsReauth,
}

/// A tenant's Zoom connection as stored (tokens sealed by the vault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Our tenant.
    pub tenant_id: String,
    /// Zoom user id.
    pub zoom_user_id: String,
    /// Zoom account id (webhooks are routed by it).
    pub zoom_account_id: String,
    /// The Zoom user's email.
    pub email: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The API base Zoom returned with the token.
    pub api_url: Option<String>,
    /// Sealed access token.
    pub access_token: String,
    /// Sealed refresh token.
    pub refresh_token: String,
    /// Access token expiry, epoch seconds.
    pub access_expires_at: i64,
    /// Usable or not.
    pub status: ConnectionStatus,
    /// Bumped by every write of the tokens.
    pub version: i64,
    /// When connected, epoch seconds.
    pub connected_at: i64,
}

/// A consumed OAuth state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    /// The tenant that started the flow.
    pub tenant_id: String,
    /// The sealed PKCE verifier.
    pub pkce_verifier: String,
}

/// The storage the token logic needs (a port; [`Table`] is the adapter).
pub trait ConnectionStore: Send + Sync {
    /// The tenant's connection (strongly consistent).
    fn get(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;
    /// Stores a new connection, replacing any earlier one.
    fn put(&self, connection: &Connection) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes the refresh lease until `until` if it is free (or expired at `now`).
    fn try_lease(
        &self,
        tenant: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Frees the lease if `owner` holds it.
    fn release_lease(
        &self,
        tenant: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores refreshed tokens if the item is still at `version`; frees the lease.
    fn store_refreshed(
        &self,
        update: &Refreshed,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Marks the connection `needs_reauth` if still at `version`.
    fn mark_needs_reauth(
        &self,
        tenant: &str,
        version: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The outcome of a refresh, to store.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// Tenant.
    pub tenant_id: String,
    /// The version the refresh started from.
    pub expected_version: i64,
    /// Sealed access token.
    pub access_token: String,
    /// Sealed refresh token.
    pub refresh_token: String,
    /// Expiry, epoch seconds.
    pub access_expires_at: i64,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// API base.
    pub api_url: Option<String>,
    /// Write even if the version moved (our grant is the only live one).
    pub force: bool,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn connection_key(tenant: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(format!("TENANT#{tenant}"))),
        ("sk".to_owned(), s("CONNECTION")),
    ])
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn store_error<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError {
    StoreError(describe_sdk_error(error))
}

fn parse_connection(item: &HashMap<String, AttributeValue>) -> Option<Connection> {
    Some(Connection {
        tenant_id: text(item, "tenant_id")?,
        zoom_user_id: text(item, "zoom_user_id")?,
        zoom_account_id: text(item, "zoom_account_id")?,
        email: text(item, "email").unwrap_or_default(),
        scopes: item
            .get("scopes")
            .and_then(|v| v.as_s().ok())
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        api_url: text(item, "api_url"),
        access_token: text(item, "access_token")?,
        refresh_token: text(item, "refresh_token")?,
        access_expires_at: number(item, "access_expires_at")?,
        status: if text(item, "status").as_deref() == Some("needs_reauth") {
            ConnectionStatus::NeedsReauth
        } else {
            ConnectionStatus::Active
        },
        version: number(item, "version")?,
        connected_at: number(item, "connected_at").unwrap_or_default(),
    })
}

impl ConnectionStore for Table {
    async fn get(&self, tenant: &str) -> Result<Option<Connection>, StoreError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(connection_key(tenant)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        match answer.item() {
            None => Ok(None),
            Some(item) => parse_connection(item)
                .map(Some)
                .ok_or_else(|| StoreError("connection item is incomplete".into())),
        }
    }

    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        let mut item = connection_key(&c.tenant_id);
        item.extend([
            ("tenant_id".to_owned(), s(&c.tenant_id)),
            ("zoom_user_id".to_owned(), s(&c.zoom_user_id)),
            ("zoom_account_id".to_owned(), s(&c.zoom_account_id)),
            ("email".to_owned(), s(&c.email)),
            ("scopes".to_owned(), s(c.scopes.join(" "))),
            ("access_token".to_owned(), s(&c.access_token)),
            ("refresh_token".to_owned(), s(&c.refresh_token)),
            ("access_expires_at".to_owned(), n(c.access_expires_at)),
            (
                "status".to_owned(),
                s(if c.status == ConnectionStatus::NeedsReauth {
                    "needs_reauth"
                } else {
                    "active"
                }),
            ),
            ("version".to_owned(), n(c.version)),
            ("connected_at".to_owned(), n(c.connected_at)),
            (
                "gsi1pk".to_owned(),
                s(format!("ZOOMACCOUNT#{}", c.zoom_account_id)),
            ),
            ("gsi1sk".to_owned(), s(format!("TENANT#{}", c.tenant_id))),
        ]);
        if let Some(api_url) = &c.api_url {
            item.insert("api_url".to_owned(), s(api_url));
        }
        self.client()
            .put_item()
            .table_name(self.name())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        // A new connection may be another Zoom user: no meeting list cached before it is served.
        self.meeting_lists_changed(&c.tenant_id, crate::meetings::list_cache::now_millis())
            .await
    }

    async fn try_lease(
        &self,
        tenant: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(connection_key(tenant)))
            .update_expression("SET lease_owner = :owner, lease_until = :until")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(store_error(&e)),
        }
    }

    async fn release_lease(&self, tenant: &str, owner: &str) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(connection_key(tenant)))
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(store_error(&e)),
        }
    }

    async fn store_refreshed(&self, r: &Refreshed) -> Result<bool, StoreError> {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(connection_key(&r.tenant_id)))
            .update_expression(
                "SET access_token = :at, refresh_token = :rt, access_expires_at = :exp, scopes = :scopes, \
                 #status = :active, version = version + :one REMOVE lease_owner, lease_until",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", s(&r.access_token))
            .expression_attribute_values(":rt", s(&r.refresh_token))
            .expression_attribute_values(":exp", n(r.access_expires_at))
            .expression_attribute_values(":scopes", s(r.scopes.join(" ")))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":one", n(1));
        request = if r.force {
            request.condition_expression("attribute_exists(pk)")
        } else {
            request
                .condition_expression("version = :version")
                .expression_attribute_values(":version", n(r.expected_version))
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(store_error(&e)),
        }
    }

    async fn mark_needs_reauth(&self, tenant: &str, version: i64) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(connection_key(tenant)))
            .update_expression(
                "SET #status = :reauth, version = version + :one REMOVE lease_owner, lease_until",
            )
            .condition_expression("version = :version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":reauth", s("needs_reauth"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(store_error(&e)),
        }
    }
}

/// OAuth state items and tenant deletion.
impl Table {
    /// Stores a new OAuth state (keyed by the state's hash) until `expires_at`.
    pub async fn put_oauth_state(
        &self,
        state_hash: &str,
        record: &StateRecord,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.name())
            .item("pk", s(format!("OAUTHSTATE#{state_hash}")))
            .item("sk", s("STATE"))
            .item("tenant_id", s(&record.tenant_id))
            .item("pkce_verifier", s(&record.pkce_verifier))
            .item("expires_at", n(expires_at))
            .item("ttl", n(expires_at))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error(&e))
    }

    /// Consumes a state atomically: deleted and returned only if it exists, has not expired at
    /// `now`, and (when `tenant` is given) belongs to that tenant. A failed attempt by another
    /// tenant leaves it in place for its owner.
    pub async fn consume_oauth_state(
        &self,
        state_hash: &str,
        now: i64,
        tenant: Option<&str>,
    ) -> Result<Option<StateRecord>, StoreError> {
        let mut request = self
            .client()
            .delete_item()
            .table_name(self.name())
            .key("pk", s(format!("OAUTHSTATE#{state_hash}")))
            .key("sk", s("STATE"))
            .return_values(ReturnValue::AllOld)
            .expression_attribute_values(":now", n(now));
        request = match tenant {
            Some(tenant) => request
                .condition_expression(
                    "attribute_exists(pk) AND expires_at > :now AND tenant_id = :tenant",
                )
                .expression_attribute_values(":tenant", s(tenant)),
            None => request.condition_expression("attribute_exists(pk) AND expires_at > :now"),
        };
        match request.send().await {
            Ok(answer) => Ok(answer.attributes().and_then(|item| {
                Some(StateRecord {
                    tenant_id: text(item, "tenant_id")?,
                    pkce_verifier: text(item, "pkce_verifier")?,
                })
            })),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(store_error(&e)),
        }
    }

    /// Deletes every item the tenant owns (connection, cached Zoom data, meetings, analytics).
    /// Returns how many items were deleted.
    pub async fn delete_tenant(&self, tenant: &str) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for pk in [
            format!("TENANT#{tenant}"),
            format!("ANALYTICS#{tenant}"),
            format!("HOSTANALYTICS#{tenant}"),
        ] {
            let mut start = None;
            loop {
                let page = self
                    .client()
                    .query()
                    .table_name(self.name())
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(&pk))
                    .projection_expression("pk, sk")
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| store_error(&e))?;
                let keys: Vec<HashMap<String, AttributeValue>> = page.items().to_vec();
                for chunk in keys.chunks(25) {
                    let mut requests: Vec<WriteRequest> = chunk
                        .iter()
                        .filter_map(|key| {
                            DeleteRequest::builder()
                                .set_key(Some(key.clone()))
                                .build()
                                .ok()
                        })
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .collect();
                    // Unprocessed items are retried until none remain (bounded).
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
                            .map_err(|e| store_error(&e))?;
                        let left = answer
                            .unprocessed_items()
                            .and_then(|u| u.get(self.name()))
                            .cloned()
                            .unwrap_or_default();
                        deleted += requests.len() - left.len();
                        requests = left;
                    }
                    if !requests.is_empty() {
                        return Err(StoreError("some items could not be deleted".into()));
                    }
                }
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// The cached Server-to-Server token for `account_id`: (sealed token, expiry).
    pub async fn get_s2s_token(
        &self,
        account_id: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .key("pk", s(format!("S2S#{account_id}")))
            .key("sk", s("TOKEN"))
            .send()
            .await
            .map_err(|e| store_error(&e))?;
        Ok(answer.item().and_then(|item| {
            Some((
                text(item, "access_token")?,
                number(item, "access_expires_at")?,
            ))
        }))
    }

    /// Caches a Server-to-Server token (expires with the token through TTL).
    pub async fn put_s2s_token(
        &self,
        account_id: &str,
        sealed: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.name())
            .item("pk", s(format!("S2S#{account_id}")))
            .item("sk", s("TOKEN"))
            .item("access_token", s(sealed))
            .item("access_expires_at", n(expires_at))
            .item("ttl", n(expires_at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error(&e))
    }
}
