//! `zoom-analytics-processor`: consumes the webhook events queue (SQS event source, partial
//! batch failures) and folds each event into the tenant's analytics exactly once.

mod change;
mod processor;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use zoom_shared::analytics::DynamoAnalytics;
use zoom_shared::archive::DynamoArchive;
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::caches::DynamoPageCache;
use zoom_shared::config::{ConfigError, Env, exit_on_error, vars};
use zoom_shared::connections::DynamoConnections;
use zoom_shared::meetings::DynamoMeetings;
use zoom_shared::metrics::Metrics;
use zoom_shared::store::Table;

const FUNCTION: &str = "zoom-analytics-processor";

fn lease(env: &Env) -> Result<i64, ConfigError> {
    match env.optional("ZOOM_IDEMPOTENCY_LEASE_SECS") {
        None => Ok(60),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=900).contains(s))
            .ok_or(ConfigError::Invalid {
                name: "ZOOM_IDEMPOTENCY_LEASE_SECS",
                reason: "must be 1 to 900 seconds",
            }),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    zoom_shared::telemetry::init();
    let env = Env::from_process();
    let table_name = exit_on_error(FUNCTION, env.required(vars::ZOOM_TABLE_NAME)).to_owned();
    let archive_url =
        exit_on_error(FUNCTION, env.required(vars::ZOOM_ARCHIVE_QUEUE_URL)).to_owned();
    let purge_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_PURGE_QUEUE_URL)).to_owned();
    let bucket = exit_on_error(FUNCTION, env.required(vars::ZOOM_RECORDINGS_BUCKET)).to_owned();
    let lease_secs = exit_on_error(FUNCTION, lease(&env));
    let sdk = zoom_shared::aws::load_config().await;
    let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let processor = processor::Processor {
        connections: DynamoConnections::new(table.clone()),
        meetings: DynamoMeetings::new(table.clone()),
        pages: DynamoPageCache::new(table.clone()),
        analytics: DynamoAnalytics::new(table.clone()),
        archive: DynamoArchive::new(table),
        archive_queue: Queue::new(sqs.clone(), archive_url),
        purge_queue: Queue::new(sqs, purge_url),
        spool: Bucket::new(&sdk, bucket),
        metrics: Metrics::new(FUNCTION),
        lease_secs,
        crash_after_claim: env
            .optional("ZOOM_FAULT_CRASH_AFTER_CLAIM")
            .map(str::to_owned),
        concurrency: env
            .optional("ZOOM_PROCESSOR_CONCURRENCY")
            .and_then(|c| c.parse().ok())
            .unwrap_or(processor::CONCURRENCY),
    };
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(processor.handle(event.payload).await)
    }))
    .await
}
