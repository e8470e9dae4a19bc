//! `zoom-analytics-processor`: consumes the webhook events queue (SQS event source, partial
//! batch failures) and folds each event into the tenant's analytics exactly once: meeting
//! events are recorded, and each meeting settles into its day a short delay after it ended.

mod backoff;
mod batch;
mod delivery;
mod failure;
mod meeting;
mod ownership;
mod participants;
mod processor;
mod settings;
mod settle;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use zoom_shared::analytics::DynamoAnalytics;
use zoom_shared::archive::DynamoArchive;
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::caches::DynamoPageCache;
use zoom_shared::config::{Env, exit_on_error, vars};
use zoom_shared::connections::DynamoConnections;
use zoom_shared::meetings::DynamoMeetings;
use zoom_shared::metrics::Metrics;
use zoom_shared::store::Table;

const FUNCTION: &str = "zoom-analytics-processor";

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
    let settle_delay_secs = exit_on_error(FUNCTION, settings::settle_delay(&env));
    let bucket = exit_on_error(FUNCTION, env.required(vars::ZOOM_RECORDINGS_BUCKET)).to_owned();
    let lease_secs = exit_on_error(FUNCTION, settings::lease(&env));
    let concurrency = exit_on_error(FUNCTION, settings::concurrency(&env));
    let stop_margin = exit_on_error(FUNCTION, settings::stop_margin(&env));
    let settle_group_fault = exit_on_error(FUNCTION, settings::settle_group_fault(&env));
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
        settle_group_fault,
        concurrency,
        stop_margin,
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
