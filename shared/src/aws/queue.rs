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
