//! `zoom-tenant-purger`: consumes purge jobs from SQS and deletes a removed connection's data
//! everywhere (items, archived files with every version, unfinished uploads).

mod purger;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::connections::DynamoConnections;
use zoom_shared::metrics::Metrics;
use zoom_shared::purge::DynamoPurge;
use zoom_shared::store::Table;

const FUNCTION: &str = "zoom-tenant-purger";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let table_name = exit_on_error(FUNCTION, env.required(vars::ZOOM_TABLE_NAME)).to_owned();
    let bucket_name =
        exit_on_error(FUNCTION, env.required(vars::ZOOM_RECORDINGS_BUCKET)).to_owned();
    let queue_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_PURGE_QUEUE_URL)).to_owned();
    let sdk = zoom_shared::aws::load_config().await;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name);
    let purger = purger::Purger {
        connections: DynamoConnections::new(table.clone()),
        items: DynamoPurge::new(table),
        files: Bucket::new(&sdk, bucket_name),
        queue: Queue::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
        metrics: Metrics::new(FUNCTION),
    };
    let purger = &purger;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(purger.handle(event.payload).await)
    }))
    .await
}
