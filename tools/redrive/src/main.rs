//! `zoom-redrive`: what is in the dead-letter queues, and moving messages back.
//!
//! ```text
//! zoom-redrive list QUEUE                      every message: id, kind, tenant or account, receives, error
//! zoom-redrive move QUEUE (--all | --id ID… | --kind KIND…) [--dry-run]
//! ```
//!
//! `QUEUE` is `events`, `archive` or `purge`: the source queue is read from
//! `ZOOM_EVENTS_QUEUE_URL`, `ZOOM_ARCHIVE_QUEUE_URL` or `ZOOM_PURGE_QUEUE_URL` (locally the stack's
//! env file, `--env-file .stack/zoom-local.env`; in AWS the stack's outputs), and its
//! dead-letter queue from the source's `RedrivePolicy`, so nothing else needs configuring.
//! AWS credentials and `AWS_ENDPOINT_URL` come from the environment as for any AWS SDK tool.
//!
//! Listing receives every message with a short visibility timeout and makes each visible again
//! at once. Moving sends a message to the source queue with its body and attributes (less the
//! `failure` the processor adds when it dead-letters a message itself) and only then deletes it
//! from the dead-letter queue: a crash in between leaves it in both, and the consumers are
//! idempotent (a webhook event by its delivery key, jobs by their own checks), so a message is
//! never lost and never counted twice.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::Value;

/// How long a listed message stays hidden from other readers at most.
const PEEK_VISIBILITY_SECS: i32 = 30;

/// What to move.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    All,
    Ids(Vec<String>),
    Kinds(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    List {
        queue: String,
    },
    Move {
        queue: String,
        selection: Selection,
        dry_run: bool,
    },
}

fn usage() -> String {
    "usage: zoom-redrive [--env-file FILE] list QUEUE | move QUEUE (--all | --id ID... | --kind KIND...) [--dry-run]   (QUEUE: events, archive, purge)".into()
}

fn parse(args: &[String]) -> Result<(Option<String>, Command), String> {
    let mut env_file = None;
    let mut rest: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--env-file" {
            env_file = Some(it.next().ok_or("--env-file needs a path")?.clone());
        } else {
            rest.push(arg);
        }
    }
    let queue = match rest.get(1).copied() {
        Some(q @ ("events" | "archive" | "purge")) => q.to_owned(),
        Some(other) => return Err(format!("unknown queue {other}; {}", usage())),
        None => return Err(usage()),
    };
    let command = match rest.first() {
        Some(&"list") if rest.len() == 2 => Command::List { queue },
        Some(&"move") => {
            let (mut ids, mut kinds, mut all, mut dry_run) = (Vec::new(), Vec::new(), false, false);
            let mut words = rest[2..].iter();
            while let Some(word) = words.next() {
                match *word {
                    "--all" => all = true,
                    "--dry-run" => dry_run = true,
                    "--id" => ids.push(words.next().ok_or("--id needs a message id")?.to_string()),
                    "--kind" => kinds.push(
                        words
                            .next()
                            .ok_or("--kind needs an event type")?
                            .to_string(),
                    ),
                    other => return Err(format!("unknown option {other}; {}", usage())),
                }
            }
            let selection = match (all, ids.is_empty(), kinds.is_empty()) {
                (true, true, true) => Selection::All,
                (false, false, true) => Selection::Ids(ids),
                (false, true, false) => Selection::Kinds(kinds),
                _ => {
                    return Err(format!(
                        "choose exactly one of --all, --id, --kind; {}",
                        usage()
                    ));
                }
            };
            Command::Move {
                queue,
                selection,
                dry_run,
            }
        }
        _ => return Err(usage()),
    };
    Ok((env_file, command))
}

/// `KEY=VALUE` lines of an env file.
fn read_env_file(path: &str) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

fn source_variable(queue: &str) -> &'static str {
    match queue {
        "archive" => "ZOOM_ARCHIVE_QUEUE_URL",
        "purge" => "ZOOM_PURGE_QUEUE_URL",
        _ => "ZOOM_EVENTS_QUEUE_URL",
    }
}

fn attribute(message: &Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

/// What a message is: the webhook's event type or the job's kind.
fn kind_of(message: &Message) -> String {
    if let Some(job) = attribute(message, "job") {
        return job;
    }
    if let Some(event) = attribute(message, "event_type") {
        return event;
    }
    let body: Value =
        serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
    body["event"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| body["owner"].is_object().then(|| "job".to_owned()))
        .unwrap_or_else(|| "unreadable".to_owned())
}

/// Whose it is: a job's tenant, a webhook's Zoom account (its tenants are decided by routing).
fn owner_of(message: &Message) -> String {
    let body: Value =
        serde_json::from_str(message.body().unwrap_or_default()).unwrap_or(Value::Null);
    if let Some(tenant) = body["owner"]["tenant_id"].as_str() {
        return format!("tenant {tenant}");
    }
    attribute(message, "account_id")
        .or_else(|| body["payload"]["account_id"].as_str().map(str::to_owned))
        .map(|a| format!("account {a}"))
        .unwrap_or_else(|| "-".to_owned())
}

/// Why it is there: the reason the processor gave, else that it failed more deliveries than
/// the redrive policy allows (its receive count includes listings, which receive it too).
fn error_of(message: &Message) -> String {
    let receives = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .cloned()
        .unwrap_or_else(|| "?".to_owned());
    match attribute(message, "failure") {
        Some(reason) => format!("{reason} (sent at once)"),
        None => format!("exceeded the redrive count (received {receives} times)"),
    }
}

fn selected(selection: &Selection, message: &Message) -> bool {
    match selection {
        Selection::All => true,
        Selection::Ids(ids) => ids.iter().any(|i| Some(i.as_str()) == message.message_id()),
        Selection::Kinds(kinds) => kinds.contains(&kind_of(message)),
    }
}

struct Queues {
    sqs: aws_sdk_sqs::Client,
    source: String,
    dead_letters: String,
}

impl Queues {
    async fn resolve(sqs: aws_sdk_sqs::Client, source: String) -> Result<Self, String> {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&source)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "reading {source}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        let policy: Value = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .and_then(|p| serde_json::from_str(p).ok())
            .ok_or_else(|| format!("{source} has no dead-letter queue (no RedrivePolicy)"))?;
        let name = policy["deadLetterTargetArn"]
            .as_str()
            .and_then(|arn| arn.rsplit(':').next())
            .ok_or("the RedrivePolicy names no dead-letter queue")?
            .to_owned();
        let dead_letters = sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "finding {name}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?
            .queue_url()
            .ok_or("no URL for the dead-letter queue")?
            .to_owned();
        Ok(Self {
            sqs,
            source,
            dead_letters,
        })
    }

    /// Every message of the dead-letter queue, each hidden for a short while.
    async fn receive_all(&self) -> Result<Vec<Message>, String> {
        let mut messages: Vec<Message> = Vec::new();
        loop {
            let answer = self
                .sqs
                .receive_message()
                .queue_url(&self.dead_letters)
                .max_number_of_messages(10)
                .visibility_timeout(PEEK_VISIBILITY_SECS)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| {
                    format!("receiving: {}", aws_sdk_sqs::error::DisplayErrorContext(&e))
                })?;
            let got = answer.messages().to_vec();
            if got.is_empty() {
                return Ok(messages);
            }
            for m in got {
                if !messages.iter().any(|x| x.message_id() == m.message_id()) {
                    messages.push(m);
                }
            }
        }
    }

    /// Makes a received message visible again at once.
    async fn release(&self, message: &Message) {
        if let Some(handle) = message.receipt_handle() {
            let _ = self
                .sqs
                .change_message_visibility()
                .queue_url(&self.dead_letters)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }

    /// Sends `message` back to the source queue, then deletes it from the dead-letter queue.
    async fn move_back(&self, message: &Message) -> Result<(), String> {
        let mut send = self
            .sqs
            .send_message()
            .queue_url(&self.source)
            .message_body(message.body().unwrap_or_default());
        for (name, value) in message.message_attributes().into_iter().flatten() {
            if name == "failure" {
                continue;
            }
            let copy = MessageAttributeValue::builder()
                .data_type(value.data_type())
                .set_string_value(value.string_value().map(str::to_owned))
                .set_binary_value(value.binary_value().cloned())
                .build()
                .map_err(|e| e.to_string())?;
            send = send.message_attributes(name, copy);
        }
        send.send().await.map_err(|e| {
            format!(
                "sending back: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })?;
        let handle = message.receipt_handle().ok_or("no receipt handle")?;
        self.sqs
            .delete_message()
            .queue_url(&self.dead_letters)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| format!("deleting: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        Ok(())
    }
}

fn line(message: &Message) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        message.message_id().unwrap_or("-"),
        kind_of(message),
        owner_of(message),
        error_of(message)
    )
}

async fn run(env_file: Option<String>, command: Command) -> Result<(), String> {
    let file = env_file
        .as_deref()
        .map(read_env_file)
        .transpose()?
        .unwrap_or_default();
    let queue = match &command {
        Command::List { queue } | Command::Move { queue, .. } => queue.clone(),
    };
    let variable = source_variable(&queue);
    let source = std::env::var(variable)
        .ok()
        .or_else(|| file.get(variable).cloned())
        .ok_or(format!(
            "{variable} is not set (export it, or pass --env-file)"
        ))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await;
    let queues = Queues::resolve(aws_sdk_sqs::Client::new(&sdk), source).await?;
    let messages = queues.receive_all().await?;
    match command {
        Command::List { .. } => {
            println!("# {} message(s) in {}", messages.len(), queues.dead_letters);
            println!("message id\tkind\towner\terror");
            for m in &messages {
                println!("{}", line(m));
                queues.release(m).await;
            }
        }
        Command::Move {
            selection, dry_run, ..
        } => {
            let (mut moved, mut failed) = (0, 0);
            for m in &messages {
                if !selected(&selection, m) || dry_run {
                    if selected(&selection, m) {
                        println!("would move\t{}", line(m));
                    }
                    queues.release(m).await;
                    continue;
                }
                match queues.move_back(m).await {
                    Ok(()) => {
                        moved += 1;
                        println!("moved\t{}", line(m));
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("not moved\t{}\t{e}", line(m));
                        queues.release(m).await;
                    }
                }
            }
            println!(
                "# {moved} moved to {}, {failed} failed, {} left",
                queues.source,
                messages.len() - moved
            );
            if failed > 0 {
                return Err(format!("{failed} message(s) could not be moved"));
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match parse(&args) {
        Ok((env_file, command)) => run(env_file, command).await,
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        eprintln!("zoom-redrive: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn commands_parse_and_bad_ones_are_refused() {
        assert_eq!(
            parse(&args("list events")).expect("list").1,
            Command::List {
                queue: "events".into()
            }
        );
        assert_eq!(
            parse(&args("--env-file x.env move archive --id a --id b")).expect("move"),
            (
                Some("x.env".into()),
                Command::Move {
                    queue: "archive".into(),
                    selection: Selection::Ids(vec!["a".into(), "b".into()]),
                    dry_run: false
                }
            )
        );
        for bad in [
            "",
            "list",
            "list nowhere",
            "move events",
            "move events --all --id a",
            "move events --id",
            "jump events",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_are_described_by_kind_owner_and_error() {
        let job = Message::builder()
            .message_id("m1")
            .body(r#"{"owner":{"tenant_id":"acme"},"uuid":"u"}"#)
            .message_attributes(
                "job",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("settle")
                    .build()
                    .expect("attr"),
            )
            .message_attributes(
                "failure",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("ValidationException")
                    .build()
                    .expect("attr"),
            )
            .build();
        assert_eq!(kind_of(&job), "settle");
        assert_eq!(owner_of(&job), "tenant acme");
        assert_eq!(error_of(&job), "ValidationException (sent at once)");
        let webhook = Message::builder()
            .message_id("m2")
            .body(r#"{"event":"meeting.ended","payload":{"account_id":"A1"}}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "5")
            .build();
        assert_eq!(kind_of(&webhook), "meeting.ended");
        assert_eq!(owner_of(&webhook), "account A1");
        assert_eq!(
            error_of(&webhook),
            "exceeded the redrive count (received 5 times)"
        );
        assert!(selected(
            &Selection::Kinds(vec!["meeting.ended".into()]),
            &webhook
        ));
        assert!(!selected(&Selection::Ids(vec!["m1".into()]), &webhook));
    }
}
