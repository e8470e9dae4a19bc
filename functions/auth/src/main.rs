//! `zoom-auth`: connect and disconnect Zoom. Reads its configuration once, builds the table,
//! the vault, the OAuth and REST clients and the token provider once, then serves.

mod flow;
mod handler;
mod settings;

use std::sync::Arc;

use zoom_shared::aws::{self, Table};
use zoom_shared::config::{Env, ZoomApp, exit_on_error, vars};
use zoom_shared::http::CallerAuth;
use zoom_shared::metrics::Metrics;
use zoom_shared::tokens::Tokens;
use zoom_shared::tokens::account::AccountTokens;
use zoom_shared::tokens::provider::TokenProvider;
use zoom_shared::tokens::vault::Vault;
use zoom_shared::zoom::client::ZoomClient;
use zoom_shared::zoom::oauth::ZoomOAuth;

const FUNCTION: &str = "zoom-auth";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let table_name = exit_on_error(FUNCTION, env.required(vars::ZOOM_TABLE_NAME)).to_owned();
    let app = exit_on_error(FUNCTION, ZoomApp::from_env(&env));
    let vault = Arc::new(exit_on_error(FUNCTION, Vault::from_env(&env)));
    let settings = exit_on_error(FUNCTION, settings::AuthSettings::from_env(&env, &app));
    let http = zoom_shared::zoom::http_client::build();
    let oauth = Arc::new(exit_on_error(FUNCTION, ZoomOAuth::new(&app, http.clone())));
    let metrics = Metrics::new(FUNCTION);

    let sdk = aws::load_config().await;
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
    let handler = handler::AuthHandler {
        flow: flow::ConnectFlow {
            table: table.clone(),
            oauth,
            vault,
            api: ZoomClient::new(http, app.api_base_url.clone()),
            state_ttl_secs: settings.state_ttl_secs,
        },
        tokens,
        table,
        caller_auth: CallerAuth::from_env(&env),
        settings,
        metrics,
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
