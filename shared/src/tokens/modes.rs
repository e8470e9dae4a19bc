//! The one entry point for Zoom-calling code: a fresh token for a tenant, whichever OAuth mode
//! is configured, and the mapping of token failures to problem+json.

use std::sync::Arc;

use super::account::AccountTokens;
use super::provider::{Credential, TokenError, TokenProvider};
use crate::aws::Table;
use crate::http::ApiError;
use crate::zoom::oauth::ZoomOAuth;

/// Where a caller starts the OAuth flow again.
pub const REAUTH_URL: &str = "/api/zoom/auth/authorize";

/// Tokens in user-OAuth or Server-to-Server mode.
pub enum Tokens {
    /// Each tenant connects its own Zoom user.
    User(TokenProvider<Table, Arc<ZoomOAuth>>),
    /// One account token shared by every tenant.
    Account(AccountTokens),
}

impl Tokens {
    /// A usable token for `tenant`.
    pub async fn fresh(&self, tenant: &str) -> Result<Credential, TokenError> {
        match self {
            Self::User(provider) => provider.fresh(tenant).await,
            Self::Account(account) => account.fresh(None).await,
        }
    }

    /// A new token after Zoom rejected `used` with 401 (code 124).
    pub async fn after_unauthorized(
        &self,
        tenant: &str,
        used: &Credential,
    ) -> Result<Credential, TokenError> {
        match self {
            Self::User(provider) => provider.after_unauthorized(tenant, used).await,
            Self::Account(account) => account.fresh(Some(used)).await,
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
