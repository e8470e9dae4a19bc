//! `zoom-analytics`: `GET /api/zoom/analytics/meetings`, from the per-day aggregates the
//! processor maintains. Never calls Zoom. Builds its dependencies once.

mod handler;

use zoom_shared::analytics::DynamoAnalytics;
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::connections::DynamoConnections;
use zoom_shared::connections::resolve::{Owners, Tenancy};
use zoom_shared::http::CallerAuth;
use zoom_shared::store::Table;
use zoom_shared::zoom::api::NoZoom;

const FUNCTION: &str = "zoom-analytics";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let table_name = exit_on_error(FUNCTION, env.required(vars::ZOOM_TABLE_NAME)).to_owned();
    let sdk = zoom_shared::aws::load_config().await;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name);
    let handler = handler::AnalyticsHandler {
        owners: Owners::<_, NoZoom> {
            connections: DynamoConnections::new(table.clone()),
            tenancy: Tenancy::from_env(&env),
            zoom: None,
        },
        analytics: DynamoAnalytics::new(table),
        caller_auth: CallerAuth::from_env(&env),
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
