//! The one entry point for Zoom-calling code: a fresh token for a tenant, whichever OAuth mode
//! is configured, and the mapping of token failures to problem+json.

use std::sync::Arc;

use super::account::AccountTokens;
use super::cache::DynamoTokenCache;
use super::provider::{Credential, TokenError, TokenProvider};
use crate::connections::DynamoConnections;
use crate::http::ApiError;
use crate::owner::{Mode, Owner};
use crate::zoom::oauth::ZoomOAuth;

/// Where a caller starts the OAuth flow again.
pub const REAUTH_URL: &str = "/api/zoom/auth/authorize";

/// Tokens in user-OAuth or Server-to-Server mode.
pub enum Tokens {
    /// Each tenant connects its own Zoom user.
    User(TokenProvider<DynamoConnections, Arc<ZoomOAuth>>),
    /// One account token shared by every tenant.
    Account(AccountTokens<DynamoTokenCache>),
}

impl Tokens {
    /// A usable token for `owner`: its tenant's own (user OAuth) or the account's; a refresh
    /// is done by `deadline`.
    pub async fn fresh(
        &self,
        owner: &Owner,
        deadline: tokio::time::Instant,
    ) -> Result<Credential, TokenError> {
        match (self, owner.mode) {
            (Self::User(provider), Mode::UserOAuth) => {
                provider.fresh(&owner.tenant_id, deadline).await
            }
            (Self::Account(account), Mode::ServerToServer) => account.fresh(None).await,
            // A connection of the other mode (left from before the deployment switched): it
            // has to be made again in this mode.
            _ => Err(TokenError::NeedsReauth),
        }
    }

    /// A new token after Zoom rejected `used` with 401 (code 124).
    pub async fn after_unauthorized(
        &self,
        owner: &Owner,
        used: &Credential,
        deadline: tokio::time::Instant,
    ) -> Result<Credential, TokenError> {
        match (self, owner.mode) {
            (Self::User(provider), Mode::UserOAuth) => {
                provider
                    .after_unauthorized(&owner.tenant_id, used, deadline)
                    .await
            }
            (Self::Account(account), Mode::ServerToServer) => account.fresh(Some(used)).await,
            _ => Err(TokenError::NeedsReauth),
        }
    }
}

impl super::provider::Refresher for Arc<ZoomOAuth> {
    async fn refresh(
        &self,
        refresh_token: &secrecy::SecretString,
    ) -> Result<crate::zoom::oauth::TokenGrant, crate::zoom::oauth::OAuthError> {
        ZoomOAuth::refresh(self, refresh_token).await
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::NotConnected => ApiError::Conflict(format!(
                "this tenant has not connected Zoom; start at {REAUTH_URL}"
            )),
            TokenError::NeedsReauth => ApiError::ZoomReauthRequired {
                reauth_url: REAUTH_URL.to_owned(),
            },
            TokenError::Upstream(reason) => ApiError::BadGateway(reason),
            TokenError::Busy => ApiError::unavailable(TokenError::Busy),
            TokenError::Store(e) => ApiError::unavailable(e),
        }
    }
}
