//! Server-to-Server OAuth (`ZOOM_ACCOUNT_ID` set): one `account_credentials` token for the
//! account, cached in memory and in the table (sealed) so every function shares it; no
//! refresh token exists, a new token is simply requested when the cached one is near expiry.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::cache::AccountTokenCache;
use super::provider::{Credential, REFRESH_SKEW_SECS, TokenError};
use super::vault::Vault;
use crate::clock::now_secs;
use crate::metrics::Metrics;
use crate::zoom::oauth::ZoomOAuth;

/// Hands out the account's Server-to-Server token.
pub struct AccountTokens<C> {
    cache_store: C,
    oauth: Arc<ZoomOAuth>,
    vault: Arc<Vault>,
    metrics: Metrics,
    account_id: String,
    cache: tokio::sync::Mutex<Option<(Credential, i64)>>,
}

impl<C: AccountTokenCache> AccountTokens<C> {
    /// Tokens for `account_id`, shared through `cache_store`.
    pub fn new(
        cache_store: C,
        oauth: Arc<ZoomOAuth>,
        vault: Arc<Vault>,
        metrics: Metrics,
        account_id: String,
    ) -> Self {
        Self {
            cache_store,
            oauth,
            vault,
            metrics,
            account_id,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    fn owner(&self) -> String {
        format!("account:{}|access", self.account_id)
    }

    /// A token with at least [`REFRESH_SKEW_SECS`] left (`rejected`: Zoom refused this one).
    pub async fn fresh(&self, rejected: Option<&Credential>) -> Result<Credential, TokenError> {
        let mut cache = self.cache.lock().await;
        let is_rejected = |c: &Credential| {
            rejected
                .is_some_and(|r| r.access_token.expose_secret() == c.access_token.expose_secret())
        };
        if let Some((credential, expires)) = cache.as_ref()
            && *expires - now_secs() > REFRESH_SKEW_SECS
            && !is_rejected(credential)
        {
            return Ok(credential.clone());
        }
        if let Some((sealed, expires)) = self.cache_store.get(&self.account_id).await?
            && expires - now_secs() > REFRESH_SKEW_SECS
            && let Ok(token) = self.vault.open(&self.owner(), &sealed)
        {
            let credential = Credential {
                access_token: token,
                api_url: None,
            };
            if !is_rejected(&credential) {
                *cache = Some((credential.clone(), expires));
                return Ok(credential);
            }
        }
        let grant = self
            .oauth
            .account_credentials(&self.account_id)
            .await
            .map_err(|e| {
                self.metrics
                    .count("TokenRefresh", 1.0, &[("Outcome", "failure")]);
                TokenError::Upstream(e.to_string())
            })?;
        let expires = now_secs() + grant.expires_in as i64;
        let sealed = self
            .vault
            .seal(&self.owner(), grant.access_token.expose_secret())
            .map_err(|e| TokenError::Upstream(format!("sealing failed: {e}")))?;
        self.cache_store
            .put(&self.account_id, &sealed, expires)
            .await?;
        self.metrics
            .count("TokenRefresh", 1.0, &[("Outcome", "success")]);
        let credential = Credential {
            access_token: SecretString::from(grant.access_token.expose_secret().to_owned()),
            api_url: grant.api_url,
        };
        *cache = Some((credential.clone(), expires));
        Ok(credential)
    }
}
