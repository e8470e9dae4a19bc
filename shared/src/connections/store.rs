//! The ports of the connections concept: the tenant's connection item and the directory that
//! routes a Zoom host's events to the owners of its data.

use super::Connection;
use crate::owner::Owner;
use crate::store::StoreError;

/// The outcome of a refresh, to store.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// Tenant.
    pub tenant_id: String,
    /// The connection the refresh belongs to (a re-authorized connection is never overwritten).
    pub connection_id: String,
    /// The version the refresh started from.
    pub expected_version: i64,
    /// The grant the refresh belongs to: the connection's `connected_at` (every authorization,
    /// even of the same Zoom user, sets a new one), so a forced write never lands on a
    /// connection re-authorized during the refresh.
    pub connected_at: i64,
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
    /// Write even if the version moved, as long as it is the same connection and grant (our
    /// refresh token is then the only live one).
    pub force: bool,
}

/// A tenant's connection item.
pub trait ConnectionStore: Send + Sync {
    /// The tenant's connection (strongly consistent).
    fn get(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;
    /// Stores a connection, replacing any earlier one.
    fn put(&self, connection: &Connection) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a connection only if the tenant has none (Server-to-Server binding); `false` when
    /// one exists.
    fn put_new(
        &self,
        connection: &Connection,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes the tenant's connection if it is still `connection_id`; `false` otherwise.
    fn delete(
        &self,
        tenant: &str,
        connection_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// As [`ConnectionStore::delete`], only if the connection was made at or before `at` (epoch
    /// seconds): a deauthorization never removes a connection made after it (read and decided
    /// on the item itself, strongly).
    fn delete_if_connected_by(
        &self,
        tenant: &str,
        connection_id: &str,
        at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
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
    /// Stores refreshed tokens if the item is still the same connection at `version` (or, with
    /// `force`, the same connection at any version); frees the lease.
    fn store_refreshed(
        &self,
        update: &Refreshed,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Replaces the sealed tokens with the same tokens sealed under the active key, if the
    /// connection is still `connection_id` at `version` (the version is kept: nothing changed
    /// but the key).
    fn reseal(
        &self,
        tenant: &str,
        connection_id: &str,
        version: i64,
        sealed: (&str, &str),
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Marks the connection `needs_reauth` if it is still `connection_id` at `version`.
    fn mark_needs_reauth(
        &self,
        tenant: &str,
        connection_id: &str,
        version: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records that Zoom rejected the stored access token, by moving its expiry to `now`, if
    /// the connection is still `connection` (its id, and when it connected) at `version` (the
    /// version is kept: the tokens are unchanged). The next caller in any process then
    /// refreshes before calling Zoom, with its whole budget, instead of spending it on the dead
    /// token first.
    fn expire_access_token(
        &self,
        tenant: &str,
        connection: (&str, i64),
        version: i64,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Keeps a rotated pair that could not be stored on the connection in an item of its own
    /// (in the connection's data partition, so a purge removes it), for any process to roll
    /// forward ([`ConnectionStore::pending_pair`]). One per connection; a later one replaces it.
    fn keep_pending_pair(
        &self,
        pair: &Refreshed,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The pair kept for `connection_id` of `tenant`, if any (strongly consistent). It is live
    /// only while the connection is still at the grant and version it refreshed.
    fn pending_pair(
        &self,
        tenant: &str,
        connection_id: &str,
    ) -> impl Future<Output = Result<Option<Refreshed>, StoreError>> + Send;
}

/// Which owners an event belongs to.
pub trait OwnerDirectory: Send + Sync {
    /// The owners of Zoom data hosted by `host_id` in `account_id`: connections that reach that
    /// user, and connections that reach the whole account. Each owner carries when it connected.
    fn owners_of(
        &self,
        account_id: &str,
        host_id: &str,
    ) -> impl Future<Output = Result<Vec<(Owner, i64)>, StoreError>> + Send;
}
