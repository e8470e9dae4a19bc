//! Fresh access tokens for a tenant, refreshed at most once per expiry across every process.
//!
//! Zoom's refresh tokens rotate and the old one dies at once, so two concurrent refreshes lose
//! the connection. The rules:
//! - a token with less than [`REFRESH_SKEW_SECS`] left, or one Zoom just answered 401 (code
//!   124) for, is refreshed;
//! - inside one process, callers for a tenant queue on one lock (single flight);
//! - across processes, only the holder of the item's lease (a conditional write) refreshes; it
//!   stores the new pair with a version check, the others wait and re-read;
//! - on `invalid_grant` the item is re-read first: only if nobody else refreshed meanwhile is
//!   the connection marked `needs_reauth`;
//! - a refresh starts only with enough time left for Zoom's answer ([`OAUTH_TIMEOUT`]) and for
//!   storing it ([`STORE_RESERVE`]), and [`MARGIN`] more, before the Lambda can end (the
//!   invocation's end the request loop knows, else [`MARGIN`] after the caller's deadline),
//!   else the caller gets a 503 to retry: a
//!   rotated pair is never abandoned by a request that runs out of time. If Zoom had rejected
//!   the stored token, its expiry is moved to now first, so the retry (in any process)
//!   refreshes before it calls Zoom, with its whole budget;
//! - the rotated pair is stored (conditioned on the connection and grant it refreshed) with
//!   retries within [`STORE_RESERVE`]; if storing still fails, the pair is kept aside in an
//!   item of its own and in this process, and the lease let go: the next refresh by any
//!   process rolls the kept pair forward (stores it) before anything else, and this process
//!   stores it on its next use unless that happened already. A kept pair is applied only while
//!   the connection is still at the version it refreshed, so a stale copy never overwrites a
//!   newer rotation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use secrecy::{ExposeSecret, SecretString};

use super::vault::{Vault, VaultError};
use crate::connections::{Connection, ConnectionStatus, ConnectionStore, Refreshed};
use crate::http::deadline::{MARGIN, invocation_end};
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::zoom::http_client::OAUTH_TIMEOUT;
use crate::zoom::oauth::{OAuthError, TokenGrant, ZoomOAuth};

/// Refresh when less than this many seconds are left.
pub const REFRESH_SKEW_SECS: i64 = 300;
/// How long a refresh lease lasts.
pub const LEASE_SECS: i64 = 15;
/// How long a caller waits for another process's refresh.
pub const PEER_WAIT: Duration = Duration::from_secs(8);
/// Time kept after Zoom's refresh answer for storing the rotated pair (with retries).
pub const STORE_RESERVE: Duration = Duration::from_millis(1500);

/// The port that refreshes tokens at Zoom ([`ZoomOAuth`] in production).
pub trait Refresher: Send + Sync {
    /// Exchanges a refresh token.
    fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> impl Future<Output = Result<TokenGrant, OAuthError>> + Send;
}

impl Refresher for ZoomOAuth {
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, OAuthError> {
        ZoomOAuth::refresh(self, refresh_token).await
    }
}

/// A usable access token.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The bearer token.
    pub access_token: SecretString,
    /// The API base Zoom returned with it, if any.
    pub api_url: Option<String>,
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The tenant never connected (or disconnected).
    #[error("this tenant has no Zoom connection")]
    NotConnected,
    /// The refresh token is dead, or the stored tokens are unusable.
    #[error("the Zoom connection needs to be authorized again")]
    NeedsReauth,
    /// Zoom's token endpoint failed (not `invalid_grant`).
    #[error("Zoom token refresh failed: {0}")]
    Upstream(String),
    /// Another process holds the refresh lease for too long.
    #[error("a token refresh is in progress; try again shortly")]
    Busy,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sealing owner for a tenant's token field.
pub fn owner(tenant: &str, field: &str) -> String {
    format!("tenant:{tenant}|{field}")
}

pub use crate::clock::now_secs;

/// Hands out fresh user-OAuth tokens.
pub struct TokenProvider<S, R> {
    store: S,
    refresher: R,
    vault: Arc<Vault>,
    metrics: Metrics,
    owner_id: String,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Rotated pairs that could not be stored yet, by tenant (with their credential).
    pending: Mutex<HashMap<String, (Refreshed, Credential)>>,
    /// Test-only fault injection: this many stores of a rotated pair fail.
    store_faults: AtomicU32,
}

/// What the caller already knows is stale.
enum Stale {
    /// The stored token is close to expiry.
    Expiring,
    /// Zoom rejected this token.
    Rejected(SecretString),
}

/// A random id for this process's leases, read from `/dev/urandom` rather than aws-lc: aws-lc
/// seeds its generator with jitter entropy on first use, ≈ 30 ms of CPU that would otherwise
/// sit on every cold start (measured by tools/bench/coldstart.py); it is paid later, only by a
/// request that seals tokens or jitters a retry.
fn instance_id() -> String {
    let mut id = [0u8; 12];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut id));
    if read.is_err() {
        let _ = aws_lc_rs::rand::fill(&mut id);
    }
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S: ConnectionStore, R: Refresher> TokenProvider<S, R> {
    /// A provider over `store` and `refresher`.
    pub fn new(store: S, refresher: R, vault: Arc<Vault>, metrics: Metrics) -> Self {
        Self {
            store,
            refresher,
            vault,
            metrics,
            owner_id: instance_id(),
            locks: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            store_faults: AtomicU32::new(0),
        }
    }

    /// Fault injection for unit tests: the next `count` attempts to store a rotated pair fail
    /// as a storage outage would (end to end, the emulator's `throttle_next` fault does it on
    /// the wire).
    #[cfg(test)]
    pub fn with_store_faults(self, count: u32) -> Self {
        self.store_faults.store(count, Ordering::SeqCst);
        self
    }

    /// The store (for handlers that read the connection too).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// A token with at least [`REFRESH_SKEW_SECS`] left, refreshing if needed (by `deadline`).
    pub async fn fresh(&self, tenant: &str, deadline: Instant) -> Result<Credential, TokenError> {
        if let Some(credential) = self.pending_credential(tenant).await {
            return Ok(credential);
        }
        let connection = self.usable(tenant).await?;
        self.reseal_if_old(&connection).await;
        if connection.access_expires_at - now_secs() > REFRESH_SKEW_SECS {
            return self.credential(&connection);
        }
        self.refresh(tenant, Stale::Expiring, deadline).await
    }

    /// Key rotation on use: a connection sealed under an older key is sealed again under the
    /// active one (best-effort: `zoom-vault reseal` sweeps the idle ones).
    async fn reseal_if_old(&self, connection: &Connection) {
        if !self.vault.needs_rotation(&connection.access_token)
            && !self.vault.needs_rotation(&connection.refresh_token)
        {
            return;
        }
        let tenant = &connection.tenant_id;
        let resealed = self
            .vault
            .reseal(&owner(tenant, "access"), &connection.access_token)
            .and_then(|a| {
                self.vault
                    .reseal(&owner(tenant, "refresh"), &connection.refresh_token)
                    .map(|r| (a, r))
            });
        let Ok((access, refresh)) = resealed else {
            return;
        };
        match self
            .store
            .reseal(
                tenant,
                &connection.connection_id,
                connection.version,
                (&access, &refresh),
            )
            .await
        {
            Ok(true) => {
                self.metrics.count("TokenResealed", 1.0, &[]);
                tracing::info!("connection sealed again under the active key");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "re-sealing under the active key failed; retried on the next use")
            }
        }
    }

    /// After Zoom answered 401 (code 124) for `used`: a refreshed token, once.
    pub async fn after_unauthorized(
        &self,
        tenant: &str,
        used: &Credential,
        deadline: Instant,
    ) -> Result<Credential, TokenError> {
        self.refresh(tenant, Stale::Rejected(used.access_token.clone()), deadline)
            .await
    }

    /// A rotated pair this process could not store yet: stored now if storage is back, and
    /// used either way (it holds the only live refresh token).
    async fn pending_credential(&self, tenant: &str) -> Option<Credential> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned();
        let (mut update, credential) = pending?;
        let forget = || {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(tenant);
        };
        // Another process may have rolled the kept pair forward, and refreshed since: then this
        // copy is stale (its refresh token dead) and must never be written over the newer one.
        match self.store.get(tenant).await {
            Ok(Some(current)) if current.refresh_token == update.refresh_token => {
                forget();
                return Some(credential);
            }
            Ok(Some(current))
                if current.connection_id == update.connection_id
                    && current.connected_at == update.connected_at
                    && current.version == update.expected_version => {}
            // Marked `needs_reauth` by a process that used the dead token right after us.
            Ok(Some(current))
                if current.connection_id == update.connection_id
                    && current.connected_at == update.connected_at
                    && current.status == ConnectionStatus::NeedsReauth
                    && current.version == update.expected_version + 1 =>
            {
                update.expected_version = current.version;
            }
            Ok(_) => {
                forget();
                return None;
            }
            Err(_) => return Some(credential),
        }
        if self.store_pair(&mut update, false).await.is_ok() {
            forget();
            tracing::info!("a rotated token pair kept in memory is stored now");
        }
        Some(credential)
    }

    /// Rolls forward the pair another process kept aside ([`ConnectionStore::keep_pending_pair`])
    /// when it is still the live one (the connection is at the grant and version it
    /// refreshed): stores it on the connection. Whether it did.
    async fn roll_forward(&self, current: &Connection) -> Result<bool, TokenError> {
        let Some(mut pair) = self
            .store
            .pending_pair(&current.tenant_id, &current.connection_id)
            .await?
        else {
            return Ok(false);
        };
        let same_grant = pair.connected_at == current.connected_at
            && pair.refresh_token != current.refresh_token;
        if same_grant
            && current.status == ConnectionStatus::NeedsReauth
            && current.version == pair.expected_version + 1
        {
            // Marked by a process that used the dead token: the kept pair revives it.
            pair.expected_version = current.version;
        } else if !same_grant || pair.expected_version != current.version {
            return Ok(false);
        }
        self.store_pair(&mut pair, false).await?;
        let stored = self.store.get(&current.tenant_id).await?;
        if stored.is_none_or(|c| c.refresh_token != pair.refresh_token) {
            return Ok(false);
        }
        self.metrics
            .count("TokenRefresh", 1.0, &[("Outcome", "rolled_forward")]);
        tracing::info!("a rotated pair kept aside by another process is stored now");
        Ok(true)
    }

    /// Stores a rotated pair: conditioned on the connection and the version it refreshed, then
    /// (when the version moved: our grant is still the only live one) on the connection alone;
    /// storage failures are retried within [`STORE_RESERVE`].
    async fn store_pair(&self, update: &mut Refreshed, may_force: bool) -> Result<(), StoreError> {
        let until = Instant::now() + STORE_RESERVE;
        let mut pause = Duration::from_millis(100);
        loop {
            let injected = self
                .store_faults
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let result = if injected {
                Err(StoreError("injected storage failure".into()))
            } else {
                self.store.store_refreshed(update).await
            };
            match result {
                Ok(true) => return Ok(()),
                // A replayed pair (kept aside, or in memory) is written only at the version it
                // refreshed: a moved version means someone stored since, perhaps a newer
                // rotation, which a forced write would destroy.
                Ok(false) if !may_force => {
                    tracing::info!("the connection moved on; the replayed pair is not written");
                    return Ok(());
                }
                Ok(false) if !update.force => {
                    tracing::warn!(
                        "connection changed during refresh; storing the new tokens anyway"
                    );
                    update.force = true;
                }
                Ok(false) => {
                    tracing::warn!(
                        "the tenant connected again during the refresh; its new connection is kept"
                    );
                    return Ok(());
                }
                Err(e) if Instant::now() + pause >= until => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "storing the rotated tokens failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
    }

    async fn usable(&self, tenant: &str) -> Result<Connection, TokenError> {
        match self.store.get(tenant).await? {
            None => Err(TokenError::NotConnected),
            Some(c) if c.status == ConnectionStatus::NeedsReauth => {
                // Marked because a dead token was used while a live pair was kept aside?
                if c.mode == crate::owner::Mode::UserOAuth && self.roll_forward(&c).await? {
                    return match self.store.get(tenant).await? {
                        Some(c) if c.status == ConnectionStatus::Active => Ok(c),
                        Some(_) => Err(TokenError::NeedsReauth),
                        None => Err(TokenError::NotConnected),
                    };
                }
                Err(TokenError::NeedsReauth)
            }
            Some(c) => Ok(c),
        }
    }

    fn open(
        &self,
        connection: &Connection,
        field: &str,
        sealed: &str,
    ) -> Result<SecretString, TokenError> {
        self.vault
            .open(&owner(&connection.tenant_id, field), sealed)
            .map_err(|e: VaultError| {
                tracing::warn!(error = %e, "stored Zoom token does not decrypt for this tenant");
                TokenError::NeedsReauth
            })
    }

    fn credential(&self, connection: &Connection) -> Result<Credential, TokenError> {
        Ok(Credential {
            access_token: self.open(connection, "access", &connection.access_token)?,
            api_url: connection.api_url.clone(),
        })
    }

    fn lock_for(&self, tenant: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(tenant.to_owned()).or_default().clone()
    }

    /// Whether `connection` already holds a token newer than what the caller saw.
    fn already_fresh(
        &self,
        connection: &Connection,
        stale: &Stale,
    ) -> Result<Option<Credential>, TokenError> {
        if connection.access_expires_at - now_secs() <= REFRESH_SKEW_SECS {
            return Ok(None);
        }
        match stale {
            Stale::Expiring => self.credential(connection).map(Some),
            Stale::Rejected(used) => {
                let current = self.credential(connection)?;
                if current.access_token.expose_secret() == used.expose_secret() {
                    Ok(None)
                } else {
                    Ok(Some(current))
                }
            }
        }
    }

    async fn refresh(
        &self,
        tenant: &str,
        stale: Stale,
        deadline: Instant,
    ) -> Result<Credential, TokenError> {
        let lock = self.lock_for(tenant);
        let _single_flight = lock.lock().await;
        if let Some(credential) = self.pending_credential(tenant).await {
            return Ok(credential);
        }
        let give_up = deadline.min(Instant::now() + PEER_WAIT);
        let mut pause = Duration::from_millis(50);
        loop {
            let connection = self.usable(tenant).await?;
            if let Some(credential) = self.already_fresh(&connection, &stale)? {
                return Ok(credential);
            }
            let now = now_secs();
            if self
                .store
                .try_lease(tenant, &self.owner_id, now, now + LEASE_SECS)
                .await?
            {
                // Re-read under the lease: another process may have refreshed between our read
                // and our lease, and its rotation already killed the refresh token we read.
                let current = self.usable(tenant).await?;
                if let Some(credential) = self.already_fresh(&current, &stale)? {
                    self.store.release_lease(tenant, &self.owner_id).await?;
                    return Ok(credential);
                }
                // A pair another process could not store is the live one: store it first (the
                // lease goes with the write), then look again.
                if self.roll_forward(&current).await? {
                    continue;
                }
                // The invocation's end when the request loop set it; else the least a
                // caller's budget leaves before it (`budget` keeps `MARGIN` back). `MARGIN` is
                // kept here too: storing can overrun its reserve by one slow attempt, and
                // keeping the pair aside comes after it.
                let end = invocation_end().unwrap_or(deadline + MARGIN);
                if end.saturating_duration_since(Instant::now())
                    < OAUTH_TIMEOUT + STORE_RESERVE + MARGIN
                {
                    // Not enough time to refresh and store safely: the next request will,
                    // first thing, if this one tells it that Zoom rejected the stored token.
                    if let Stale::Rejected(_) = stale
                        && let Err(e) = self
                            .store
                            .expire_access_token(
                                tenant,
                                (&current.connection_id, current.connected_at),
                                current.version,
                                now_secs(),
                            )
                            .await
                    {
                        tracing::warn!(error = %e, "could not record the rejected token");
                    }
                    self.store.release_lease(tenant, &self.owner_id).await?;
                    tracing::info!("too little of the invocation left to refresh safely");
                    return Err(TokenError::Busy);
                }
                return self.refresh_holding_lease(current).await;
            }
            if Instant::now() >= give_up {
                return Err(TokenError::Busy);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(400));
        }
    }

    async fn refresh_holding_lease(
        &self,
        connection: Connection,
    ) -> Result<Credential, TokenError> {
        let tenant = connection.tenant_id.clone();
        let refresh_token = match self.open(&connection, "refresh", &connection.refresh_token) {
            Ok(token) => token,
            Err(e) => {
                self.store
                    .mark_needs_reauth(&tenant, &connection.connection_id, connection.version)
                    .await?;
                return Err(e);
            }
        };
        match self.refresher.refresh(&refresh_token).await {
            Ok(grant) => {
                let sealed = |field: &str, token: &SecretString| {
                    self.vault
                        .seal(&owner(&tenant, field), token.expose_secret())
                        .map_err(|e| TokenError::Upstream(format!("sealing failed: {e}")))
                };
                let new_refresh = grant
                    .refresh_token
                    .clone()
                    .unwrap_or_else(|| refresh_token.clone());
                let mut update = Refreshed {
                    tenant_id: tenant.clone(),
                    connection_id: connection.connection_id.clone(),
                    expected_version: connection.version,
                    connected_at: connection.connected_at,
                    access_token: sealed("access", &grant.access_token)?,
                    refresh_token: sealed("refresh", &new_refresh)?,
                    access_expires_at: now_secs() + grant.expires_in as i64,
                    scopes: if grant.scopes.is_empty() {
                        connection.scopes.clone()
                    } else {
                        grant.scopes.clone()
                    },
                    api_url: grant.api_url.clone(),
                    force: false,
                };
                let credential = Credential {
                    access_token: grant.access_token,
                    api_url: grant.api_url.or(connection.api_url),
                };
                if let Err(e) = self.store_pair(&mut update, true).await {
                    // The old refresh token is dead and this pair is the only live one: keep it
                    // in an item of its own, for any process to roll forward, and in this
                    // process; then let the lease go, so others may roll it forward at once.
                    tracing::error!(error = %e, "rotated tokens not stored yet; kept aside");
                    self.metrics
                        .count("TokenRefresh", 1.0, &[("Outcome", "store_pending")]);
                    match self.store.keep_pending_pair(&update).await {
                        Ok(()) => {
                            let _ = self.store.release_lease(&tenant, &self.owner_id).await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "the rotated pair is kept in this process only");
                        }
                    }
                    self.pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(tenant.clone(), (update, credential.clone()));
                    return Ok(credential);
                }
                self.metrics
                    .count("TokenRefresh", 1.0, &[("Outcome", "success")]);
                tracing::info!("zoom token refreshed");
                Ok(credential)
            }
            Err(OAuthError::InvalidGrant { .. }) => {
                self.store.release_lease(&tenant, &self.owner_id).await?;
                // Did another process refresh meanwhile? Then its tokens are good.
                if let Some(current) = self.store.get(&tenant).await?
                    && current.version != connection.version
                    && current.status == ConnectionStatus::Active
                {
                    return self.credential(&current);
                }
                // Or did a process that could not store its rotation keep the pair aside?
                if self.roll_forward(&connection).await? {
                    return self.credential(&self.usable(&tenant).await?);
                }
                self.store
                    .mark_needs_reauth(&tenant, &connection.connection_id, connection.version)
                    .await?;
                self.metrics
                    .count("TokenRefresh", 1.0, &[("Outcome", "needs_reauth")]);
                tracing::warn!("zoom refresh token rejected; connection needs re-authorization");
                Err(TokenError::NeedsReauth)
            }
            Err(other) => {
                self.store.release_lease(&tenant, &self.owner_id).await?;
                self.metrics
                    .count("TokenRefresh", 1.0, &[("Outcome", "failure")]);
                Err(TokenError::Upstream(other.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::connections::memory::MemoryConnections as MemoryStore;
    use crate::owner::{Mode, Reach};

    impl ConnectionStore for Arc<MemoryStore> {
        async fn get(&self, tenant: &str) -> Result<Option<Connection>, StoreError> {
            self.as_ref().get(tenant).await
        }
        async fn put(&self, c: &Connection) -> Result<(), StoreError> {
            self.as_ref().put(c).await
        }
        async fn put_new(&self, c: &Connection) -> Result<bool, StoreError> {
            self.as_ref().put_new(c).await
        }
        async fn delete(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
            self.as_ref().delete(tenant, id).await
        }
        async fn try_lease(
            &self,
            tenant: &str,
            owner: &str,
            now: i64,
            until: i64,
        ) -> Result<bool, StoreError> {
            self.as_ref().try_lease(tenant, owner, now, until).await
        }
        async fn release_lease(&self, tenant: &str, owner: &str) -> Result<(), StoreError> {
            self.as_ref().release_lease(tenant, owner).await
        }
        async fn store_refreshed(&self, r: &Refreshed) -> Result<bool, StoreError> {
            self.as_ref().store_refreshed(r).await
        }
        async fn delete_if_connected_by(
            &self,
            tenant: &str,
            id: &str,
            at: i64,
        ) -> Result<bool, StoreError> {
            self.as_ref().delete_if_connected_by(tenant, id, at).await
        }
        async fn reseal(
            &self,
            tenant: &str,
            id: &str,
            version: i64,
            sealed: (&str, &str),
        ) -> Result<bool, StoreError> {
            self.as_ref().reseal(tenant, id, version, sealed).await
        }
        async fn mark_needs_reauth(
            &self,
            tenant: &str,
            id: &str,
            version: i64,
        ) -> Result<bool, StoreError> {
            self.as_ref().mark_needs_reauth(tenant, id, version).await
        }
        async fn expire_access_token(
            &self,
            tenant: &str,
            id: (&str, i64),
            version: i64,
            now: i64,
        ) -> Result<bool, StoreError> {
            self.as_ref()
                .expire_access_token(tenant, id, version, now)
                .await
        }
        async fn keep_pending_pair(&self, pair: &Refreshed) -> Result<(), StoreError> {
            self.as_ref().keep_pending_pair(pair).await
        }
        async fn pending_pair(
            &self,
            tenant: &str,
            id: &str,
        ) -> Result<Option<Refreshed>, StoreError> {
            self.as_ref().pending_pair(tenant, id).await
        }
    }

    /// A Zoom token endpoint with rotation: each refresh token works once.
    #[derive(Default)]
    struct RotatingZoom {
        live: Mutex<Option<String>>,
        calls: AtomicUsize,
        invalid: AtomicUsize,
    }

    impl Refresher for Arc<RotatingZoom> {
        async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, OAuthError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut live = self.live.lock().expect("lock");
            if live.as_deref() != Some(refresh_token.expose_secret()) {
                self.invalid.fetch_add(1, Ordering::SeqCst);
                return Err(OAuthError::InvalidGrant {
                    reason: "Invalid Token!".into(),
                });
            }
            let next = format!("rt-{n}");
            *live = Some(next.clone());
            Ok(TokenGrant {
                access_token: SecretString::from(format!("at-{n}")),
                refresh_token: Some(SecretString::from(next)),
                expires_in: 3600,
                scopes: vec![],
                api_url: None,
            })
        }
    }

    /// Zoom's token endpoint, and the same Zoom user re-authorizing (a new grant, the same
    /// connection id) while the refresh is in flight.
    struct ReauthorizedMeanwhile {
        zoom: Arc<RotatingZoom>,
        store: Arc<MemoryStore>,
        vault: Arc<Vault>,
    }

    impl Refresher for ReauthorizedMeanwhile {
        async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, OAuthError> {
            let grant = self.zoom.refresh(refresh_token).await;
            let mut c = self.store.get("acme").await.expect("get").expect("item");
            c.access_token = self
                .vault
                .seal(&owner("acme", "access"), "at-reauthorized")
                .expect("seal");
            c.refresh_token = self
                .vault
                .seal(&owner("acme", "refresh"), "rt-reauthorized")
                .expect("seal");
            c.access_expires_at = now_secs() + 3600;
            c.connected_at += 10;
            c.version += 1;
            self.store.put(&c).await.expect("put");
            grant
        }
    }

    #[tokio::test]
    async fn a_refresh_never_overwrites_a_reauthorization_made_meanwhile() {
        let (store, zoom, vault) = setup(0).await;
        let p = TokenProvider::new(
            store.clone(),
            ReauthorizedMeanwhile {
                zoom: zoom.clone(),
                store: store.clone(),
                vault: vault.clone(),
            },
            vault.clone(),
            Metrics::in_memory("t").0,
        );
        p.fresh("acme", later()).await.expect("token");
        let stored = store.get("acme").await.expect("get").expect("item");
        let access: SecretString = vault
            .open(&owner("acme", "access"), &stored.access_token)
            .expect("open");
        assert_eq!(
            access.expose_secret(),
            "at-reauthorized",
            "the new grant's tokens stay"
        );
        let next = p.fresh("acme", later()).await.expect("token");
        assert_eq!(next.access_token.expose_secret(), "at-reauthorized");
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(9)
    }

    fn vault() -> Arc<Vault> {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        Arc::new(Vault::from_spec(&SecretString::from(format!("k1:{key}"))).expect("vault"))
    }

    async fn setup(expires_in: i64) -> (Arc<MemoryStore>, Arc<RotatingZoom>, Arc<Vault>) {
        let store = Arc::new(MemoryStore::default());
        let zoom = Arc::new(RotatingZoom::default());
        *zoom.live.lock().expect("lock") = Some("rt-initial".into());
        let vault = vault();
        let connection = Connection {
            tenant_id: "acme".into(),
            connection_id: "c1".into(),
            mode: Mode::UserOAuth,
            reach: Reach::User {
                zoom_user_id: "u".into(),
            },
            zoom_account_id: "a".into(),
            email: "e@x".into(),
            scopes: vec![],
            api_url: None,
            access_token: vault
                .seal(&owner("acme", "access"), "at-initial")
                .expect("seal"),
            refresh_token: vault
                .seal(&owner("acme", "refresh"), "rt-initial")
                .expect("seal"),
            access_expires_at: now_secs() + expires_in,
            status: ConnectionStatus::Active,
            version: 1,
            connected_at: now_secs(),
            bound_claim: None,
        };
        store.put(&connection).await.expect("put");
        (store, zoom, vault)
    }

    fn provider(
        store: &Arc<MemoryStore>,
        zoom: &Arc<RotatingZoom>,
        vault: &Arc<Vault>,
    ) -> Arc<TokenProvider<Arc<MemoryStore>, Arc<RotatingZoom>>> {
        Arc::new(TokenProvider::new(
            store.clone(),
            zoom.clone(),
            vault.clone(),
            Metrics::in_memory("t").0,
        ))
    }

    #[tokio::test]
    async fn a_fresh_token_is_used_without_refreshing() {
        let (store, zoom, vault) = setup(3600).await;
        let credential = provider(&store, &zoom, &vault)
            .fresh("acme", later())
            .await
            .expect("token");
        assert_eq!(credential.access_token.expose_secret(), "at-initial");
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn concurrent_callers_in_many_processes_cause_one_refresh() {
        let (store, zoom, vault) = setup(60).await;
        // Four "processes": four providers (own locks, own owner ids) over one store.
        let providers: Vec<_> = (0..4).map(|_| provider(&store, &zoom, &vault)).collect();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let p = providers[i % 4].clone();
            tasks.push(tokio::spawn(async move {
                p.fresh("acme", later())
                    .await
                    .map(|c| c.access_token.expose_secret().to_owned())
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("join").expect("token"), "at-0");
        }
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1);
        assert_eq!(zoom.invalid.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_rejected_token_is_refreshed_once_for_everyone() {
        let (store, zoom, vault) = setup(3600).await;
        let providers: Vec<_> = (0..4).map(|_| provider(&store, &zoom, &vault)).collect();
        let used = providers[0].fresh("acme", later()).await.expect("token");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let p = providers[i % 4].clone();
            let used = used.clone();
            tasks.push(tokio::spawn(async move {
                p.after_unauthorized("acme", &used, later())
                    .await
                    .map(|c| c.access_token.expose_secret().to_owned())
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("join").expect("token"), "at-0");
        }
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1);
    }

    /// A store on which another process completes a whole refresh between our read of the
    /// connection and our lease.
    struct RacingStore {
        inner: Arc<MemoryStore>,
        zoom: Arc<RotatingZoom>,
        vault: Arc<Vault>,
        raced: std::sync::atomic::AtomicBool,
    }

    impl ConnectionStore for Arc<RacingStore> {
        async fn get(&self, tenant: &str) -> Result<Option<Connection>, StoreError> {
            self.inner.get(tenant).await
        }
        async fn put(&self, c: &Connection) -> Result<(), StoreError> {
            self.inner.put(c).await
        }
        async fn put_new(&self, c: &Connection) -> Result<bool, StoreError> {
            self.inner.put_new(c).await
        }
        async fn delete(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
            self.inner.delete(tenant, id).await
        }
        async fn try_lease(
            &self,
            tenant: &str,
            owner: &str,
            now: i64,
            until: i64,
        ) -> Result<bool, StoreError> {
            if !self.raced.swap(true, Ordering::SeqCst) {
                let other = provider(&self.inner, &self.zoom, &self.vault);
                let used = other.fresh(tenant, later()).await.expect("token");
                Box::pin(other.after_unauthorized(tenant, &used, later()))
                    .await
                    .expect("the other process refreshes");
            }
            self.inner.try_lease(tenant, owner, now, until).await
        }
        async fn release_lease(&self, tenant: &str, owner: &str) -> Result<(), StoreError> {
            self.inner.release_lease(tenant, owner).await
        }
        async fn store_refreshed(&self, r: &Refreshed) -> Result<bool, StoreError> {
            self.inner.store_refreshed(r).await
        }
        async fn delete_if_connected_by(
            &self,
            tenant: &str,
            id: &str,
            at: i64,
        ) -> Result<bool, StoreError> {
            self.inner.delete_if_connected_by(tenant, id, at).await
        }
        async fn reseal(
            &self,
            tenant: &str,
            id: &str,
            version: i64,
            sealed: (&str, &str),
        ) -> Result<bool, StoreError> {
            self.inner.reseal(tenant, id, version, sealed).await
        }
        async fn mark_needs_reauth(
            &self,
            tenant: &str,
            id: &str,
            version: i64,
        ) -> Result<bool, StoreError> {
            self.inner.mark_needs_reauth(tenant, id, version).await
        }
        async fn expire_access_token(
            &self,
            tenant: &str,
            id: (&str, i64),
            version: i64,
            now: i64,
        ) -> Result<bool, StoreError> {
            self.inner
                .expire_access_token(tenant, id, version, now)
                .await
        }
        async fn keep_pending_pair(&self, pair: &Refreshed) -> Result<(), StoreError> {
            self.inner.keep_pending_pair(pair).await
        }
        async fn pending_pair(
            &self,
            tenant: &str,
            id: &str,
        ) -> Result<Option<Refreshed>, StoreError> {
            self.inner.pending_pair(tenant, id).await
        }
    }

    #[tokio::test]
    async fn a_refresh_finished_elsewhere_between_read_and_lease_is_reused() {
        let (store, zoom, vault) = setup(3600).await;
        let racing = Arc::new(RacingStore {
            inner: store.clone(),
            zoom: zoom.clone(),
            vault: vault.clone(),
            raced: std::sync::atomic::AtomicBool::new(false),
        });
        let ours = TokenProvider::new(
            racing,
            zoom.clone(),
            vault.clone(),
            Metrics::in_memory("t").0,
        );
        let used = ours.fresh("acme", later()).await.expect("token");
        let renewed = ours
            .after_unauthorized("acme", &used, later())
            .await
            .expect("renewed");
        assert_eq!(
            renewed.access_token.expose_secret(),
            "at-0",
            "the other process's token"
        );
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1, "no second refresh");
        assert_eq!(
            zoom.invalid.load(Ordering::SeqCst),
            0,
            "no refresh with a dead token"
        );
    }

    #[tokio::test]
    async fn a_storage_failure_after_rotation_is_retried_and_nothing_is_lost() {
        let (store, zoom, vault) = setup(0).await;
        // Two failures: the retries within the reserve store the pair.
        let p = Arc::new(
            TokenProvider::new(
                store.clone(),
                zoom.clone(),
                vault.clone(),
                Metrics::in_memory("t").0,
            )
            .with_store_faults(2),
        );
        let first = p.fresh("acme", later()).await.expect("refreshed");
        assert_eq!(first.access_token.expose_secret(), "at-0");
        let stored = store.get("acme").await.expect("get").expect("item");
        assert_eq!(stored.version, 2, "the rotated pair is stored");
        assert_eq!(zoom.invalid.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_pair_one_process_cannot_store_is_rolled_forward_by_another() {
        let (store, zoom, vault) = setup(0).await;
        // Process A: Zoom rotates, every store of the pair on the connection fails.
        let a = TokenProvider::new(
            store.clone(),
            zoom.clone(),
            vault.clone(),
            Metrics::in_memory("t").0,
        )
        .with_store_faults(1000);
        let first = a
            .fresh("acme", later())
            .await
            .expect("the rotated token is used");
        assert_eq!(first.access_token.expose_secret(), "at-0");
        assert_eq!(
            store.get("acme").await.expect("get").expect("item").version,
            1
        );
        // Process B (another function, or A after a restart) needs a token: it stores the
        // kept pair and uses it; Zoom is not asked, no dead refresh token is sent.
        let b = provider(&store, &zoom, &vault);
        let used = b.fresh("acme", later()).await.expect("token");
        assert_eq!(used.access_token.expose_secret(), "at-0");
        let stored = store.get("acme").await.expect("get").expect("item");
        assert_eq!(stored.version, 2, "rolled forward");
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1);
        // B refreshes again later (a 401): the kept pair's refresh token is the live one.
        let renewed = b
            .after_unauthorized("acme", &used, later())
            .await
            .expect("renewed");
        assert_eq!(renewed.access_token.expose_secret(), "at-1");
        // A still holds its copy in memory: stale now, it is dropped, never written over B's.
        a.store_faults.store(0, Ordering::SeqCst);
        let again = a.fresh("acme", later()).await.expect("token");
        assert_eq!(again.access_token.expose_secret(), "at-1");
        let stored = store.get("acme").await.expect("get").expect("item");
        let refresh: SecretString = vault
            .open(&owner("acme", "refresh"), &stored.refresh_token)
            .expect("open");
        assert_eq!(refresh.expose_secret(), "rt-1", "the newest rotation stays");
        assert_eq!(zoom.invalid.load(Ordering::SeqCst), 0, "no dead token sent");
    }

    #[tokio::test]
    async fn a_connection_marked_for_reauthorization_over_a_kept_pair_is_revived() {
        let (store, zoom, vault) = setup(0).await;
        let a = TokenProvider::new(
            store.clone(),
            zoom.clone(),
            vault.clone(),
            Metrics::in_memory("t").0,
        )
        .with_store_faults(1000);
        a.fresh("acme", later()).await.expect("rotated");
        // Another process used the dead token (it read before the pair was kept aside) and
        // marked the connection: the kept pair is still the live one.
        assert!(
            store
                .mark_needs_reauth("acme", "c1", 1)
                .await
                .expect("mark")
        );
        let c = provider(&store, &zoom, &vault);
        let token = c.fresh("acme", later()).await.expect("revived");
        assert_eq!(token.access_token.expose_secret(), "at-0");
        let stored = store.get("acme").await.expect("get").expect("item");
        assert_eq!(stored.status, ConnectionStatus::Active);
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1, "no refresh needed");
        // A later mark (another, real reason) is not undone by the old kept pair.
        let version = stored.version;
        assert!(
            store
                .mark_needs_reauth("acme", "c1", version)
                .await
                .expect("mark")
        );
        let d = provider(&store, &zoom, &vault);
        assert!(matches!(
            d.fresh("acme", later()).await,
            Err(TokenError::NeedsReauth)
        ));
    }

    #[tokio::test]
    async fn a_pair_that_cannot_be_stored_is_kept_and_stored_on_the_next_use() {
        let (store, zoom, vault) = setup(0).await;
        // Every store fails for a while: the pair is kept in the process.
        let p = Arc::new(
            TokenProvider::new(
                store.clone(),
                zoom.clone(),
                vault.clone(),
                Metrics::in_memory("t").0,
            )
            .with_store_faults(1000),
        );
        let first = p
            .fresh("acme", later())
            .await
            .expect("the rotated token is used");
        assert_eq!(first.access_token.expose_secret(), "at-0");
        assert_eq!(
            store.get("acme").await.expect("get").expect("item").version,
            1
        );
        // Storage is back: the next use stores the kept pair, and no second refresh happens.
        p.store_faults.store(0, Ordering::SeqCst);
        let second = p.fresh("acme", later()).await.expect("token");
        assert_eq!(second.access_token.expose_secret(), "at-0");
        let stored = store.get("acme").await.expect("get").expect("item");
        assert_eq!(stored.version, 2, "stored now");
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1, "one refresh in all");
        assert_eq!(
            zoom.invalid.load(Ordering::SeqCst),
            0,
            "the live token was never lost"
        );
        // And a later refresh rotates from the stored token.
        let later_refresh = p
            .after_unauthorized("acme", &second, later())
            .await
            .expect("refreshed again");
        assert_eq!(later_refresh.access_token.expose_secret(), "at-1");
        assert_eq!(zoom.invalid.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_refresh_is_not_started_without_the_time_to_store_it() {
        let (store, zoom, vault) = setup(0).await;
        let p = provider(&store, &zoom, &vault);
        let soon = Instant::now() + Duration::from_secs(2);
        assert!(matches!(p.fresh("acme", soon).await, Err(TokenError::Busy)));
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 0, "Zoom was not asked");
        assert!(
            p.fresh("acme", later()).await.is_ok(),
            "with time it refreshes"
        );
    }

    #[tokio::test]
    async fn a_rejected_token_without_the_time_to_refresh_is_refreshed_first_by_the_next_call() {
        let (store, zoom, vault) = setup(3600).await;
        let p = provider(&store, &zoom, &vault);
        let used = p.fresh("acme", later()).await.expect("token");
        assert_eq!(used.access_token.expose_secret(), "at-initial");
        let soon = Instant::now() + Duration::from_secs(2);
        assert!(matches!(
            p.after_unauthorized("acme", &used, soon).await,
            Err(TokenError::Busy)
        ));
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 0, "Zoom was not asked");
        // Another process, which never saw the 401, refreshes before using the dead token.
        let other = provider(&store, &zoom, &vault);
        let next = other.fresh("acme", later()).await.expect("token");
        assert_eq!(next.access_token.expose_secret(), "at-0");
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1);
        assert_eq!(zoom.invalid.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_invocations_end_decides_whether_a_refresh_may_start() {
        use crate::http::deadline::within_invocation;
        let (store, zoom, vault) = setup(0).await;
        let p = provider(&store, &zoom, &vault);
        let (near, far) = (Duration::from_secs(5), Duration::from_secs(9));
        // A near invocation end refuses, whatever the caller's deadline.
        let refused = within_invocation(Instant::now() + near, p.fresh("acme", later())).await;
        assert!(matches!(refused, Err(TokenError::Busy)));
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 0, "Zoom was not asked");
        // A far one lets a refresh start after the caller's (shorter) budget is mostly spent.
        let soon = Instant::now() + Duration::from_secs(2);
        let token = within_invocation(Instant::now() + far, p.fresh("acme", soon)).await;
        assert_eq!(
            token.expect("refreshed").access_token.expose_secret(),
            "at-0"
        );
    }

    #[tokio::test]
    async fn a_connection_sealed_under_an_old_key_is_sealed_again_on_use() {
        use base64::Engine;
        let (store, zoom, old) = setup(3600).await;
        let key = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
        let rotated = Arc::new(
            Vault::from_spec(&SecretString::from(format!("k2:{},k1:{}", key(9), key(7))))
                .expect("vault"),
        );
        assert!(!old.needs_rotation(&old.seal("x", "y").expect("seal")));
        let p = provider(&store, &zoom, &rotated);
        let credential = p.fresh("acme", later()).await.expect("token");
        assert_eq!(credential.access_token.expose_secret(), "at-initial");
        let stored = store.get("acme").await.expect("get").expect("item");
        assert_eq!(Vault::key_id_of(&stored.access_token), Some("k2"));
        assert_eq!(Vault::key_id_of(&stored.refresh_token), Some("k2"));
        assert_eq!(stored.version, 1, "the version is kept");
        // The old key can go now.
        let only_new = Arc::new(
            Vault::from_spec(&SecretString::from(format!("k2:{}", key(9)))).expect("vault"),
        );
        let credential = provider(&store, &zoom, &only_new)
            .fresh("acme", later())
            .await
            .expect("opens with the new key alone");
        assert_eq!(credential.access_token.expose_secret(), "at-initial");
    }

    #[tokio::test]
    async fn a_dead_refresh_token_marks_needs_reauth() {
        let (store, zoom, vault) = setup(0).await;
        *zoom.live.lock().expect("lock") = Some("something-else".into());
        let p = provider(&store, &zoom, &vault);
        assert!(matches!(
            p.fresh("acme", later()).await,
            Err(TokenError::NeedsReauth)
        ));
        assert_eq!(
            store.get("acme").await.expect("get").expect("item").status,
            ConnectionStatus::NeedsReauth
        );
        assert!(
            matches!(p.fresh("acme", later()).await, Err(TokenError::NeedsReauth)),
            "no second refresh attempt"
        );
        assert_eq!(zoom.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_ciphertext_of_another_tenant_is_refused() {
        let (store, zoom, vault) = setup(3600).await;
        let mut stolen = store.get("acme").await.expect("get").expect("item");
        stolen.tenant_id = "mallory".into();
        store.put(&stolen).await.expect("put");
        assert!(matches!(
            provider(&store, &zoom, &vault)
                .fresh("mallory", later())
                .await,
            Err(TokenError::NeedsReauth)
        ));
    }

    #[tokio::test]
    async fn no_connection_is_not_connected() {
        let (store, zoom, vault) = setup(3600).await;
        assert!(matches!(
            provider(&store, &zoom, &vault)
                .fresh("nobody", later())
                .await,
            Err(TokenError::NotConnected)
        ));
    }

    /// Lease owner ids are random per process (instance), 24 hex digits.
    #[test]
    fn instance_ids_are_random_hex() {
        let (a, b) = (instance_id(), instance_id());
        assert_ne!(a, b);
        assert!(a.len() == 24 && a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
