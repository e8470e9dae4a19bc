//! The processor's dependencies, and what it does with one message: each event routed to the
//! owners of its host's data. A meeting event leaves one record per owner ([`crate::meeting`];
//! participant events of a batch's group are recorded together, [`crate::participants`]) and
//! its meeting settles later ([`crate::settle`], a job on this same queue); the other events
//! are claimed once per owner and completed with their effects. How a batch is run (grouped,
//! concluded, deferred near the deadline) is [`crate::batch`].
//!
//! Routing: an event of account A hosted by Zoom user H reaches the connections that reach H
//! (and those with the account-wide role of A), never every tenant of the account
//! ([`crate::ownership`]). `app_deauthorized` of user U removes only U's user-OAuth
//! connections that were made before the deauthorization. Only signed deliveries change
//! anything: one that came with the legacy verification token (a static secret anyone who holds
//! it could replay or forge) is acknowledged and counted, never applied.

use std::time::Instant;

use aws_lambda_events::event::sqs::SqsMessage;
use zoom_shared::analytics::DynamoAnalytics;
use zoom_shared::analytics::event::{Parsed, ZoomEvent, parse};
use zoom_shared::analytics::jobs::{JOB_ATTRIBUTE, SETTLE, SettleJob};
use zoom_shared::analytics::store::{AnalyticsWriter, Claim, Deauthorization};
use zoom_shared::archive::{ArchiveJob, ArchiveJobs, ArchiveRequest, ArchiveStore, DynamoArchive};
use zoom_shared::aws::queue::WebhookSpool;
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::caches::{DynamoPageCache, Family, PageCache};
use zoom_shared::clock::now_secs;
use zoom_shared::connections::DynamoConnections;
use zoom_shared::meetings::view::MeetingStatus;
use zoom_shared::meetings::{DynamoMeetings, MeetingStore};
use zoom_shared::metrics::Metrics;
use zoom_shared::owner::Owner;

use crate::delivery::{attribute, dedup_key, event_name, host_of, instance_of};
use crate::failure::{Failure, store};
use crate::ownership::{OwnersMemo, Removal, deauthorize};
use crate::settings::SettleGroupFault;

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
    /// Fault injection for tests: fail every settle of several instances on its first delivery.
    pub settle_group_fault: Option<SettleGroupFault>,
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

impl Processor {
    /// Counts an event dropped, and why.
    pub fn dropped(&self, event: &ZoomEvent, reason: &str) {
        tracing::info!(event = event_name(event), reason, "event dropped");
        self.metrics
            .count("EventDropped", 1.0, &[("Reason", reason)]);
    }

    /// Runs one message (`parsed`: its event, when [`Delivery::of`] read it).
    pub async fn message(
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
}
