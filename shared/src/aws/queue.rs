//! The SQS queue adapter (the webhook events queue).

use aws_sdk_sqs::types::QueueAttributeName;

use super::describe_sdk_error;
use crate::probe::{Probe, ProbeFailure};

/// An SQS queue, by URL.
#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    /// The queue at `url`, reached through `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// The SQS client.
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Queue {
    /// Sends `body` as JSON with string message attributes; succeeds only once SQS accepted it.
    pub async fn send_json<T: serde::Serialize>(
        &self,
        body: &T,
        attributes: &[(&str, &str)],
    ) -> Result<(), String> {
        self.send_json_delayed(body, attributes, 0).await
    }

    /// As [`Queue::send_json`], delivered after `delay_secs` (0 to 900).
    pub async fn send_json_delayed<T: serde::Serialize>(
        &self,
        body: &T,
        attributes: &[(&str, &str)],
        delay_secs: i32,
    ) -> Result<(), String> {
        let text = serde_json::to_string(body)
            .map_err(|e| format!("message could not be encoded: {e}"))?;
        self.send(&text, attributes, delay_secs).await
    }

    async fn send(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
        delay_secs: i32,
    ) -> Result<(), String> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        if delay_secs > 0 {
            request = request.delay_seconds(delay_secs.min(900));
        }
        for (name, value) in attributes {
            request = request.message_attributes(*name, string_attribute(value)?);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe_sdk_error(&e))
    }
}

/// A message attribute of type `String`.
fn string_attribute(value: &str) -> Result<aws_sdk_sqs::types::MessageAttributeValue, String> {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| e.to_string())
}

/// The most one SendMessageBatch carries: 10 entries, and (SQS's limit on the whole request)
/// 256 KiB of bodies and attributes; kept a little under it.
const BATCH_ENTRIES: usize = 10;
const BATCH_BYTES: usize = 240 * 1024;

impl Queue {
    /// Sends each `(body, attributes)` again as it came, ten to a SendMessageBatch; returns,
    /// per message in order, whether SQS accepted it.
    pub async fn send_all(&self, messages: &[(&str, Vec<(&str, &str)>)]) -> Vec<bool> {
        let mut accepted = vec![false; messages.len()];
        let mut start = 0;
        while start < messages.len() {
            let (mut end, mut bytes) = (start, 0);
            while end < messages.len() && end - start < BATCH_ENTRIES {
                let (body, attributes) = &messages[end];
                let size = body.len()
                    + attributes
                        .iter()
                        .map(|(k, v)| k.len() + v.len() + 6)
                        .sum::<usize>();
                if end > start && bytes + size > BATCH_BYTES {
                    break;
                }
                bytes += size;
                end += 1;
            }
            if let Ok(ok) = self.send_batch(&messages[start..end]).await {
                for (i, sent) in ok.into_iter().enumerate() {
                    accepted[start + i] = sent;
                }
            }
            start = end;
        }
        accepted
    }

    async fn send_batch(
        &self,
        messages: &[(&str, Vec<(&str, &str)>)],
    ) -> Result<Vec<bool>, String> {
        let mut entries = Vec::with_capacity(messages.len());
        for (i, (body, attributes)) in messages.iter().enumerate() {
            let mut entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(*body);
            for (name, value) in attributes {
                entry = entry.message_attributes(*name, string_attribute(value)?);
            }
            entries.push(entry.build().map_err(|e| e.to_string())?);
        }
        let answer = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let mut ok = vec![true; messages.len()];
        for failed in answer.failed() {
            if let Ok(i) = failed.id().parse::<usize>()
                && let Some(slot) = ok.get_mut(i)
            {
                *slot = false;
            }
        }
        Ok(ok)
    }
}

/// The port webhook intake publishes through ([`Queue`] in production).
pub trait EventPublisher: Send + Sync {
    /// Publishes `body` with string attributes; `Ok` only once the queue accepted it.
    fn publish(
        &self,
        body: &str,
        attributes: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), String>> + Send;
}

impl EventPublisher for Queue {
    async fn publish(&self, body: &str, attributes: &[(&str, &str)]) -> Result<(), String> {
        self.send(body, attributes, 0).await
    }
}

/// Where webhook bodies too large for an SQS message are kept for the processor (the
/// claim-check pattern).
pub trait WebhookSpool: Send + Sync {
    /// Stores `body` at `key`; `Ok` once it is durable.
    fn spool(&self, key: &str, body: &[u8]) -> impl Future<Output = Result<(), String>> + Send;
    /// Reads the body at `key`.
    fn fetch(&self, key: &str) -> impl Future<Output = Result<String, String>> + Send;
}

impl WebhookSpool for super::Bucket {
    async fn spool(&self, key: &str, body: &[u8]) -> Result<(), String> {
        self.client()
            .put_object()
            .bucket(self.name())
            .key(key)
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe_sdk_error(&e))
    }

    async fn fetch(&self, key: &str) -> Result<String, String> {
        let object = self
            .client()
            .get_object()
            .bucket(self.name())
            .key(key)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|_| "the spooled body could not be read".to_owned())?
            .into_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|_| "the spooled body is not UTF-8".to_owned())
    }
}

/// An in-memory [`WebhookSpool`] for unit tests.
#[derive(Debug, Default)]
pub struct MemorySpool {
    /// Spooled bodies by key.
    pub bodies: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

impl WebhookSpool for MemorySpool {
    async fn spool(&self, key: &str, body: &[u8]) -> Result<(), String> {
        self.bodies
            .lock()
            .map_err(|_| "poisoned".to_owned())?
            .insert(key.to_owned(), body.to_vec());
        Ok(())
    }

    async fn fetch(&self, key: &str) -> Result<String, String> {
        let bodies = self.bodies.lock().map_err(|_| "poisoned".to_owned())?;
        let body = bodies.get(key).ok_or("no such spooled body")?;
        String::from_utf8(body.clone()).map_err(|_| "not UTF-8".to_owned())
    }
}

/// An in-memory [`EventPublisher`] for unit tests and benchmarks.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    /// Published bodies.
    pub messages: std::sync::Mutex<Vec<String>>,
    /// When set, every publish fails.
    pub fail: std::sync::atomic::AtomicBool,
}

impl EventPublisher for MemoryPublisher {
    async fn publish(&self, body: &str, _attributes: &[(&str, &str)]) -> Result<(), String> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err("queue unavailable".into());
        }
        self.messages
            .lock()
            .map_err(|_| "poisoned".to_owned())?
            .push(body.to_owned());
        Ok(())
    }
}

impl Probe for Queue {
    fn name(&self) -> &'static str {
        "queue"
    }

    /// `GetQueueAttributes`: the queue exists and we may read it.
    async fn probe(&self) -> Result<(), ProbeFailure> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ProbeFailure(describe_sdk_error(&e)))
    }
}
