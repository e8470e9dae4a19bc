//! `zoom-health`: `GET /api/zoom/health` and `GET /api/zoom/config` (no caller JWT).
//!
//! Thin on purpose: read the configuration, build the AWS clients once, run the handler.

mod handler;
mod settings;

use zoom_shared::aws::{self, Queue};
use zoom_shared::config::{Env, ZoomApp, exit_on_error, vars};
use zoom_shared::store::Table;

const FUNCTION: &str = "zoom-health";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let table_name = exit_on_error(FUNCTION, env.required(vars::ZOOM_TABLE_NAME)).to_owned();
    let queue_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_EVENTS_QUEUE_URL)).to_owned();
    let zoom = exit_on_error(FUNCTION, ZoomApp::from_env(&env));
    let settings = settings::PublicSettings::new(&zoom, &env);

    let sdk = aws::load_config().await;
    let handler = handler::HealthHandler {
        table: Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name),
        queue: Queue::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
        settings,
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
