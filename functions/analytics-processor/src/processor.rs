//! One batch: messages grouped by meeting instance (each group in order, groups concurrently),
//! each event routed to the owners of its host's data. A meeting event leaves one record per
//! owner ([`crate::meeting`]) and its meeting settles later ([`crate::settle`], a job on this
//! same queue); the other events are claimed once per owner and completed with their effects.
//! A failed message is reported back for redelivery; after the redrive count it lands in the
//! dead-letter queue, and its batch-mates are not run again. A message DynamoDB calls invalid
//! (a bug: retrying cannot help) goes to the dead-letter queue at once, with its reason.
//!
//! Routing: an event of account A hosted by Zoom user H reaches the connections that reach H
//! (and those with the account-wide role of A), never every tenant of the account
//! ([`crate::ownership`]). `app_deauthorized` of user U removes only U's user-OAuth
//! connections that were made before the deauthorization. Only signed deliveries change
//! anything: one that came with the legacy verification token (a static secret anyone who holds
//! it could replay or forge) is acknowledged and counted, never applied.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::StreamExt;
use tracing::Instrument;
use zoom_shared::analytics::DynamoAnalytics;
use zoom_shared::analytics::event::{Parsed, ZoomEvent, parse};
use zoom_shared::analytics::jobs::{JOB_ATTRIBUTE, SETTLE, SettleJob};
use zoom_shared::analytics::store::{AnalyticsWriter, Claim, Deauthorization};
use zoom_shared::archive::{ArchiveJob, ArchiveJobs, ArchiveRequest, ArchiveStore, DynamoArchive};
use zoom_shared::aws::queue::{EventPublisher, WebhookSpool};
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::caches::{DynamoPageCache, Family, PageCache};
use zoom_shared::clock::now_secs;
use zoom_shared::connections::DynamoConnections;
use zoom_shared::meetings::view::MeetingStatus;
use zoom_shared::meetings::{DynamoMeetings, MeetingStore};
use zoom_shared::metrics::Metrics;
use zoom_shared::owner::Owner;

use crate::ownership::{OwnersMemo, Removal, deauthorize};
use crate::participants::participations;
use crate::settle::SETTLES_TOGETHER;

/// Groups handled at once within a batch.
pub const CONCURRENCY: usize = 4;

/// The function's timeout in template.yaml (`AnalyticsProcessorFunction`), for when the
/// runtime gives no usable deadline.
pub const FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long before the invocation's deadline no further message is started.
pub const STOP_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The least time left in which a message is still deferred (sent again) rather than reported
/// failed.
pub const DEFER_RESERVE: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a message was not processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another delivery (an outage, contention, another worker holding it).
    Retry(String),
    /// A request DynamoDB refused as invalid: a bug, straight to the dead-letter queue.
    Invalid(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Retry(reason) | Failure::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Retry(reason)
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        Failure::Retry(reason.to_owned())
    }
}

/// The instance a meeting life or participant event concerns.
pub fn instance_of(event: &ZoomEvent) -> Option<&zoom_shared::analytics::event::Instance> {
    match event {
        ZoomEvent::Started(i)
        | ZoomEvent::Ended(i, _)
        | ZoomEvent::Joined(i, _, _)
        | ZoomEvent::Left(i, _, _) => Some(i),
        _ => None,
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

/// A message's id (empty when SQS gave none).
fn message_id(message: &SqsMessage) -> String {
    message.message_id.clone().unwrap_or_default()
}

/// A settle job's message, read.
fn settle_job(message: &SqsMessage) -> Option<SettleJob> {
    if attribute(message, JOB_ATTRIBUTE) != Some(SETTLE) {
        return None;
    }
    serde_json::from_str(message.body.as_deref()?).ok()
}

/// A message of the batch with its body read as an event, once (`None`: a settle job, a body
/// in the spool, or one that is not an event, which [`Processor::message`] says why).
pub struct Delivery {
    /// The message.
    pub message: SqsMessage,
    /// Its event.
    pub parsed: Option<Parsed>,
}

impl Delivery {
    /// Reads `message`'s event.
    pub fn of(message: SqsMessage) -> Self {
        let parsed = message
            .body
            .as_deref()
            .filter(|_| attribute(&message, JOB_ATTRIBUTE).is_none())
            .filter(|_| attribute(&message, "claim_check").is_none())
            .and_then(|b| parse(b).ok());
        Self { message, parsed }
    }

    /// The group of a batch it runs in: a meeting event its instance's (account, uuid), in
    /// order; a settle job its owner's, settled together; anything else its own.
    fn group_key(&self) -> String {
        if let Some(job) = settle_job(&self.message) {
            return format!(
                "settle|{}",
                serde_json::to_string(&job.owner).unwrap_or_default()
            );
        }
        self.parsed
            .as_ref()
            .and_then(|p| instance_of(&p.event).map(|i| format!("{}|{}", p.account_id, i.uuid)))
            .unwrap_or_else(|| message_id(&self.message))
    }
}

/// Splits a group into its settle jobs, read, and the rest (in order).
fn settle_jobs(group: Vec<Delivery>) -> (Vec<(SqsMessage, SettleJob)>, Vec<Delivery>) {
    let (mut jobs, mut rest) = (Vec::new(), Vec::new());
    for delivery in group {
        match settle_job(&delivery.message) {
            Some(job) => jobs.push((delivery.message, job)),
            None => rest.push(delivery),
        }
    }
    (jobs, rest)
}

/// The processor's dependencies.
pub struct Processor {
    /// Connections: routing and deauthorization.
    pub connections: DynamoConnections,
    /// Stored meetings (status).
    pub meetings: DynamoMeetings,
    /// Cached meeting lists (invalidated by status changes).
    pub pages: DynamoPageCache,
    /// Analytics.
    pub analytics: DynamoAnalytics,
    /// Archive records.
    pub archive: DynamoArchive,
    /// Where recording archive jobs go.
    pub archive_queue: Queue,
    /// Where purge jobs go.
    pub purge_queue: Queue,
    /// Where intake spooled bodies too large for a message.
    pub spool: Bucket,
    /// Where settle jobs go (the events queue itself).
    pub settle_queue: Queue,
    /// The events queue's dead-letter queue (invalid messages go there at once).
    pub dead_letters: Queue,
    /// How long after a meeting's end (or a late event) it settles.
    pub settle_delay_secs: i32,
    /// Metrics.
    pub metrics: Metrics,
    /// How long a claim holds before another worker may take the event over.
    pub lease_secs: i64,
    /// Fault injection for tests: crash right after the first claim of this event type.
    pub crash_after_claim: Option<String>,
    /// Groups handled at once within a batch (default [`CONCURRENCY`]).
    pub concurrency: usize,
    /// How long before the deadline no further message is started (default [`STOP_MARGIN`];
    /// `ZOOM_PROCESSOR_STOP_MARGIN_SECS`, for tests that make deferral happen).
    pub stop_margin: std::time::Duration,
}

fn random_id() -> String {
    let mut bytes = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// A message's string attribute.
pub fn attribute<'m>(message: &'m SqsMessage, name: &str) -> Option<&'m str> {
    message
        .message_attributes
        .get(name)
        .and_then(|a| a.string_value.as_deref())
}

/// A message's string attributes, as they are sent again.
fn attributes_of(message: &SqsMessage) -> Vec<(&str, &str)> {
    message
        .message_attributes
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.string_value.as_deref()?)))
        .collect()
}

/// The dedup key of a delivery: intake's, else a digest of the body.
pub fn dedup_key(message: &SqsMessage, body: &str) -> String {
    attribute(message, "dedup_key")
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
            hex::encode(&digest.as_ref()[..16])
        })
}

/// The Zoom name of an event.
pub fn event_name(event: &ZoomEvent) -> &'static str {
    match event {
        ZoomEvent::Started(_) => "meeting.started",
        ZoomEvent::Ended(..) => "meeting.ended",
        ZoomEvent::Joined(..) => "meeting.participant_joined",
        ZoomEvent::Left(..) => "meeting.participant_left",
        ZoomEvent::Deleted { .. } => "meeting.deleted",
        ZoomEvent::Updated { .. } => "meeting.updated",
        ZoomEvent::RecordingCompleted { .. } => "recording.completed",
        ZoomEvent::Deauthorized { .. } => "app_deauthorized",
    }
}

/// The Zoom user whose data an event is about.
fn host_of(event: &ZoomEvent) -> &str {
    match event {
        ZoomEvent::Started(i)
        | ZoomEvent::Ended(i, _)
        | ZoomEvent::Joined(i, _, _)
        | ZoomEvent::Left(i, _, _) => &i.host_id,
        ZoomEvent::Deleted { host_id, .. }
        | ZoomEvent::Updated { host_id, .. }
        | ZoomEvent::RecordingCompleted { host_id, .. } => host_id,
        ZoomEvent::Deauthorized { user_id, .. } => user_id,
    }
}

/// A storage failure, as the failure of a message: invalid requests are bugs, the rest
/// transient.
pub fn store(e: zoom_shared::store::StoreError) -> Failure {
    let text = e.to_string();
    if text.contains("ValidationException") {
        Failure::Invalid(text)
    } else {
        Failure::Retry(text)
    }
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
    /// dead-letter queue.
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
        let messages: Vec<&SqsMessage> = jobs.iter().map(|(m, _)| m).collect();
        let span = tracing::info_span!("settle", jobs = jobs.len(), instances = uuids.len());
        let result = self
            .settle(owner, &uuids, deadline)
            .instrument(span.clone())
            .await;
        if !matches!(result, Err(Failure::Invalid(_))) || uuids.len() == 1 {
            self.conclude(&messages, result, outcome).await;
            return;
        }
        tracing::warn!(parent: &span, "a settle of several instances was refused as invalid; settling each alone");
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

    /// Counts an event dropped, and why.
    pub fn dropped(&self, event: &ZoomEvent, reason: &str) {
        tracing::info!(event = event_name(event), reason, "event dropped");
        self.metrics
            .count("EventDropped", 1.0, &[("Reason", reason)]);
    }

    /// Runs one message (`parsed`: its event, when [`Delivery::of`] read it).
    async fn message(
        &self,
        message: &SqsMessage,
        parsed: Option<Parsed>,
        deadline: Instant,
        memo: &OwnersMemo,
    ) -> Result<(), Failure> {
        if attribute(message, JOB_ATTRIBUTE) == Some(SETTLE) {
            let job: SettleJob = serde_json::from_str(message.body.as_deref().unwrap_or_default())
                .map_err(|e| Failure::Invalid(format!("not a settle job: {e}")))?;
            return self.settle(&job.owner, &[&job.uuid], deadline).await;
        }
        let spooled = match attribute(message, "claim_check") {
            Some(key) if key.starts_with("webhooks/") => Some(self.spool.fetch(key).await?),
            Some(_) => return Err("a claim check outside the webhook spool".into()),
            None => None,
        };
        let body = match &spooled {
            Some(body) => body.as_str(),
            None => message.body.as_deref().ok_or("empty message")?,
        };
        let parsed = match parsed {
            Some(parsed) if spooled.is_none() => parsed,
            _ => parse(body)?,
        };
        let dedup = dedup_key(message, body);
        // Intake marks how each delivery proved it is Zoom's; only intake may send to this
        // queue, and messages queued before the mark existed carry none (they were signed).
        if attribute(message, "authenticated_by") == Some("verification_token") {
            self.dropped(&parsed.event, "unsigned");
            return Ok(());
        }
        if let ZoomEvent::Deauthorized { .. } = &parsed.event {
            return self.deauthorized(&parsed, &dedup, memo).await;
        }
        let host = host_of(&parsed.event);
        let owners = memo
            .owners(&self.connections, &parsed.account_id, host)
            .await?;
        if owners.is_empty() {
            self.dropped(&parsed.event, "no_owner");
            return Ok(());
        }
        for owner in &owners {
            match instance_of(&parsed.event) {
                Some(instance) => self.meeting_event(owner, &dedup, &parsed, instance).await?,
                None => self.for_owner(owner, &dedup, &parsed).await?,
            }
            self.metrics.count(
                "EventProcessed",
                1.0,
                &[("Event", event_name(&parsed.event))],
            );
        }
        self.lag(&parsed);
        Ok(())
    }

    /// From Zoom's event time to its record: what a reader of the figures waits (a meeting's
    /// figures follow its settle, ZOOM_SETTLE_DELAY_SECS later).
    pub fn lag(&self, parsed: &Parsed) {
        if parsed.event_ts > 0 {
            let lag = (zoom_shared::clock::now_millis() - parsed.event_ts).max(0);
            self.metrics.milliseconds("ProcessingLag", lag as f64, &[]);
        }
    }

    /// An event other than a meeting's life or participants: claimed, applied, completed.
    async fn for_owner(&self, owner: &Owner, dedup: &str, parsed: &Parsed) -> Result<(), Failure> {
        let claim_id = random_id();
        let attempt = match self
            .analytics
            .claim_event(owner, dedup, &claim_id, now_secs(), self.lease_secs)
            .await
            .map_err(store)?
        {
            Claim::Duplicate => {
                self.metrics.count("EventDuplicate", 1.0, &[]);
                tracing::info!("duplicate event skipped");
                return Ok(());
            }
            Claim::Busy => return Err("the event is being processed by another worker".into()),
            Claim::Claimed(attempt) => attempt,
        };
        let name = event_name(&parsed.event);
        if attempt == 1 && self.crash_after_claim.as_deref() == Some(name) {
            tracing::warn!(event = name, "injected crash after the idempotency claim");
            // A panic abandons the invocation half-way, as a crash would: lambda_runtime reports
            // the invocation failed and SQS redelivers the batch. (Exiting the process instead
            // would leave `cargo lambda watch` without an instance to restart locally.)
            panic!("injected crash after the idempotency claim of {name}");
        }
        let result = self.effects(owner, dedup, &claim_id, parsed).await;
        if result.is_err() {
            let _ = self.analytics.release_claim(owner, dedup, &claim_id).await;
        }
        result
    }

    /// Sets a stored meeting's status as of when `parsed` happened; when it changed, its
    /// cached lists are stale.
    pub async fn set_status(
        &self,
        owner: &Owner,
        id: i64,
        status: MeetingStatus,
        parsed: &Parsed,
    ) -> Result<(), Failure> {
        if self
            .meetings
            .set_status(owner, id, status, parsed.happened_at_ms())
            .await
            .map_err(store)?
        {
            self.lists_changed(owner).await?;
        }
        Ok(())
    }

    async fn lists_changed(&self, owner: &Owner) -> Result<(), Failure> {
        self.pages
            .changed(
                owner,
                Family::MeetingLists,
                zoom_shared::clock::now_millis(),
            )
            .await
            .map_err(store)
    }

    async fn effects(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        parsed: &Parsed,
    ) -> Result<(), Failure> {
        let analytics = &self.analytics;
        match &parsed.event {
            ZoomEvent::Started(_)
            | ZoomEvent::Ended(..)
            | ZoomEvent::Joined(..)
            | ZoomEvent::Left(..) => Ok(()),
            ZoomEvent::Deleted {
                meeting_id,
                single_occurrence,
                ..
            } => {
                if *single_occurrence {
                    // One occurrence went: the series stays scheduled; lists show the change.
                    self.lists_changed(owner).await?;
                } else {
                    self.set_status(owner, *meeting_id, MeetingStatus::Cancelled, parsed)
                        .await?;
                }
                analytics
                    .complete_claim(owner, dedup, claim_id)
                    .await
                    .map_err(store)
            }
            ZoomEvent::Updated { meeting_id, .. } => {
                // Changed in Zoom: the next read of the stored copy asks Zoom again.
                if self
                    .meetings
                    .mark_stale(owner, *meeting_id)
                    .await
                    .map_err(store)?
                {
                    self.lists_changed(owner).await?;
                }
                analytics
                    .complete_claim(owner, dedup, claim_id)
                    .await
                    .map_err(store)
            }
            ZoomEvent::RecordingCompleted {
                uuid,
                host_id,
                files,
            } => {
                // Jobs are queued before the claim completes: a crash in between queues them
                // again, and the archiver skips a file already archived.
                for (file_id, file_type) in files {
                    let request = ArchiveRequest {
                        meeting_uuid: uuid,
                        file_id,
                        host_id,
                        file_type,
                    };
                    if self
                        .archive
                        .request(owner, &request, now_secs())
                        .await
                        .map_err(store)?
                    {
                        let job = ArchiveJob {
                            owner: owner.clone(),
                            meeting_uuid: uuid.clone(),
                            file_id: file_id.clone(),
                        };
                        self.archive_queue.queue_archive(&job).await?;
                    }
                }
                analytics
                    .complete_claim(owner, dedup, claim_id)
                    .await
                    .map_err(store)
            }
            ZoomEvent::Deauthorized { .. } => Ok(()),
        }
    }

    /// `app_deauthorized`: each user-OAuth connection of that user made before the
    /// deauthorization is removed (its data purged, files included); a connection made after it
    /// (a reinstall, then a late delivery or a redrive) is kept. Recorded for compliance either
    /// way. Idempotent: a redelivery finds the connection gone or newer.
    async fn deauthorized(
        &self,
        parsed: &Parsed,
        dedup: &str,
        memo: &OwnersMemo,
    ) -> Result<(), Failure> {
        let ZoomEvent::Deauthorized {
            user_id,
            at,
            at_time,
        } = &parsed.event
        else {
            return Ok(());
        };
        let at_secs = at_time.map(|t| t.timestamp());
        let removal = deauthorize(
            &self.connections,
            &self.purge_queue,
            &parsed.account_id,
            user_id,
            at_secs,
        )
        .await;
        // The batch's later events look their owners up again, without what was removed (a
        // failure half-way may have removed some: everything is looked up again).
        memo.forget(removal.as_ref().map_or(&[][..], |r| r.removed.as_slice()));
        let Removal { deleted, kept, .. } = removal?;
        self.analytics
            .record_deauthorization(&Deauthorization {
                zoom_user_id: user_id,
                account_id: &parsed.account_id,
                at,
                connections_deleted: deleted,
                connections_kept: kept,
                now: now_secs(),
            })
            .await
            .map_err(store)?;
        tracing::info!(deleted, kept, dedup, "app deauthorization handled");
        self.metrics
            .count("EventProcessed", 1.0, &[("Event", "app_deauthorized")]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stand-in timeout is the template's.
    #[test]
    fn the_fallback_timeout_is_the_templates() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
                .expect("template");
        let function = template
            .split("\n  AnalyticsProcessorFunction:\n")
            .nth(1)
            .expect("the processor's resource");
        let timeout = function
            .lines()
            .find_map(|l| l.trim().strip_prefix("Timeout: "))
            .and_then(|t| t.parse::<u64>().ok())
            .expect("its Timeout");
        assert_eq!(FUNCTION_TIMEOUT.as_secs(), timeout);
    }

    /// `events/zoom-analytics-processor/batch.json` is an SQS event whose bodies are events.
    #[test]
    fn the_sample_event_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/zoom-analytics-processor/batch.json"
        ))
        .expect("event");
        let event: SqsEvent = serde_json::from_str(&text).expect("SQS event");
        for record in &event.records {
            let body = record.body.as_deref().expect("body");
            assert!(parse(body).is_ok());
            assert_eq!(dedup_key(record, body), "3f1c0a6c2b9e4d7a8e5f6b1c2d3e4f5a");
        }
    }
}
