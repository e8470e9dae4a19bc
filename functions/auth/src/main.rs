//! `zoom-auth`: connect and disconnect Zoom. Reads its configuration once, builds the table,
//! the vault, the OAuth and REST clients and the token provider once, then serves.

mod flow;
mod handler;
mod settings;

use zoom_shared::config::{Env, exit_on_error};
use zoom_shared::http::CallerAuth;
use zoom_shared::metrics::Metrics;
use zoom_shared::zoom::access::ZoomAccess;

const FUNCTION: &str = "zoom-auth";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let metrics = Metrics::new(FUNCTION);
    let zoom = exit_on_error(FUNCTION, ZoomAccess::from_env(&env, &metrics).await);
    let settings = exit_on_error(FUNCTION, settings::AuthSettings::from_env(&env, &zoom.app));
    let handler = handler::AuthHandler {
        flow: flow::ConnectFlow {
            table: zoom.table.clone(),
            oauth: zoom.oauth.clone(),
            vault: zoom.vault.clone(),
            api: zoom.client.clone(),
            state_ttl_secs: settings.state_ttl_secs,
        },
        table: zoom.table,
        tokens: zoom.tokens,
        caller_auth: CallerAuth::from_env(&env),
        settings,
        metrics,
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
