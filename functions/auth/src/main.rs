//! `zoom-auth`: connect and disconnect Zoom. Reads its configuration once, builds the stores,
//! the vault, the OAuth and REST clients and the token provider once, then serves.

mod flow;
mod handler;
mod lifecycle;
mod settings;

use zoom_shared::aws::Queue;
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::connections::state::DynamoStates;
use zoom_shared::http::CallerAuth;
use zoom_shared::metrics::Metrics;
use zoom_shared::purge::DynamoPurge;
use zoom_shared::zoom::access::ZoomAccess;

const FUNCTION: &str = "zoom-auth";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let metrics = Metrics::new(FUNCTION);
    let purge_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_PURGE_QUEUE_URL)).to_owned();
    let zoom = exit_on_error(FUNCTION, ZoomAccess::from_env(&env, &metrics).await);
    let settings = exit_on_error(FUNCTION, settings::AuthSettings::from_env(&env, &zoom.app));
    let sdk = zoom_shared::aws::load_config().await;
    let handler = handler::AuthHandler {
        idempotency: zoom_shared::idempotency::DynamoIdempotency::new(zoom.table.clone()),
        flow: flow::ConnectFlow {
            states: DynamoStates::new(zoom.table.clone()),
            connections: zoom.connections(),
            oauth: zoom.oauth.clone(),
            vault: zoom.vault.clone(),
            api: zoom.zoom.client.clone(),
            state_ttl_secs: settings.state_ttl_secs,
        },
        owners: zoom.owners(),
        zoom: zoom.zoom.clone(),
        connections: zoom.connections(),
        purge_queue: Queue::new(aws_sdk_sqs::Client::new(&sdk), purge_url),
        purger: DynamoPurge::new(zoom.table.clone()),
        caller_auth: CallerAuth::from_env(&env),
        settings,
        metrics,
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
