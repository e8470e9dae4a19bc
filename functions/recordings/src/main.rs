//! `zoom-recordings`: cloud recordings of the caller's Zoom connection. Builds its
//! dependencies once.

mod handler;

use zoom_shared::archive::DynamoArchive;
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::http::CallerAuth;
use zoom_shared::metrics::Metrics;
use zoom_shared::zoom::access::ZoomAccess;

const FUNCTION: &str = "zoom-recordings";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let bucket_name =
        exit_on_error(FUNCTION, env.required(vars::ZOOM_RECORDINGS_BUCKET)).to_owned();
    let queue_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_ARCHIVE_QUEUE_URL)).to_owned();
    let metrics = Metrics::new(FUNCTION);
    let zoom = exit_on_error(FUNCTION, ZoomAccess::from_env(&env, &metrics).await);
    let sdk = zoom_shared::aws::load_config().await;
    let handler = handler::RecordingsHandler {
        owners: zoom.owners(),
        archive: DynamoArchive::new(zoom.table.clone()),
        zoom: zoom.zoom.clone(),
        links: Bucket::new(&sdk, bucket_name),
        jobs: Queue::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
        caller_auth: CallerAuth::from_env(&env),
    };
    zoom_shared::http::serve::run(FUNCTION, handler::router(), handler).await
}
