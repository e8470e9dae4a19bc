//! `zoom-analytics`: `GET /api/zoom/analytics/meetings`, from the per-day aggregates the
//! processor maintains. Never calls Zoom. Builds its dependencies once.

mod handler;

use zoom_shared::aws::Table;
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::http::CallerAuth;

const FUNCTION: &str = "zoom-analytics";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let table_name = exit_on_error(FUNCTION, env.required(vars::ZOOM_TABLE_NAME)).to_owned();
    let sdk = zoom_shared::aws::load_config().await;
    let handler = handler::AnalyticsHandler {
        table: Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name),
        caller_auth: CallerAuth::from_env(&env),
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
