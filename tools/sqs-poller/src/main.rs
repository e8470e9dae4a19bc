//! `sqs-poller`: what Lambda's SQS event source mapping does, for the local stack.
//!
//! For each `queue_url=function` of `POLLER_ROUTES` it long-polls the queue, groups up to 10
//! messages into an SQS event, invokes the function through cargo lambda's invoke API
//! (`POLLER_WATCH_URL/2015-03-31/functions/{function}/invocations`), deletes the messages the
//! function did not report as failed (`batchItemFailures`), and leaves the failures for
//! redelivery, and so for the dead-letter queue after the queue's redrive count.
//!
//! Each route is `queue_url=function[=timeout_secs[=batch_size[=window_ms]]]` (default 900 s, 10
//! messages, no window). As Lambda's `BatchSize` and `MaximumBatchingWindowInSeconds`: once a
//! receive returns messages, more are gathered until the batch is full or the window has passed
//! since the first.
//!
//! `POLLER_CONCURRENCY` (default 1) pollers run per queue, as Lambda runs several.
//!
//! As in AWS, the queue is read with the consuming function's own permissions (Lambda's event
//! source mapping uses the function's role): with `POLLER_CREDENTIALS_DIR` set (the local
//! stack's `.stack/iam`), `ReceiveMessage`, `DeleteMessage(Batch)` and `GetQueueAttributes`
//! are signed with the credentials in `{dir}/{function}.env`, so the emulator checks them
//! against what template.yaml grants that function. Without it, the environment's.
//!
//! One deliberate difference: a failed message is made visible again after
//! `POLLER_RETRY_DELAY_SECS` (default 1) instead of the queue's whole visibility timeout, so
//! local runs and tests do not wait minutes for a redelivery. That
//! `ChangeMessageVisibility` is the poller's own (the environment's credentials): Lambda
//! needs no such grant, and the function's role has none.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

#[derive(Clone)]
struct Route {
    queue_url: String,
    function: String,
    /// How long an invocation may take before its messages count as failed.
    timeout: Duration,
    /// Most messages per invocation.
    batch_size: usize,
    /// How long to gather a batch after its first message.
    window: Duration,
}

fn routes() -> Result<Vec<Route>, String> {
    let spec = std::env::var("POLLER_ROUTES")
        .map_err(|_| "POLLER_ROUTES is required (queue_url=function,…)".to_owned())?;
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            // queue_url=function[=timeout_secs[=batch[=window_ms]]]; the URL has no '='.
            let mut parts = pair.trim().splitn(5, '=');
            let (Some(queue_url), Some(function)) = (parts.next(), parts.next()) else {
                return Err(format!(
                    "POLLER_ROUTES entry {pair} is not queue_url=function"
                ));
            };
            let timeout = match parts.next() {
                None => 900,
                Some(t) => t
                    .parse::<u64>()
                    .map_err(|_| format!("POLLER_ROUTES entry {pair} has a bad timeout"))?,
            };
            let batch_size = match parts.next() {
                None => 10,
                Some(b) => b
                    .parse::<usize>()
                    .ok()
                    .filter(|b| (1..=10_000).contains(b))
                    .ok_or_else(|| format!("POLLER_ROUTES entry {pair} has a bad batch size"))?,
            };
            let window = match parts.next() {
                None => 0,
                Some(w) => w
                    .parse::<u64>()
                    .map_err(|_| format!("POLLER_ROUTES entry {pair} has a bad window"))?,
            };
            Ok(Route {
                queue_url: queue_url.to_owned(),
                function: function.to_owned(),
                timeout: Duration::from_secs(timeout),
                batch_size,
                window: Duration::from_millis(window),
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let (routes, watch) = match (routes(), std::env::var("POLLER_WATCH_URL")) {
        (Ok(routes), Ok(watch)) => (routes, watch),
        (Err(e), _) => fail(&e),
        (_, Err(_)) => fail("POLLER_WATCH_URL is required"),
    };
    let retry_delay: i32 = std::env::var("POLLER_RETRY_DELAY_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let credentials_dir = std::env::var("POLLER_CREDENTIALS_DIR")
        .ok()
        .filter(|d| !d.trim().is_empty());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()
        .unwrap_or_default();
    // Lambda's event source mapping polls with several pollers at once; so can this one.
    let pollers: usize = std::env::var("POLLER_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    for route in routes {
        println!(
            "sqs-poller: {} -> {} ({pollers} poller(s))",
            route.queue_url, route.function
        );
        let as_function = match &credentials_dir {
            None => sqs.clone(),
            Some(dir) => match function_credentials(dir, &route.function) {
                Ok(credentials) => aws_sdk_sqs::Client::from_conf(
                    aws_sdk_sqs::config::Builder::from(&sdk)
                        .credentials_provider(credentials)
                        .build(),
                ),
                Err(e) => fail(&e),
            },
        };
        for _ in 0..pollers {
            tokio::spawn(poll(
                Clients {
                    as_function: as_function.clone(),
                    own: sqs.clone(),
                },
                http.clone(),
                watch.clone(),
                route.clone(),
                retry_delay,
            ));
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The credentials `{dir}/{function}.env` holds (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
fn function_credentials(
    dir: &str,
    function: &str,
) -> Result<aws_sdk_sqs::config::Credentials, String> {
    let path = std::path::Path::new(dir).join(format!("{function}.env"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{} is unreadable: {e}", path.display()))?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| format!("{} has no {name}", path.display()))
    };
    Ok(aws_sdk_sqs::config::Credentials::new(
        value("AWS_ACCESS_KEY_ID")?,
        value("AWS_SECRET_ACCESS_KEY")?,
        None,
        None,
        "sqs-poller",
    ))
}

/// The two ways the poller talks to SQS.
#[derive(Clone)]
struct Clients {
    /// As the consuming function (what Lambda's event source mapping does with its role).
    as_function: aws_sdk_sqs::Client,
    /// As the poller itself (the local-only early redelivery).
    own: aws_sdk_sqs::Client,
}

fn fail(message: &str) -> ! {
    eprintln!("sqs-poller: configuration error: {message}");
    std::process::exit(1);
}

async fn poll(
    clients: Clients,
    http: reqwest::Client,
    watch: String,
    route: Route,
    retry_delay: i32,
) {
    let invoke_url = format!(
        "{watch}/2015-03-31/functions/{}/invocations",
        route.function
    );
    let sqs = &clients.as_function;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&route.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()
        .and_then(|a| {
            a.attributes().and_then(|m| {
                m.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
        })
        .unwrap_or_default();
    loop {
        let messages = match gather(sqs, &route).await {
            Ok(messages) => messages,
            Err(e) => {
                eprintln!("sqs-poller: receive from {} failed: {e}", route.queue_url);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        for m in &messages {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_owned);
            record.receipt_handle = m.receipt_handle().map(str::to_owned);
            record.body = m.body().map(str::to_owned);
            record.md5_of_body = m.md5_of_body().map(str::to_owned);
            record.attributes = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            record.message_attributes = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            let mut attribute = SqsMessageAttribute::default();
                            attribute.string_value = v.string_value().map(str::to_owned);
                            attribute.data_type = Some(v.data_type().to_owned());
                            (k.clone(), attribute)
                        })
                        .collect::<HashMap<_, _>>()
                })
                .unwrap_or_default();
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(arn.clone());
            record.aws_region = Some("us-east-1".into());
            event.records.push(record);
        }
        // The invocation's wall time, for tools/load's cost report.
        let invoked = std::time::Instant::now();
        let failed: Vec<String> = match http
            .post(&invoke_url)
            .timeout(route.timeout)
            .json(&event)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                match response.json::<serde_json::Value>().await {
                    Ok(value)
                        if value.get("errorType").is_some()
                            || value.get("errorMessage").is_some() =>
                    {
                        all(&messages)
                    }
                    Ok(value) => serde_json::from_value::<SqsBatchResponse>(value)
                        .map(|r| {
                            r.batch_item_failures
                                .into_iter()
                                .map(|f| f.item_identifier)
                                .collect()
                        })
                        .unwrap_or_else(|_| all(&messages)),
                    Err(_) => all(&messages),
                }
            }
            _ => all(&messages),
        };
        let took = invoked.elapsed();
        let mut entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let id = m.message_id().unwrap_or_default();
            let Some(handle) = m.receipt_handle() else {
                continue;
            };
            if failed.iter().any(|f| f == id) {
                let _ = clients
                    .own
                    .change_message_visibility()
                    .queue_url(&route.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(retry_delay)
                    .send()
                    .await;
            } else if let Ok(entry) = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
            {
                entries.push(entry);
            }
        }
        println!(
            "sqs-poller: {} handled {} message(s), {} failed in {} ms",
            route.function,
            messages.len(),
            failed.len(),
            took.as_millis()
        );
        // DeleteMessageBatch takes at most 10 entries.
        for chunk in entries.chunks(10) {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&route.queue_url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await;
        }
    }
}

/// One batch: a long poll until messages come, then more until the batch is full or the
/// window since the first has passed.
async fn gather(
    sqs: &aws_sdk_sqs::Client,
    route: &Route,
) -> Result<Vec<aws_sdk_sqs::types::Message>, String> {
    let mut messages: Vec<aws_sdk_sqs::types::Message> = Vec::new();
    let mut first = None;
    loop {
        let left = route.batch_size - messages.len();
        let waited = first.map(|f: std::time::Instant| f.elapsed());
        if left == 0 || waited.is_some_and(|w| w >= route.window) {
            return Ok(messages);
        }
        // Long-poll for the first; then at most what is left of the window.
        let wait = match waited {
            None => 2,
            Some(w) => i32::try_from((route.window - w).as_secs()).unwrap_or(0),
        };
        let answer = sqs
            .receive_message()
            .queue_url(&route.queue_url)
            .max_number_of_messages(i32::try_from(left.min(10)).unwrap_or(10))
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let got = match answer {
            Ok(answer) => answer.messages().to_vec(),
            Err(e) if messages.is_empty() => return Err(e.to_string()),
            Err(_) => return Ok(messages),
        };
        if got.is_empty() {
            if messages.is_empty() {
                return Ok(messages);
            }
            // Nothing more right now: wait out a little of the window, then look again.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        first.get_or_insert_with(std::time::Instant::now);
        messages.extend(got);
    }
}

fn all(messages: &[aws_sdk_sqs::types::Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.message_id().map(str::to_owned))
        .collect()
}
