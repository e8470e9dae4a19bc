//! SQS batches with partial failures: each message handled once, with bounded concurrency and
//! a tracing span of its own; the failed ones are reported back (`SqsBatchResponse`) so SQS
//! redelivers only those, and a message that keeps failing reaches the dead-letter queue.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::StreamExt;
use tracing::Instrument;

/// Handles every message of `event` with at most `concurrency` at once.
pub async fn process<F, Fut>(event: SqsEvent, concurrency: usize, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let outcomes: Vec<(Option<String>, Result<(), String>)> =
        futures_util::stream::iter(event.records)
            .map(|message| {
                let id = message.message_id.clone();
                let span =
                    tracing::info_span!("message", message_id = id.as_deref().unwrap_or("-"));
                let work = handle(message);
                async move { (id, work.await) }.instrument(span)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut response = SqsBatchResponse::default();
    for (id, outcome) in outcomes {
        if let Err(error) = outcome {
            tracing::warn!(message_id = id.as_deref().unwrap_or("-"), %error, "message failed; left for redelivery");
            if let Some(id) = id {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ids: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for id in ids {
            let mut message = SqsMessage::default();
            message.message_id = Some((*id).to_owned());
            message.body = Some((*id).to_owned());
            event.records.push(message);
        }
        event
    }

    #[tokio::test]
    async fn only_the_failed_messages_are_reported() {
        let response = process(event(&["a", "bad-1", "b", "bad-2"]), 2, |m| async move {
            match m.body.as_deref() {
                Some(b) if b.starts_with("bad") => Err("poison".to_owned()),
                _ => Ok(()),
            }
        })
        .await;
        let mut failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        failed.sort();
        assert_eq!(failed, vec!["bad-1", "bad-2"]);
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        process(event(&refs), 3, |_| async {
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }
}
