//! The DynamoDB adapter of the connections concept: `pk=TENANT#{tenant}`, `sk=CONNECTION`, and
//! index `gsi1` for routing events: `ZOOMHOST#{account}#{user}` for a connection that reaches a
//! user, `ZOOMACCOUNT#{account}` for one that reaches the account (`docs/data-model.md`).

use aws_sdk_dynamodb::types::AttributeValue;

use super::store::{ConnectionStore, OwnerDirectory, Refreshed};
use super::{Connection, ConnectionStatus};
use crate::aws::is_condition_failure;
use crate::owner::{Mode, Owner, Reach};
use crate::store::item::{Item, key, n, number, s, text};
use crate::store::{StoreError, Table};

/// Connections in the table.
#[derive(Debug, Clone)]
pub struct DynamoConnections {
    table: Table,
}

impl DynamoConnections {
    /// Connections in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

/// The connection id of an item written before connections had ids.
pub const LEGACY_CONNECTION: &str = "legacy";

fn connection_key(tenant: &str) -> Item {
    key(format!("TENANT#{tenant}"), "CONNECTION")
}

/// The routing partition of a connection.
fn route_pk(account: &str, reach: &Reach) -> String {
    match reach {
        Reach::User { zoom_user_id } => format!("ZOOMHOST#{account}#{zoom_user_id}"),
        Reach::Account => format!("ZOOMACCOUNT#{account}"),
    }
}

fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::UserOAuth => "user_oauth",
        Mode::ServerToServer => "server_to_server",
    }
}

fn to_item(c: &Connection) -> Item {
    let mut item = connection_key(&c.tenant_id);
    item.extend([
        ("tenant_id".to_owned(), s(&c.tenant_id)),
        ("connection_id".to_owned(), s(&c.connection_id)),
        ("mode".to_owned(), s(mode_text(c.mode))),
        (
            "reach".to_owned(),
            s(match c.reach {
                Reach::User { .. } => "user",
                Reach::Account => "account",
            }),
        ),
        ("zoom_user_id".to_owned(), s(c.zoom_user_id())),
        ("zoom_account_id".to_owned(), s(&c.zoom_account_id)),
        ("email".to_owned(), s(&c.email)),
        ("scopes".to_owned(), s(c.scopes.join(" "))),
        ("access_token".to_owned(), s(&c.access_token)),
        ("refresh_token".to_owned(), s(&c.refresh_token)),
        ("access_expires_at".to_owned(), n(c.access_expires_at)),
        (
            "status".to_owned(),
            s(match c.status {
                ConnectionStatus::NeedsReauth => "needs_reauth",
                ConnectionStatus::Active => "active",
            }),
        ),
        ("version".to_owned(), n(c.version)),
        ("connected_at".to_owned(), n(c.connected_at)),
        (
            "gsi1pk".to_owned(),
            s(route_pk(&c.zoom_account_id, &c.reach)),
        ),
        ("gsi1sk".to_owned(), s(format!("TENANT#{}", c.tenant_id))),
    ]);
    if let Some(api_url) = &c.api_url {
        item.insert("api_url".to_owned(), s(api_url));
    }
    if let Some(claim) = &c.bound_claim {
        item.insert("bound_claim".to_owned(), s(claim));
    }
    item
}

fn parse(item: &Item) -> Option<Connection> {
    let zoom_user_id = text(item, "zoom_user_id").unwrap_or_default();
    let reach = if text(item, "reach").as_deref() == Some("account") {
        Reach::Account
    } else {
        Reach::User { zoom_user_id }
    };
    Some(Connection {
        tenant_id: text(item, "tenant_id")?,
        // Items written before connections had ids: one namespace of their own, so they can
        // still be used, disconnected and purged.
        connection_id: text(item, "connection_id").unwrap_or_else(|| LEGACY_CONNECTION.to_owned()),
        mode: if text(item, "mode").as_deref() == Some("server_to_server") {
            Mode::ServerToServer
        } else {
            Mode::UserOAuth
        },
        reach,
        zoom_account_id: text(item, "zoom_account_id")?,
        email: text(item, "email").unwrap_or_default(),
        scopes: text(item, "scopes")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        api_url: text(item, "api_url"),
        access_token: text(item, "access_token").unwrap_or_default(),
        refresh_token: text(item, "refresh_token").unwrap_or_default(),
        access_expires_at: number(item, "access_expires_at").unwrap_or_default(),
        status: if text(item, "status").as_deref() == Some("needs_reauth") {
            ConnectionStatus::NeedsReauth
        } else {
            ConnectionStatus::Active
        },
        version: number(item, "version")?,
        connected_at: number(item, "connected_at").unwrap_or_default(),
        bound_claim: text(item, "bound_claim"),
    })
}

/// `Ok(true)` for success, `Ok(false)` for a failed condition.
fn conditional<T, E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(StoreError::from_sdk(&e)),
    }
}

/// The condition that the item is still the grant `connection_id` made at `connected_at`
/// (values `:cid` and `:cat`). An item written before connections had ids (read as `legacy`,
/// connected at 0) has neither attribute: its grant is "the attribute is absent".
fn same_grant(connection_id: &str, connected_at: i64) -> &'static str {
    match (connection_id == LEGACY_CONNECTION, connected_at == 0) {
        (false, false) => "connection_id = :cid AND connected_at = :cat",
        (false, true) => {
            "connection_id = :cid AND (connected_at = :cat OR attribute_not_exists(connected_at))"
        }
        (true, _) => {
            "(connection_id = :cid OR attribute_not_exists(connection_id)) AND (connected_at = :cat OR attribute_not_exists(connected_at))"
        }
    }
}

impl ConnectionStore for DynamoConnections {
    async fn get(&self, tenant: &str) -> Result<Option<Connection>, StoreError> {
        match self.table.get(connection_key(tenant), true).await? {
            None => Ok(None),
            Some(item) => parse(&item)
                .map(Some)
                .ok_or_else(|| StoreError("connection item is incomplete".into())),
        }
    }

    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(to_item(c)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    async fn put_new(&self, c: &Connection) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .put_item()
                .table_name(self.table.name())
                .set_item(Some(to_item(c)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await,
        )
    }

    async fn delete(&self, tenant: &str, connection_id: &str) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .delete_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .condition_expression("connection_id = :cid")
                .expression_attribute_values(":cid", s(connection_id))
                .send()
                .await,
        )
    }

    async fn delete_if_connected_by(
        &self,
        tenant: &str,
        connection_id: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .delete_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .condition_expression("connection_id = :cid AND connected_at <= :at")
                .expression_attribute_values(":cid", s(connection_id))
                .expression_attribute_values(":at", n(at))
                .send()
                .await,
        )
    }

    async fn try_lease(
        &self,
        tenant: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .update_expression("SET lease_owner = :owner, lease_until = :until")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                )
                .expression_attribute_values(":owner", s(owner))
                .expression_attribute_values(":until", n(until))
                .expression_attribute_values(":now", n(now))
                .send()
                .await,
        )
    }

    async fn release_lease(&self, tenant: &str, owner: &str) -> Result<(), StoreError> {
        conditional(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .update_expression("REMOVE lease_owner, lease_until")
                .condition_expression("lease_owner = :owner")
                .expression_attribute_values(":owner", s(owner))
                .send()
                .await,
        )
        .map(|_| ())
    }

    async fn store_refreshed(&self, r: &Refreshed) -> Result<bool, StoreError> {
        let mut expression =
            "SET access_token = :at, refresh_token = :rt, access_expires_at = :exp, \
             scopes = :scopes, #status = :active, version = version + :one"
                .to_owned();
        if r.api_url.is_some() {
            expression.push_str(", api_url = :api");
        }
        expression.push_str(" REMOVE lease_owner, lease_until");
        let mut request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(connection_key(&r.tenant_id)))
            .update_expression(expression)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", s(&r.access_token))
            .expression_attribute_values(":rt", s(&r.refresh_token))
            .expression_attribute_values(":exp", n(r.access_expires_at))
            .expression_attribute_values(":scopes", s(r.scopes.join(" ")))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cid", s(&r.connection_id))
            .expression_attribute_values(":cat", n(r.connected_at));
        if let Some(api) = &r.api_url {
            request = request.expression_attribute_values(":api", s(api));
        }
        let grant = same_grant(&r.connection_id, r.connected_at);
        request = if r.force {
            request.condition_expression(grant)
        } else {
            request
                .condition_expression(format!("{grant} AND version = :version"))
                .expression_attribute_values(":version", n(r.expected_version))
        };
        conditional(request.send().await)
    }

    async fn reseal(
        &self,
        tenant: &str,
        connection_id: &str,
        version: i64,
        (access, refresh): (&str, &str),
    ) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .update_expression("SET access_token = :at, refresh_token = :rt")
                .condition_expression("connection_id = :cid AND version = :version")
                .expression_attribute_values(":at", s(access))
                .expression_attribute_values(":rt", s(refresh))
                .expression_attribute_values(":cid", s(connection_id))
                .expression_attribute_values(":version", n(version))
                .send()
                .await,
        )
    }

    async fn mark_needs_reauth(
        &self,
        tenant: &str,
        connection_id: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .update_expression(
                    "SET #status = :reauth, version = version + :one REMOVE lease_owner, lease_until",
                )
                .condition_expression("connection_id = :cid AND version = :version")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":reauth", s("needs_reauth"))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cid", s(connection_id))
                .expression_attribute_values(":version", n(version))
                .send()
                .await,
        )
    }

    async fn expire_access_token(
        &self,
        tenant: &str,
        (connection_id, connected_at): (&str, i64),
        version: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        conditional(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(connection_key(tenant)))
                .update_expression("SET access_expires_at = :now")
                .condition_expression(format!(
                    "{} AND version = :version",
                    same_grant(connection_id, connected_at)
                ))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":cat", n(connected_at))
                .expression_attribute_values(":cid", s(connection_id))
                .expression_attribute_values(":version", n(version))
                .send()
                .await,
        )
    }

    async fn keep_pending_pair(&self, r: &Refreshed) -> Result<(), StoreError> {
        // UpdateItem (an upsert): every function that refreshes tokens holds it already.
        let mut expression = "SET access_token = :at, refresh_token = :rt, \
             access_expires_at = :exp, scopes = :scopes, expected_version = :version, \
             connected_at = :cat, #ttl = :ttl"
            .to_owned();
        if r.api_url.is_some() {
            expression.push_str(", api_url = :api");
        }
        let mut request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(pending_key(&r.tenant_id, &r.connection_id)))
            .update_expression(expression)
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":at", s(&r.access_token))
            .expression_attribute_values(":rt", s(&r.refresh_token))
            .expression_attribute_values(":exp", n(r.access_expires_at))
            .expression_attribute_values(":scopes", s(r.scopes.join(" ")))
            .expression_attribute_values(":version", n(r.expected_version))
            .expression_attribute_values(":cat", n(r.connected_at))
            .expression_attribute_values(
                ":ttl",
                n(crate::clock::now_secs() + PENDING_PAIR_TTL_SECS),
            );
        if let Some(api) = &r.api_url {
            request = request.expression_attribute_values(":api", s(api));
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }

    async fn pending_pair(
        &self,
        tenant: &str,
        connection_id: &str,
    ) -> Result<Option<Refreshed>, StoreError> {
        let Some(item) = self
            .table
            .get(pending_key(tenant, connection_id), true)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Refreshed {
            tenant_id: tenant.to_owned(),
            connection_id: connection_id.to_owned(),
            expected_version: number(&item, "expected_version").unwrap_or_default(),
            connected_at: number(&item, "connected_at").unwrap_or_default(),
            access_token: text(&item, "access_token").unwrap_or_default(),
            refresh_token: text(&item, "refresh_token").unwrap_or_default(),
            access_expires_at: number(&item, "access_expires_at").unwrap_or_default(),
            scopes: text(&item, "scopes")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            api_url: text(&item, "api_url"),
            force: false,
        }))
    }
}

/// How long a kept pair lives (DynamoDB's TTL removes it; a pair is live only until the
/// connection moves past the version it refreshed, so a stale one is never applied).
pub const PENDING_PAIR_TTL_SECS: i64 = 7 * 86_400;

/// The item of a connection's kept rotated pair: in its data partition (purged with it).
fn pending_key(tenant: &str, connection_id: &str) -> Item {
    key(
        format!("DATA#{}", crate::owner::namespace(tenant, connection_id)),
        "PENDING_PAIR",
    )
}

impl DynamoConnections {
    async fn routed(&self, pk: String) -> Result<Vec<(Owner, i64)>, StoreError> {
        let mut owners = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .table
                .client()
                .query()
                .table_name(self.table.name())
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::from_sdk(&e))?;
            owners.extend(
                page.items()
                    .iter()
                    .filter_map(parse)
                    .map(|c| (c.owner(), c.connected_at)),
            );
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(owners);
            }
        }
    }
}

impl OwnerDirectory for DynamoConnections {
    async fn owners_of(
        &self,
        account_id: &str,
        host_id: &str,
    ) -> Result<Vec<(Owner, i64)>, StoreError> {
        if account_id.is_empty() {
            return Ok(Vec::new());
        }
        let account = self.routed(route_pk(account_id, &Reach::Account));
        if host_id.is_empty() {
            return account.await;
        }
        let user = Reach::User {
            zoom_user_id: host_id.to_owned(),
        };
        let (hosts, accounts) = tokio::join!(self.routed(route_pk(account_id, &user)), account);
        let mut owners = hosts?;
        owners.extend(accounts?);
        Ok(owners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(reach: Reach) -> Connection {
        Connection {
            tenant_id: "t".into(),
            connection_id: "c1".into(),
            mode: Mode::UserOAuth,
            reach,
            zoom_account_id: "a".into(),
            email: "e@x".into(),
            scopes: vec!["meeting:read".into(), "user:read".into()],
            api_url: Some("https://api-eu.zoom.us".into()),
            access_token: "sealed-a".into(),
            refresh_token: "sealed-r".into(),
            access_expires_at: 10,
            status: ConnectionStatus::NeedsReauth,
            version: 3,
            connected_at: 5,
            bound_claim: None,
        }
    }

    #[test]
    fn items_round_trip_with_their_routing_key() {
        let user = connection(Reach::User {
            zoom_user_id: "u".into(),
        });
        let item = to_item(&user);
        assert_eq!(text(&item, "gsi1pk").as_deref(), Some("ZOOMHOST#a#u"));
        assert_eq!(parse(&item), Some(user));
        let mut account = connection(Reach::Account);
        account.mode = Mode::ServerToServer;
        account.bound_claim = Some("account".into());
        let item = to_item(&account);
        assert_eq!(text(&item, "gsi1pk").as_deref(), Some("ZOOMACCOUNT#a"));
        assert_eq!(parse(&item), Some(account));
    }
}
