//! `sqs-poller`: what Lambda's SQS event source mapping does, for the local stack.
//!
//! For each `queue_url=function` of `POLLER_ROUTES` it long-polls the queue, groups up to 10
//! messages into an SQS event, invokes the function through cargo lambda's invoke API
//! (`POLLER_WATCH_URL/2015-03-31/functions/{function}/invocations`), deletes the messages the
//! function did not report as failed (`batchItemFailures`), and leaves the failures for
//! redelivery, and so for the dead-letter queue after the queue's redrive count.
//!
//! Each route is `queue_url=function[=timeout_secs]` (default 900 s).
//!
//! `POLLER_CONCURRENCY` (default 1) pollers run per queue, as Lambda runs several.
//!
//! One deliberate difference: a failed message is made visible again after
//! `POLLER_RETRY_DELAY_SECS` (default 1) instead of the queue's whole visibility timeout, so
//! local runs and tests do not wait minutes for a redelivery.

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
}

fn routes() -> Result<Vec<Route>, String> {
    let spec = std::env::var("POLLER_ROUTES")
        .map_err(|_| "POLLER_ROUTES is required (queue_url=function,…)".to_owned())?;
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            // queue_url=function[=timeout_secs]; the URL itself contains no '='.
            let mut parts = pair.trim().splitn(3, '=');
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
            Ok(Route {
                queue_url: queue_url.to_owned(),
                function: function.to_owned(),
                timeout: Duration::from_secs(timeout),
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
        for _ in 0..pollers {
            tokio::spawn(poll(
                sqs.clone(),
                http.clone(),
                watch.clone(),
                route.clone(),
                retry_delay,
            ));
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn fail(message: &str) -> ! {
    eprintln!("sqs-poller: configuration error: {message}");
    std::process::exit(1);
}

async fn poll(
    sqs: aws_sdk_sqs::Client,
    http: reqwest::Client,
    watch: String,
    route: Route,
    retry_delay: i32,
) {
    let invoke_url = format!(
        "{watch}/2015-03-31/functions/{}/invocations",
        route.function
    );
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
        let received = sqs
            .receive_message()
            .queue_url(&route.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let messages = match received {
            Ok(answer) => answer.messages().to_vec(),
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
        let mut entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let id = m.message_id().unwrap_or_default();
            let Some(handle) = m.receipt_handle() else {
                continue;
            };
            if failed.iter().any(|f| f == id) {
                let _ = sqs
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
            "sqs-poller: {} handled {} message(s), {} failed",
            route.function,
            messages.len(),
            failed.len()
        );
        if !entries.is_empty() {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&route.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
        }
    }
}

fn all(messages: &[aws_sdk_sqs::types::Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.message_id().map(str::to_owned))
        .collect()
}
