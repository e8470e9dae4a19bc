//! How a caller becomes an [`Owner`]: the one place that decides whose data a request may
//! touch.
//!
//! - **User OAuth**: the tenant's connection names the Zoom user it authorized; no connection is
//!   409 (connect first).
//! - **Server-to-Server** (`ZOOM_ACCOUNT_ID` set): the platform's JWT names what the tenant is
//!   bound to: `zoom_user` (a Zoom user id or email, checked against Zoom: it must be a user of
//!   the account) or `zoom_scope: "account"` (the account-wide role). The first request of a
//!   tenant records the binding (a connection item of its own, so events are routed to it); a
//!   later JWT that claims a different binding is 409 until the tenant disconnects. A JWT with
//!   neither claim is 403.

use tokio::time::Instant;

use super::store::ConnectionStore;
use super::{Connection, ConnectionStatus};
use crate::clock::now_secs;
use crate::http::{ApiError, BindingClaim, Caller};
use crate::owner::{Mode, Owner, Reach, new_connection_id};
use crate::tokens::REAUTH_URL;
use crate::zoom::api::ZoomApi;
use crate::zoom::client::segment;
use crate::zoom::models::ZoomUser;

/// Resolves callers to owners.
pub trait OwnerResolver: Send + Sync {
    /// The owner of everything `caller` may touch in this request.
    fn resolve(
        &self,
        caller: &Caller,
        deadline: Instant,
    ) -> impl Future<Output = Result<Owner, ApiError>> + Send;
}

/// The deployment's OAuth mode, as the resolver needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenancy {
    /// Each tenant authorizes its own Zoom user.
    UserOAuth,
    /// One Server-to-Server app for this account; tenants are bound by JWT claims.
    ServerToServer {
        /// `ZOOM_ACCOUNT_ID`.
        account_id: String,
    },
}

impl Tenancy {
    /// The tenancy `ZOOM_ACCOUNT_ID` configures (set: Server-to-Server for that account).
    pub fn from_env(env: &crate::config::Env) -> Self {
        match env.optional(crate::config::vars::ZOOM_ACCOUNT_ID) {
            Some(account_id) => Self::ServerToServer {
                account_id: account_id.to_owned(),
            },
            None => Self::UserOAuth,
        }
    }
}

/// The production resolver over the connection store and (for Server-to-Server bindings)
/// Zoom.
pub struct Owners<C, Z> {
    /// Connections.
    pub connections: C,
    /// The deployment's mode.
    pub tenancy: Tenancy,
    /// Zoom, to check a `zoom_user` claim (Server-to-Server only; `None` in functions that do
    /// not call Zoom: an unbound tenant is then simply not connected).
    pub zoom: Option<Z>,
}

/// 409: the tenant has no connection.
pub fn not_connected() -> ApiError {
    ApiError::Conflict(format!(
        "this tenant has not connected Zoom; start at {REAUTH_URL}"
    ))
}

impl<C: ConnectionStore, Z: ZoomApi> Owners<C, Z> {
    /// The caller's connection, if any (no binding is made).
    pub async fn connection(&self, tenant: &str) -> Result<Option<Connection>, ApiError> {
        Ok(self.connections.get(tenant).await?)
    }

    async fn bind(
        &self,
        caller: &Caller,
        account_id: &str,
        claim: &BindingClaim,
        deadline: Instant,
    ) -> Result<Owner, ApiError> {
        let zoom = self.zoom.as_ref().ok_or_else(not_connected)?;
        let (reach, email) = match claim {
            BindingClaim::Account => (Reach::Account, String::new()),
            BindingClaim::User(user) => {
                // Any owner of this deployment's mode gets the account's token.
                let asking = Owner {
                    tenant_id: caller.tenant_id.clone(),
                    connection_id: String::new(),
                    account_id: account_id.to_owned(),
                    reach: Reach::Account,
                    mode: Mode::ServerToServer,
                    email: None,
                };
                let found: ZoomUser = zoom
                    .get(&asking, &format!("/users/{}", segment(user)), deadline)
                    .await
                    .map_err(|e| match e {
                        ApiError::NotFound(_) | ApiError::Zoom { .. } => ApiError::Forbidden(
                            "the Zoom user named by the token's zoom_user claim is not a user of this account"
                                .into(),
                        ),
                        other => other,
                    })?;
                if !found.account_id.is_empty() && found.account_id != account_id {
                    return Err(ApiError::Forbidden(
                        "the Zoom user named by the token's zoom_user claim is not a user of this account"
                            .into(),
                    ));
                }
                (
                    Reach::User {
                        zoom_user_id: found.id,
                    },
                    found.email,
                )
            }
        };
        let binding = Connection {
            tenant_id: caller.tenant_id.clone(),
            connection_id: new_connection_id(),
            mode: Mode::ServerToServer,
            reach,
            zoom_account_id: account_id.to_owned(),
            email,
            scopes: Vec::new(),
            api_url: None,
            access_token: String::new(),
            refresh_token: String::new(),
            access_expires_at: 0,
            status: ConnectionStatus::Active,
            version: 1,
            connected_at: now_secs(),
            bound_claim: Some(claim.as_text()),
        };
        if self.connections.put_new(&binding).await? {
            tracing::info!("server-to-server tenant bound");
            return Ok(binding.owner());
        }
        // Bound concurrently by another request: use what was stored, if it is the same claim.
        match self.connections.get(&caller.tenant_id).await? {
            Some(existing) => existing_binding(&existing, claim),
            None => Err(ApiError::unavailable("the binding changed; retry")),
        }
    }
}

/// The owner of an existing Server-to-Server binding, if `claim` is the one it was made from.
fn existing_binding(existing: &Connection, claim: &BindingClaim) -> Result<Owner, ApiError> {
    if existing.mode == Mode::ServerToServer
        && existing.bound_claim.as_deref() == Some(claim.as_text().as_str())
    {
        return Ok(existing.owner());
    }
    Err(ApiError::Conflict(
        "this tenant is bound to another Zoom user or role; disconnect it first (POST /api/zoom/auth/disconnect)"
            .into(),
    ))
}

impl<C: ConnectionStore, Z: ZoomApi> OwnerResolver for Owners<C, Z> {
    async fn resolve(&self, caller: &Caller, deadline: Instant) -> Result<Owner, ApiError> {
        let existing = self.connections.get(&caller.tenant_id).await?;
        match &self.tenancy {
            Tenancy::UserOAuth => match existing {
                Some(c) if c.mode == Mode::UserOAuth => Ok(c.owner()),
                _ => Err(not_connected()),
            },
            Tenancy::ServerToServer { account_id } => {
                let claim = caller.binding.as_ref().ok_or_else(|| {
                    ApiError::Forbidden(
                        "this deployment uses Server-to-Server OAuth: the caller's token must name its Zoom user in a zoom_user claim (id or email), or carry zoom_scope \"account\""
                            .into(),
                    )
                })?;
                match existing {
                    Some(c) => existing_binding(&c, claim),
                    None => self.bind(caller, account_id, claim, deadline).await,
                }
            }
        }
    }
}

/// A resolver with fixed answers, for handler unit tests (feature `fakes`).
#[cfg(any(test, feature = "fakes"))]
pub mod fake {
    use std::collections::HashMap;

    use super::*;

    /// Owners by tenant; any other tenant is not connected.
    #[derive(Debug, Default)]
    pub struct FixedOwners(pub HashMap<String, Owner>);

    impl FixedOwners {
        /// These owners.
        pub fn of(owners: impl IntoIterator<Item = Owner>) -> Self {
            Self(
                owners
                    .into_iter()
                    .map(|o| (o.tenant_id.clone(), o))
                    .collect(),
            )
        }
    }

    impl OwnerResolver for FixedOwners {
        async fn resolve(&self, caller: &Caller, _deadline: Instant) -> Result<Owner, ApiError> {
            self.0
                .get(&caller.tenant_id)
                .cloned()
                .ok_or_else(not_connected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connections::memory::MemoryConnections;
    use crate::zoom::api::fake::FakeZoom;
    use serde_json::json;

    fn caller(tenant: &str, binding: Option<BindingClaim>) -> Caller {
        Caller {
            tenant_id: tenant.into(),
            binding,
        }
    }

    fn s2s(zoom: &FakeZoom) -> Owners<MemoryConnections, &FakeZoom> {
        Owners {
            connections: MemoryConnections::default(),
            tenancy: Tenancy::ServerToServer {
                account_id: "acct".into(),
            },
            zoom: Some(zoom),
        }
    }

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(5)
    }

    #[tokio::test]
    async fn a_user_claim_is_checked_at_zoom_and_bound_once() {
        let zoom = FakeZoom::default();
        zoom.answer(
            "GET /users/jill%40example.com",
            Ok(Some(
                json!({"id": "u-jill", "email": "jill@example.com", "account_id": "acct"}),
            )),
        );
        let owners = s2s(&zoom);
        let jill = caller("t1", Some(BindingClaim::User("jill@example.com".into())));
        let owner = owners.resolve(&jill, later()).await.expect("bound");
        assert_eq!(
            owner.reach,
            Reach::User {
                zoom_user_id: "u-jill".into()
            }
        );
        assert_eq!(owner.mode, Mode::ServerToServer);
        assert_eq!(owner.zoom_user_segment(), "u-jill");
        let again = owners.resolve(&jill, later()).await.expect("same binding");
        assert_eq!(again.connection_id, owner.connection_id);
        assert_eq!(zoom.calls().len(), 1, "Zoom is asked once");
    }

    #[tokio::test]
    async fn another_claim_for_a_bound_tenant_is_409_and_no_claim_is_403() {
        let zoom = FakeZoom::default();
        let owners = s2s(&zoom);
        owners
            .resolve(&caller("t1", Some(BindingClaim::Account)), later())
            .await
            .expect("account role");
        let other = caller("t1", Some(BindingClaim::User("u-2".into())));
        assert!(matches!(
            owners.resolve(&other, later()).await,
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(
            owners.resolve(&caller("t2", None), later()).await,
            Err(ApiError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_user_outside_the_account_is_403() {
        let zoom = FakeZoom::default();
        zoom.answer(
            "GET /users/stranger",
            Ok(Some(json!({"id": "stranger", "account_id": "another"}))),
        );
        let owners = s2s(&zoom);
        for user in ["stranger", "nobody"] {
            assert!(matches!(
                owners
                    .resolve(&caller("t", Some(BindingClaim::User(user.into()))), later())
                    .await,
                Err(ApiError::Forbidden(_))
            ));
        }
    }

    #[tokio::test]
    async fn user_oauth_needs_a_connection() {
        let zoom = FakeZoom::default();
        let owners = Owners {
            connections: MemoryConnections::default(),
            tenancy: Tenancy::UserOAuth,
            zoom: Some(&zoom),
        };
        assert!(matches!(
            owners
                .resolve(&caller("t", Some(BindingClaim::Account)), later())
                .await,
            Err(ApiError::Conflict(_))
        ));
    }
}
