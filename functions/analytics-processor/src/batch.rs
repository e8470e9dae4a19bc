//! One batch: messages grouped (a meeting instance's events in order, an owner's settle jobs
//! together, anything else alone), groups run concurrently. A failed message is reported back
//! for redelivery; after the redrive count it lands in the dead-letter queue, and its
//! batch-mates are not run again. A message DynamoDB calls invalid (a bug: retrying cannot
//! help) goes to the dead-letter queue at once, with its reason. Messages not started before
//! the deadline's margin are sent again ([`Processor::defer`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::StreamExt;
use tracing::Instrument;
use zoom_shared::analytics::jobs::SettleJob;
use zoom_shared::aws::queue::EventPublisher;

use crate::delivery::{Delivery, attributes_of, message_id, receive_count, settle_jobs};
use crate::failure::Failure;
use crate::ownership::OwnersMemo;
use crate::participants::participations;
use crate::processor::{DEFER_RESERVE, Processor};
use crate::settings::SettleGroupFault;
use crate::settle::SETTLES_TOGETHER;

/// What an injected settle-group failure says, in its log line and as its reason.
const INJECTED: &str = "injected failure of a settle of several instances";

/// The failure [`SettleGroupFault`] stands for.
fn injected(fault: SettleGroupFault) -> Failure {
    tracing::warn!(?fault, "{INJECTED}");
    let reason = INJECTED.to_owned();
    match fault {
        SettleGroupFault::Retry => Failure::Retry(reason),
        SettleGroupFault::Invalid => Failure::Invalid(reason),
    }
}

/// What became of a group's messages.
#[derive(Default)]
struct Outcome {
    /// Ids to report failed.
    failed: Vec<String>,
    /// Messages to send again (not started before the deadline's margin).
    deferred: Vec<SqsMessage>,
}

impl Processor {
    /// Handles a batch by `deadline`; returns the failed messages.
    pub async fn handle(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        // No message starts this close to the deadline: those left are deferred together (sent
        // again, see `defer`) instead of the whole batch timing out and being run again.
        let stop_at = deadline.checked_sub(self.stop_margin).unwrap_or(deadline);
        tracing::info!(
            messages = event.records.len(),
            ms_left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
            "batch received"
        );
        let started = &AtomicBool::new(false);
        let memo = &OwnersMemo::default();
        let mut groups: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
        for message in event.records {
            let delivery = Delivery::of(message);
            groups
                .entry(delivery.group_key())
                .or_default()
                .push(delivery);
        }
        let outcomes: Vec<Outcome> = futures_util::stream::iter(groups.into_values())
            .map(|group| async move {
                let mut outcome = Outcome::default();
                let (jobs, group) = settle_jobs(group);
                for jobs in jobs.chunks(SETTLES_TOGETHER) {
                    if self.may_start(stop_at, started) {
                        self.settle_together(jobs, deadline, stop_at, &mut outcome)
                            .await;
                    } else {
                        outcome.deferred.extend(jobs.iter().map(|(m, _)| m.clone()));
                    }
                }
                let (together, group) = participations(group);
                if !together.is_empty() {
                    if self.may_start(stop_at, started) {
                        let messages: Vec<&SqsMessage> =
                            together.iter().map(|p| &p.message).collect();
                        let span = tracing::info_span!("participants", messages = together.len());
                        let result = self
                            .participants(&together, memo, deadline)
                            .instrument(span)
                            .await;
                        self.conclude(&messages, result, &mut outcome).await;
                    } else {
                        outcome
                            .deferred
                            .extend(together.into_iter().map(|p| p.message));
                    }
                }
                for Delivery { message, parsed } in group {
                    if !self.may_start(stop_at, started) {
                        outcome.deferred.push(message);
                        continue;
                    }
                    let span = tracing::info_span!("message", message_id = %message_id(&message));
                    let result = self
                        .message(&message, parsed, deadline, memo)
                        .instrument(span)
                        .await;
                    self.conclude(&[&message], result, &mut outcome).await;
                }
                outcome
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut failed: Vec<String> = Vec::new();
        let mut deferred: Vec<SqsMessage> = Vec::new();
        for outcome in outcomes {
            failed.extend(outcome.failed);
            deferred.extend(outcome.deferred);
        }
        failed.extend(self.defer(deferred, deadline).await);
        let mut response = SqsBatchResponse::default();
        for id in failed.into_iter().filter(|id| !id.is_empty()) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// Whether another message may start: before `stop_at` always; after it only the batch's
    /// first, so every batch makes progress.
    fn may_start(&self, stop_at: Instant, started: &AtomicBool) -> bool {
        Instant::now() < stop_at || !started.swap(true, Ordering::SeqCst)
    }

    /// Concludes messages that succeeded or failed together: an invalid request sends them to
    /// the dead-letter queue at once, any other failure leaves them for redelivery.
    async fn conclude(
        &self,
        messages: &[&SqsMessage],
        result: Result<(), Failure>,
        outcome: &mut Outcome,
    ) {
        match result {
            Ok(()) => {}
            Err(Failure::Invalid(reason)) => {
                for message in messages {
                    if let Err(error) = self.dead_letter(message, &reason).await {
                        tracing::warn!(message_id = %message_id(message), %error, "could not reach the dead-letter queue; left for redelivery");
                        outcome.failed.push(message_id(message));
                    }
                }
            }
            Err(Failure::Retry(error)) => {
                tracing::warn!(messages = messages.len(), %error, "left for redelivery");
                self.metrics
                    .count("EventFailed", messages.len() as f64, &[]);
                outcome
                    .failed
                    .extend(messages.iter().map(|m| message_id(m)));
            }
        }
    }

    /// Runs settle jobs of one owner together (see [`crate::settle`]). A settle DynamoDB calls
    /// invalid is run again instance by instance, so only the jobs at fault go to the
    /// dead-letter queue; and jobs that come back after failing (a timeout, contention until
    /// the deadline) run instance by instance from then on, so one slow instance or one
    /// overloaded moment cannot carry its group-mates to the dead-letter queue with it.
    async fn settle_together(
        &self,
        jobs: &[(SqsMessage, SettleJob)],
        deadline: Instant,
        stop_at: Instant,
        outcome: &mut Outcome,
    ) {
        let Some((_, first)) = jobs.first() else {
            return;
        };
        let owner = &first.owner;
        let mut uuids: Vec<&str> = jobs.iter().map(|(_, j)| j.uuid.as_str()).collect();
        uuids.sort_unstable();
        uuids.dedup();
        let span = tracing::info_span!("settle", jobs = jobs.len(), instances = uuids.len());
        let redelivered = jobs.iter().any(|(m, _)| receive_count(m) > 1);
        if uuids.len() > 1 && redelivered {
            self.metrics.count("SettleAlone", uuids.len() as f64, &[]);
        } else {
            let messages: Vec<&SqsMessage> = jobs.iter().map(|(m, _)| m).collect();
            let result = match self.settle_group_fault.filter(|_| uuids.len() > 1) {
                Some(fault) => Err(injected(fault)),
                None => {
                    self.settle(owner, &uuids, deadline)
                        .instrument(span.clone())
                        .await
                }
            };
            if !matches!(result, Err(Failure::Invalid(_))) || uuids.len() == 1 {
                self.conclude(&messages, result, outcome).await;
                return;
            }
            tracing::warn!(parent: &span, "a settle of several instances was refused as invalid; settling each alone");
        }
        for uuid in uuids {
            let alone: Vec<&SqsMessage> = jobs
                .iter()
                .filter(|(_, j)| j.uuid == uuid)
                .map(|(m, _)| m)
                .collect();
            if Instant::now() >= stop_at {
                outcome.deferred.extend(alone.into_iter().cloned());
                continue;
            }
            let result = self
                .settle(owner, &[uuid], deadline)
                .instrument(span.clone())
                .await;
            self.conclude(&alone, result, outcome).await;
        }
    }

    /// Messages left unstarted near the deadline go back to the end of the events queue as
    /// they came (body and attributes; SendMessageBatch, ten at a time) and their deliveries
    /// succeed: unlike a reported failure, a deferral spends none of a message's receive count,
    /// so no message reaches the dead-letter queue for having been deferred. Too close to the
    /// deadline even for that, or refused by the queue, a message is reported failed
    /// (redelivered, as before). Returns the ids to report failed.
    async fn defer(&self, messages: Vec<SqsMessage>, deadline: Instant) -> Vec<String> {
        let id = |m: &SqsMessage| m.message_id.clone().unwrap_or_default();
        if messages.is_empty() {
            return Vec::new();
        }
        if Instant::now() + DEFER_RESERVE >= deadline {
            tracing::warn!(
                messages = messages.len(),
                "no time left to defer; left for redelivery"
            );
            return messages.iter().map(id).collect();
        }
        let entries: Vec<(&str, Vec<(&str, &str)>)> = messages
            .iter()
            .map(|m| (m.body.as_deref().unwrap_or_default(), attributes_of(m)))
            .collect();
        let sent = self.settle_queue.send_all(&entries).await;
        let deferred = sent.iter().filter(|s| **s).count();
        if deferred > 0 {
            self.metrics.count("EventDeferred", deferred as f64, &[]);
        }
        tracing::info!(
            deferred,
            failed = messages.len() - deferred,
            "messages deferred near the deadline"
        );
        messages
            .iter()
            .zip(sent)
            .filter(|(_, sent)| !sent)
            .map(|(m, _)| id(m))
            .collect()
    }

    /// Sends a message DynamoDB called invalid to the dead-letter queue at once, with why.
    async fn dead_letter(&self, message: &SqsMessage, reason: &str) -> Result<(), String> {
        tracing::error!(
            reason,
            "invalid request: the message goes to the dead-letter queue at once"
        );
        self.metrics.count("EventInvalid", 1.0, &[]);
        let mut attributes = attributes_of(message);
        attributes.push(("failure", reason));
        self.dead_letters
            .publish(message.body.as_deref().unwrap_or_default(), &attributes)
            .await
    }
}
