//! The OAuth connect flow: start (state + PKCE kept server-side) and complete (consume the
//! state once, exchange the code, learn the Zoom user, store the sealed connection).

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use zoom_shared::aws::Table;
use zoom_shared::tokens::provider::{Credential, now_secs, owner};
use zoom_shared::tokens::store::{
    Connection, ConnectionStatus, ConnectionStore, StateRecord, StoreError,
};
use zoom_shared::tokens::vault::Vault;
use zoom_shared::zoom::client::ZoomClient;
use zoom_shared::zoom::models::ZoomUser;
use zoom_shared::zoom::oauth::{OAuthError, ZoomOAuth};

/// Why a callback could not complete.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Unknown, expired, used, tampered, or another tenant's state.
    #[error("the OAuth state is invalid, expired, already used, or not yours")]
    InvalidState,
    /// Zoom refused the code (or answered nothing usable).
    #[error("Zoom refused the authorization code: {0}")]
    ExchangeFailed(String),
    /// Zoom is unreachable.
    #[error("Zoom is unavailable: {0}")]
    ZoomUnavailable(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed.
    #[error("token sealing failed")]
    Seal,
}

/// A started flow: the URL to send the browser to.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    /// The Zoom authorize URL.
    pub authorize_url: String,
    /// Seconds the state stays valid.
    pub expires_in: i64,
}

/// The connect flow's dependencies.
pub struct ConnectFlow {
    /// The table.
    pub table: Table,
    /// Zoom OAuth.
    pub oauth: Arc<ZoomOAuth>,
    /// Token vault.
    pub vault: Arc<Vault>,
    /// Zoom REST (for `/users/me`).
    pub api: ZoomClient,
    /// State lifetime.
    pub state_ttl_secs: i64,
}

/// The key under which a state is stored: its SHA-256 (the state itself is never stored).
pub fn state_hash(state: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, state.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn verifier_owner(hash: &str) -> String {
    format!("oauth-state:{hash}|pkce")
}

impl ConnectFlow {
    /// Starts a flow for `tenant`.
    pub async fn start(&self, tenant: &str) -> Result<Started, CallbackError> {
        let authorization = self.oauth.authorize();
        let hash = state_hash(authorization.state.expose_secret());
        let sealed = self
            .vault
            .seal(
                &verifier_owner(&hash),
                authorization.pkce_verifier.expose_secret(),
            )
            .map_err(|_| CallbackError::Seal)?;
        let record = StateRecord {
            tenant_id: tenant.to_owned(),
            pkce_verifier: sealed,
        };
        self.table
            .put_oauth_state(&hash, &record, now_secs() + self.state_ttl_secs)
            .await?;
        Ok(Started {
            authorize_url: authorization.url,
            expires_in: self.state_ttl_secs,
        })
    }

    /// Completes a flow; `caller` is the tenant for the API callback (the state must be its
    /// own), `None` for the browser callback. Returns the connected tenant and Zoom user.
    pub async fn complete(
        &self,
        code: &str,
        state: &str,
        caller: Option<&str>,
    ) -> Result<Connection, CallbackError> {
        let hash = state_hash(state);
        let record = self
            .table
            .consume_oauth_state(&hash, now_secs(), caller)
            .await?
            .ok_or(CallbackError::InvalidState)?;
        let verifier: SecretString = self
            .vault
            .open(&verifier_owner(&hash), &record.pkce_verifier)
            .map_err(|_| CallbackError::InvalidState)?;
        let grant = self
            .oauth
            .exchange_code(code, &verifier)
            .await
            .map_err(|e| match e {
                OAuthError::Unavailable(reason) => CallbackError::ZoomUnavailable(reason),
                OAuthError::InvalidGrant { reason } => CallbackError::ExchangeFailed(reason),
                OAuthError::Rejected { error, reason } => {
                    CallbackError::ExchangeFailed(format!("{error}: {reason}"))
                }
            })?;
        let refresh = grant.refresh_token.clone().ok_or_else(|| {
            CallbackError::ExchangeFailed("Zoom returned no refresh token".into())
        })?;
        let credential = Credential {
            access_token: grant.access_token.clone(),
            api_url: grant.api_url.clone(),
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(6);
        let me: ZoomUser = self
            .api
            .get(&credential, "/users/me", deadline)
            .await
            .map_err(|e| {
                CallbackError::ZoomUnavailable(format!("could not read the Zoom user: {e}"))
            })?;
        let tenant = record.tenant_id;
        let seal = |field: &str, token: &SecretString| {
            self.vault
                .seal(&owner(&tenant, field), token.expose_secret())
                .map_err(|_| CallbackError::Seal)
        };
        let previous_version = self
            .table
            .get(&tenant)
            .await?
            .map(|c| c.version)
            .unwrap_or(0);
        let connection = Connection {
            tenant_id: tenant.clone(),
            zoom_user_id: me.id,
            zoom_account_id: me.account_id,
            email: me.email,
            scopes: grant.scopes.clone(),
            api_url: grant.api_url.clone(),
            access_token: seal("access", &grant.access_token)?,
            refresh_token: seal("refresh", &refresh)?,
            access_expires_at: now_secs() + grant.expires_in as i64,
            status: ConnectionStatus::Active,
            version: previous_version + 1,
            connected_at: now_secs(),
        };
        self.table.put(&connection).await?;
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_hash_is_sha256_hex() {
        assert_eq!(
            state_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
