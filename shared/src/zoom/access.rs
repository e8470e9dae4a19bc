//! Everything a Zoom-calling function needs, built once at start from configuration: the
//! table, the token vault, the OAuth client, the token provider for the configured mode, and
//! the REST client.

use std::sync::Arc;

use super::client::ZoomClient;
use super::oauth::ZoomOAuth;
use crate::aws::Table;
use crate::config::{ConfigError, Env, ZoomApp, vars};
use crate::http::ApiError;
use crate::metrics::Metrics;
use crate::tokens::Tokens;
use crate::tokens::account::AccountTokens;
use crate::tokens::provider::TokenProvider;
use crate::tokens::store::ConnectionStore;
use crate::tokens::vault::Vault;

/// Zoom access for one function.
pub struct ZoomAccess {
    /// The table.
    pub table: Table,
    /// Zoom app settings.
    pub app: ZoomApp,
    /// Token vault.
    pub vault: Arc<Vault>,
    /// OAuth client.
    pub oauth: Arc<ZoomOAuth>,
    /// Fresh tokens.
    pub tokens: Tokens,
    /// REST client.
    pub client: ZoomClient,
}

/// Whose Zoom data a tenant may address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The tenant's own Zoom user.
    User(String),
    /// The whole account (Server-to-Server mode).
    Account,
}

impl Owner {
    /// Whether a meeting or recording hosted by `host_id` is the tenant's to see.
    pub fn owns(&self, host_id: &str) -> bool {
        match self {
            Self::User(user) => user == host_id,
            Self::Account => true,
        }
    }
}

impl ZoomAccess {
    /// Reads configuration (table, vault keys, Zoom app) and builds the clients.
    pub async fn from_env(env: &Env, metrics: &Metrics) -> Result<Self, ConfigError> {
        let table_name = env.required(vars::ZOOM_TABLE_NAME)?.to_owned();
        let app = ZoomApp::from_env(env)?;
        let vault = Arc::new(Vault::from_env(env)?);
        let http = super::http_client::build();
        let oauth = Arc::new(ZoomOAuth::new(&app, http.clone())?);
        let sdk = crate::aws::load_config().await;
        let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name);
        let tokens = match &app.account_id {
            Some(account) => Tokens::Account(AccountTokens::new(
                table.clone(),
                oauth.clone(),
                vault.clone(),
                metrics.clone(),
                account.clone(),
            )),
            None => Tokens::User(TokenProvider::new(
                table.clone(),
                oauth.clone(),
                vault.clone(),
                metrics.clone(),
            )),
        };
        let client = ZoomClient::new(http, app.api_base_url.clone());
        Ok(Self {
            table,
            app,
            vault,
            oauth,
            tokens,
            client,
        })
    }

    /// Whose Zoom data `tenant` may address; 409 when the tenant never connected.
    pub async fn owner(&self, tenant: &str) -> Result<Owner, ApiError> {
        if self.app.account_id.is_some() {
            return Ok(Owner::Account);
        }
        let connection = self
            .table
            .get(tenant)
            .await
            .map_err(ApiError::unavailable)?;
        match connection {
            Some(c) => Ok(Owner::User(c.zoom_user_id)),
            None => Err(crate::tokens::provider::TokenError::NotConnected.into()),
        }
    }
}
