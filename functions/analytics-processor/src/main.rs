//! `zoom-analytics-processor`: consumes the webhook events queue (SQS event source, partial
//! batch failures) and folds each event into the tenant's analytics exactly once: meeting
//! events are recorded, and each meeting settles into its day a short delay after it ended.

mod backoff;
mod meeting;
mod ownership;
mod participants;
mod processor;
mod settle;

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

/// The default delay between a meeting's end and its settle (AWS).
const SETTLE_DELAY_SECS: i32 = 60;

fn settle_delay(env: &Env) -> Result<i32, ConfigError> {
    match env.optional("ZOOM_SETTLE_DELAY_SECS") {
        None => Ok(SETTLE_DELAY_SECS),
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|s| (1..=900).contains(s))
            .ok_or(ConfigError::Invalid {
                name: "ZOOM_SETTLE_DELAY_SECS",
                reason: "must be 1 to 900 seconds (SQS's longest delay)",
            }),
    }
}

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
    let events_url = exit_on_error(FUNCTION, env.required(vars::ZOOM_EVENTS_QUEUE_URL)).to_owned();
    let dead_letters_url =
        exit_on_error(FUNCTION, env.required(vars::ZOOM_EVENTS_DLQ_URL)).to_owned();
    let settle_delay_secs = exit_on_error(FUNCTION, settle_delay(&env));
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
        purge_queue: Queue::new(sqs.clone(), purge_url),
        settle_queue: Queue::new(sqs.clone(), events_url),
        dead_letters: Queue::new(sqs, dead_letters_url),
        settle_delay_secs,
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
        stop_margin: env
            .optional("ZOOM_PROCESSOR_STOP_MARGIN_SECS")
            .and_then(|c| c.parse().ok())
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(processor::STOP_MARGIN),
    };
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // The invocation's deadline, as an instant of this process's clock. One already past
        // when the invocation starts is not a real deadline (`cargo lambda watch` sends the
        // fixed value 600000, a time in 1970): the template's timeout stands in for it.
        let left = event
            .context
            .deadline
            .saturating_sub(u64::try_from(zoom_shared::clock::now_millis()).unwrap_or(0));
        let left = match left {
            0 => processor::FUNCTION_TIMEOUT,
            ms => std::time::Duration::from_millis(ms),
        };
        let deadline = std::time::Instant::now() + left;
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            processor.handle(event.payload, deadline).await,
        )
    }))
    .await
}
