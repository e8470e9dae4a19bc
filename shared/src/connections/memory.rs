//! In-memory fakes of the connections ports, with DynamoDB's conditional semantics, for unit
//! tests of handlers and token logic (feature `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::state::{Binding, StateRecord, StateStore};
use super::store::{ConnectionStore, OwnerDirectory, Refreshed};
use super::{Connection, ConnectionStatus};
use crate::owner::{Owner, Reach};
use crate::store::StoreError;

/// A stored connection and its lease (owner, until).
type Entry = (Connection, Option<(String, i64)>);

/// Connections in memory.
#[derive(Debug, Default)]
pub struct MemoryConnections {
    items: Mutex<HashMap<String, Entry>>,
    pending: Mutex<HashMap<(String, String), Refreshed>>,
}

impl MemoryConnections {
    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ConnectionStore for MemoryConnections {
    async fn get(&self, tenant: &str) -> Result<Option<Connection>, StoreError> {
        Ok(self.items().get(tenant).map(|(c, _)| c.clone()))
    }

    async fn put(&self, c: &Connection) -> Result<(), StoreError> {
        self.items().insert(c.tenant_id.clone(), (c.clone(), None));
        Ok(())
    }

    async fn put_new(&self, c: &Connection) -> Result<bool, StoreError> {
        let mut items = self.items();
        if items.contains_key(&c.tenant_id) {
            return Ok(false);
        }
        items.insert(c.tenant_id.clone(), (c.clone(), None));
        Ok(true)
    }

    async fn delete(&self, tenant: &str, connection_id: &str) -> Result<bool, StoreError> {
        let mut items = self.items();
        if items
            .get(tenant)
            .is_some_and(|(c, _)| c.connection_id == connection_id)
        {
            items.remove(tenant);
            return Ok(true);
        }
        Ok(false)
    }

    async fn delete_if_connected_by(
        &self,
        tenant: &str,
        connection_id: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut items = self.items();
        if items
            .get(tenant)
            .is_some_and(|(c, _)| c.connection_id == connection_id && c.connected_at <= at)
        {
            items.remove(tenant);
            return Ok(true);
        }
        Ok(false)
    }

    async fn try_lease(
        &self,
        tenant: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut items = self.items();
        let Some((_, lease)) = items.get_mut(tenant) else {
            return Ok(false);
        };
        if lease.as_ref().is_some_and(|(_, u)| *u >= now) {
            return Ok(false);
        }
        *lease = Some((owner.to_owned(), until));
        Ok(true)
    }

    async fn release_lease(&self, tenant: &str, owner: &str) -> Result<(), StoreError> {
        if let Some((_, lease)) = self.items().get_mut(tenant)
            && lease.as_ref().is_some_and(|(o, _)| o == owner)
        {
            *lease = None;
        }
        Ok(())
    }

    async fn store_refreshed(&self, r: &Refreshed) -> Result<bool, StoreError> {
        let mut items = self.items();
        let Some((c, lease)) = items.get_mut(&r.tenant_id) else {
            return Ok(false);
        };
        if c.connection_id != r.connection_id
            || c.connected_at != r.connected_at
            || (!r.force && c.version != r.expected_version)
        {
            return Ok(false);
        }
        c.access_token = r.access_token.clone();
        c.refresh_token = r.refresh_token.clone();
        c.access_expires_at = r.access_expires_at;
        c.scopes = r.scopes.clone();
        if r.api_url.is_some() {
            c.api_url = r.api_url.clone();
        }
        c.status = ConnectionStatus::Active;
        c.version += 1;
        *lease = None;
        Ok(true)
    }

    async fn reseal(
        &self,
        tenant: &str,
        connection_id: &str,
        version: i64,
        (access, refresh): (&str, &str),
    ) -> Result<bool, StoreError> {
        let mut items = self.items();
        let Some((c, _)) = items.get_mut(tenant) else {
            return Ok(false);
        };
        if c.connection_id != connection_id || c.version != version {
            return Ok(false);
        }
        c.access_token = access.to_owned();
        c.refresh_token = refresh.to_owned();
        Ok(true)
    }

    async fn mark_needs_reauth(
        &self,
        tenant: &str,
        connection_id: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        let mut items = self.items();
        let Some((c, lease)) = items.get_mut(tenant) else {
            return Ok(false);
        };
        if c.connection_id != connection_id || c.version != version {
            return Ok(false);
        }
        c.status = ConnectionStatus::NeedsReauth;
        c.version += 1;
        *lease = None;
        Ok(true)
    }

    async fn expire_access_token(
        &self,
        tenant: &str,
        (connection_id, connected_at): (&str, i64),
        version: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut items = self.items();
        let Some((c, _)) = items.get_mut(tenant) else {
            return Ok(false);
        };
        if c.connection_id != connection_id
            || c.connected_at != connected_at
            || c.version != version
        {
            return Ok(false);
        }
        c.access_expires_at = now;
        Ok(true)
    }

    async fn keep_pending_pair(&self, pair: &Refreshed) -> Result<(), StoreError> {
        self.pending().insert(
            (pair.tenant_id.clone(), pair.connection_id.clone()),
            pair.clone(),
        );
        Ok(())
    }

    async fn pending_pair(
        &self,
        tenant: &str,
        connection_id: &str,
    ) -> Result<Option<Refreshed>, StoreError> {
        Ok(self
            .pending()
            .get(&(tenant.to_owned(), connection_id.to_owned()))
            .cloned())
    }
}

impl MemoryConnections {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Refreshed>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl OwnerDirectory for MemoryConnections {
    async fn owners_of(
        &self,
        account_id: &str,
        host_id: &str,
    ) -> Result<Vec<(Owner, i64)>, StoreError> {
        let mut owners: Vec<(Owner, i64)> = self
            .items()
            .values()
            .map(|(c, _)| c)
            .filter(|c| !account_id.is_empty() && c.zoom_account_id == account_id)
            .filter(|c| match &c.reach {
                Reach::User { zoom_user_id } => !host_id.is_empty() && zoom_user_id == host_id,
                Reach::Account => true,
            })
            .map(|c| (c.owner(), c.connected_at))
            .collect();
        owners.sort_by(|a, b| a.0.tenant_id.cmp(&b.0.tenant_id));
        Ok(owners)
    }
}

/// A user-OAuth connection of `tenant` to Zoom user `zoom_user` of `account`, made at
/// `connected_at`, for tests (its sealed tokens are placeholders).
pub fn user_connection(
    tenant: &str,
    connection_id: &str,
    account: &str,
    zoom_user: &str,
    connected_at: i64,
) -> Connection {
    Connection {
        tenant_id: tenant.into(),
        connection_id: connection_id.into(),
        mode: crate::owner::Mode::UserOAuth,
        reach: Reach::User {
            zoom_user_id: zoom_user.into(),
        },
        zoom_account_id: account.into(),
        email: format!("{zoom_user}@example.com"),
        scopes: Vec::new(),
        api_url: None,
        access_token: "sealed-access".into(),
        refresh_token: "sealed-refresh".into(),
        access_expires_at: connected_at + 3600,
        status: ConnectionStatus::Active,
        version: 1,
        connected_at,
        bound_claim: None,
    }
}

/// OAuth states in memory.
#[derive(Debug, Default)]
pub struct MemoryStates {
    items: Mutex<HashMap<String, (StateRecord, i64)>>,
}

impl StateStore for MemoryStates {
    async fn put(
        &self,
        state_hash: &str,
        record: &StateRecord,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if items.contains_key(state_hash) {
            return Err(StoreError("ConditionalCheckFailedException".into()));
        }
        items.insert(state_hash.to_owned(), (record.clone(), expires_at));
        Ok(())
    }

    async fn consume(
        &self,
        state_hash: &str,
        now: i64,
        binding: Binding<'_>,
    ) -> Result<Option<StateRecord>, StoreError> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let bound = items.get(state_hash).is_some_and(|(r, expires)| {
            *expires > now
                && match binding {
                    Binding::Tenant(t) => r.tenant_id == t,
                    Binding::Browser(h) => r.browser_hash == h,
                }
        });
        Ok(if bound {
            items.remove(state_hash).map(|(r, _)| r)
        } else {
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> StateRecord {
        StateRecord {
            tenant_id: "m".into(),
            pkce_verifier: "v".into(),
            browser_hash: "h-of-m".into(),
        }
    }

    #[tokio::test]
    async fn a_state_is_consumed_only_by_its_tenant_or_its_browser_and_once() {
        let states = MemoryStates::default();
        states.put("s", &record(), 100).await.expect("put");
        assert!(
            states
                .consume("s", 10, Binding::Browser("h-of-victim"))
                .await
                .expect("c")
                .is_none(),
            "another browser cannot complete it"
        );
        assert!(
            states
                .consume("s", 10, Binding::Tenant("v"))
                .await
                .expect("c")
                .is_none()
        );
        assert!(
            states
                .consume("s", 10, Binding::Browser("h-of-m"))
                .await
                .expect("c")
                .is_some(),
            "the failed attempts did not burn it"
        );
        assert!(
            states
                .consume("s", 10, Binding::Browser("h-of-m"))
                .await
                .expect("c")
                .is_none()
        );
    }
}
