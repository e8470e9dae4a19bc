//! Connections: a tenant's link to Zoom (one item per tenant, `TENANT#{tenant}` /
//! `CONNECTION`), the one-use OAuth states of the connect flow ([`state`]), how a caller becomes
//! an [`Owner`](crate::owner::Owner) ([`resolve`]), and which owners a webhook event of a Zoom
//! host belongs to ([`store::OwnerDirectory`]).

pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;
pub mod resolve;
pub mod state;
pub mod store;

use crate::owner::{Mode, Owner, Reach};

pub use dynamo::DynamoConnections;
pub use store::{ConnectionStore, OwnerDirectory, Refreshed};

/// Whether a connection can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Usable.
    Active,
    /// The refresh token is dead: the user must connect again.
    NeedsReauth,
}

/// A tenant's Zoom connection as stored (tokens sealed by the vault; none in
/// Server-to-Server mode, where the account's token is shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Our tenant.
    pub tenant_id: String,
    /// This connection's id: the namespace of everything stored for it.
    pub connection_id: String,
    /// User OAuth or Server-to-Server.
    pub mode: Mode,
    /// What it reaches.
    pub reach: Reach,
    /// Zoom account id.
    pub zoom_account_id: String,
    /// The Zoom user's email ("" for the account reach).
    pub email: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The API base Zoom returned with the token.
    pub api_url: Option<String>,
    /// Sealed access token ("" in Server-to-Server mode).
    pub access_token: String,
    /// Sealed refresh token ("" in Server-to-Server mode).
    pub refresh_token: String,
    /// Access token expiry, epoch seconds (0 in Server-to-Server mode).
    pub access_expires_at: i64,
    /// Usable or not.
    pub status: ConnectionStatus,
    /// Bumped by every write of the tokens.
    pub version: i64,
    /// When connected, epoch seconds.
    pub connected_at: i64,
    /// Server-to-Server: the caller claim the binding was made from (`user:{..}` or `account`).
    pub bound_claim: Option<String>,
}

impl Connection {
    /// The owner this connection stands for.
    pub fn owner(&self) -> Owner {
        Owner {
            tenant_id: self.tenant_id.clone(),
            connection_id: self.connection_id.clone(),
            account_id: self.zoom_account_id.clone(),
            reach: self.reach.clone(),
            mode: self.mode,
            email: Some(self.email.clone()).filter(|e| !e.is_empty()),
        }
    }

    /// The Zoom user it reaches ("" for the account reach).
    pub fn zoom_user_id(&self) -> &str {
        match &self.reach {
            Reach::User { zoom_user_id } => zoom_user_id,
            Reach::Account => "",
        }
    }
}
