//! Everything a Zoom-calling function needs, built once at start from configuration: the
//! table, the token vault, the OAuth client, the Zoom facade (tokens for the configured mode
//! plus the REST client), and the tenancy that decides owners.

use std::sync::Arc;

use super::api::Zoom;
use super::client::ZoomClient;
use super::oauth::ZoomOAuth;
use crate::config::{ConfigError, Env, ZoomApp, vars};
use crate::connections::DynamoConnections;
use crate::connections::resolve::{Owners, Tenancy};
use crate::metrics::Metrics;
use crate::store::Table;
use crate::tokens::Tokens;
use crate::tokens::account::AccountTokens;
use crate::tokens::cache::DynamoTokenCache;
use crate::tokens::provider::TokenProvider;
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
    /// The Zoom facade (shared with the owner resolver).
    pub zoom: Arc<Zoom>,
    /// How callers become owners in this deployment.
    pub tenancy: Tenancy,
}

/// The deployment's tenancy, from its Zoom app settings.
pub fn tenancy(app: &ZoomApp) -> Tenancy {
    match &app.account_id {
        Some(account_id) => Tenancy::ServerToServer {
            account_id: account_id.clone(),
        },
        None => Tenancy::UserOAuth,
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
                DynamoTokenCache::new(table.clone()),
                oauth.clone(),
                vault.clone(),
                metrics.clone(),
                account.clone(),
            )),
            None => Tokens::User(TokenProvider::new(
                DynamoConnections::new(table.clone()),
                oauth.clone(),
                vault.clone(),
                metrics.clone(),
            )),
        };
        let zoom = Arc::new(Zoom {
            tokens,
            client: ZoomClient::new(http, app.api_base_url.clone()),
        });
        Ok(Self {
            tenancy: tenancy(&app),
            table,
            app,
            vault,
            oauth,
            zoom,
        })
    }

    /// The connections adapter over this function's table.
    pub fn connections(&self) -> DynamoConnections {
        DynamoConnections::new(self.table.clone())
    }

    /// The owner resolver of this deployment (binds Server-to-Server tenants through Zoom).
    pub fn owners(&self) -> Owners<DynamoConnections, Arc<Zoom>> {
        Owners {
            connections: self.connections(),
            tenancy: self.tenancy.clone(),
            zoom: Some(self.zoom.clone()),
        }
    }
}
