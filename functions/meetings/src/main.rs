//! `zoom-meetings`: meetings of the caller's Zoom connection. Builds its dependencies once.

mod create;
mod handler;

use zoom_shared::caches::DynamoPageCache;
use zoom_shared::config::{Env, exit_on_error};
use zoom_shared::http::CallerAuth;
use zoom_shared::idempotency::DynamoIdempotency;
use zoom_shared::meetings::DynamoMeetings;
use zoom_shared::metrics::Metrics;
use zoom_shared::zoom::access::ZoomAccess;

const FUNCTION: &str = "zoom-meetings";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let metrics = Metrics::new(FUNCTION);
    let zoom = exit_on_error(FUNCTION, ZoomAccess::from_env(&env, &metrics).await);
    let handler = handler::MeetingsHandler {
        owners: zoom.owners(),
        meetings: DynamoMeetings::new(zoom.table.clone()),
        pages: DynamoPageCache::new(zoom.table.clone()),
        zoom: zoom.zoom.clone(),
        idempotency: DynamoIdempotency::new(zoom.table.clone()),
        caller_auth: CallerAuth::from_env(&env),
        metrics,
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
