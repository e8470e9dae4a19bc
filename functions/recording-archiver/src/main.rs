//! `zoom-recording-archiver`: consumes archive jobs from SQS and copies each recording file
//! from Zoom into the recordings bucket by streaming it through an S3 multipart upload.

mod admission;
mod archiver;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use zoom_shared::aws::Bucket;
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::metrics::Metrics;
use zoom_shared::zoom::access::ZoomAccess;

const FUNCTION: &str = "zoom-recording-archiver";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let bucket_name =
        exit_on_error(FUNCTION, env.required(vars::ZOOM_RECORDINGS_BUCKET)).to_owned();
    let metrics = Metrics::new(FUNCTION);
    let zoom = exit_on_error(FUNCTION, ZoomAccess::from_env(&env, &metrics).await);
    let sdk = zoom_shared::aws::load_config().await;
    let archiver = archiver::Archiver::new(zoom, Bucket::new(&sdk, bucket_name), metrics);
    let archiver = &archiver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(archiver.handle(event.payload).await)
    }))
    .await
}
