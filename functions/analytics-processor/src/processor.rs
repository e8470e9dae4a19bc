//! One batch: messages grouped by meeting instance (each group in order, groups concurrently),
//! each event claimed once per tenant, its effects written in one transaction with the claim's
//! completion. A failed message is reported back for redelivery; after the redrive count it
//! lands in the dead-letter queue, and its batch-mates are not run again.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::StreamExt;
use tracing::Instrument;
use zoom_shared::analytics::event::{Parsed, ZoomEvent, parse};
use zoom_shared::analytics::store::{AccountTenant, Claim};
use zoom_shared::aws::{Queue, Table};
use zoom_shared::meetings::view::MeetingStatus;
use zoom_shared::metrics::Metrics;
use zoom_shared::recordings::archive::ArchiveJob;
use zoom_shared::tokens::provider::now_secs;

use crate::change::{change, instance_of};

/// Groups handled at once within a batch.
pub const CONCURRENCY: usize = 4;
/// Attempts at an instance transaction that lost a race with another event of the instance.
pub const CONFLICT_RETRIES: usize = 5;

/// The processor's dependencies.
pub struct Processor {
    /// The table.
    pub table: Table,
    /// Where recording archive jobs go.
    pub archive_queue: Queue,
    /// Metrics.
    pub metrics: Metrics,
    /// How long a claim holds before another worker may take the event over.
    pub lease_secs: i64,
    /// Fault injection for tests: crash right after the first claim of this event type.
    pub crash_after_claim: Option<String>,
    /// Groups handled at once within a batch (default [`CONCURRENCY`]).
    pub concurrency: usize,
}

fn random_id() -> String {
    let mut bytes = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn dedup_key(message: &SqsMessage, body: &str) -> String {
    message
        .message_attributes
        .get("dedup_key")
        .and_then(|a| a.string_value.clone())
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .unwrap_or_else(|| {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
            hex::encode(&digest.as_ref()[..16])
        })
}

fn event_name(event: &ZoomEvent) -> &'static str {
    match event {
        ZoomEvent::Started(_) => "meeting.started",
        ZoomEvent::Ended(..) => "meeting.ended",
        ZoomEvent::Joined(..) => "meeting.participant_joined",
        ZoomEvent::Left(..) => "meeting.participant_left",
        ZoomEvent::Deleted { .. } => "meeting.deleted",
        ZoomEvent::RecordingCompleted { .. } => "recording.completed",
        ZoomEvent::Deauthorized { .. } => "app_deauthorized",
    }
}

impl Processor {
    /// Handles a batch; returns the failed messages.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut groups: BTreeMap<String, Vec<SqsMessage>> = BTreeMap::new();
        for message in event.records {
            let key = message
                .body
                .as_deref()
                .and_then(|b| parse(b).ok())
                .and_then(|p| instance_of(&p.event).map(|i| format!("{}|{}", p.account_id, i.uuid)))
                .unwrap_or_else(|| message.message_id.clone().unwrap_or_default());
            groups.entry(key).or_default().push(message);
        }
        let failed: Vec<Vec<String>> = futures_util::stream::iter(groups.into_values())
            .map(|group| async move {
                let mut failed = Vec::new();
                for message in group {
                    let id = message.message_id.clone().unwrap_or_default();
                    let span = tracing::info_span!("message", message_id = %id);
                    if let Err(error) = self.message(&message).instrument(span).await {
                        tracing::warn!(message_id = %id, %error, "event failed; left for redelivery");
                        self.metrics.count("EventFailed", 1.0, &[]);
                        failed.push(id);
                    }
                }
                failed
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for id in failed.into_iter().flatten().filter(|id| !id.is_empty()) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
        response
    }

    async fn message(&self, message: &SqsMessage) -> Result<(), String> {
        let body = message.body.as_deref().ok_or("empty message")?;
        let parsed = parse(body)?;
        let dedup = dedup_key(message, body);
        let tenants = self
            .table
            .tenants_for_account(&parsed.account_id)
            .await
            .map_err(|e| e.to_string())?;
        if tenants.is_empty() {
            tracing::info!(
                event = event_name(&parsed.event),
                "event for an account no tenant connected; dropped"
            );
            self.metrics
                .count("EventDropped", 1.0, &[("Reason", "unknown_account")]);
            return Ok(());
        }
        for tenant in &tenants {
            self.for_tenant(tenant, &tenants, &dedup, &parsed).await?;
        }
        Ok(())
    }

    async fn for_tenant(
        &self,
        tenant: &AccountTenant,
        all: &[AccountTenant],
        dedup: &str,
        parsed: &Parsed,
    ) -> Result<(), String> {
        if let ZoomEvent::Deauthorized { user_id, .. } = &parsed.event
            && &tenant.zoom_user_id != user_id
        {
            return Ok(());
        }
        let claim_id = random_id();
        let t = tenant.tenant_id.as_str();
        let attempt = match self
            .table
            .claim_event(t, dedup, &claim_id, now_secs(), self.lease_secs)
            .await
            .map_err(|e| e.to_string())?
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
        let result = self.effects(t, all, dedup, &claim_id, parsed).await;
        if result.is_err() {
            let _ = self.table.release_claim(t, dedup, &claim_id).await;
        } else {
            self.metrics
                .count("EventProcessed", 1.0, &[("Event", name)]);
        }
        result
    }

    async fn effects(
        &self,
        tenant: &str,
        all: &[AccountTenant],
        dedup: &str,
        claim_id: &str,
        parsed: &Parsed,
    ) -> Result<(), String> {
        let table = &self.table;
        let store = |e: zoom_shared::tokens::store::StoreError| e.to_string();
        match &parsed.event {
            ZoomEvent::Started(i)
            | ZoomEvent::Ended(i, _)
            | ZoomEvent::Joined(i, _, _)
            | ZoomEvent::Left(i, _, _) => {
                match &parsed.event {
                    ZoomEvent::Started(_) => table
                        .set_meeting_status(tenant, i.meeting_id, MeetingStatus::Live)
                        .await
                        .map_err(store)?,
                    ZoomEvent::Ended(..) => table
                        .set_meeting_status(tenant, i.meeting_id, MeetingStatus::Completed)
                        .await
                        .map_err(store)?,
                    _ => {}
                }
                for _ in 0..CONFLICT_RETRIES {
                    let (meta, points) =
                        table.instance_state(tenant, &i.uuid).await.map_err(store)?;
                    let Some(change) = change(&parsed.event, dedup, meta.as_ref(), points) else {
                        return Ok(());
                    };
                    if table
                        .apply_instance_change(tenant, dedup, claim_id, &change, now_secs())
                        .await
                        .map_err(store)?
                    {
                        return Ok(());
                    }
                }
                Err("the meeting instance kept changing; retry".into())
            }
            ZoomEvent::Deleted { meeting_id } => {
                table
                    .set_meeting_status(tenant, *meeting_id, MeetingStatus::Cancelled)
                    .await
                    .map_err(store)?;
                table
                    .complete_claim(tenant, dedup, claim_id)
                    .await
                    .map_err(store)
            }
            ZoomEvent::RecordingCompleted { uuid, file_ids, .. } => {
                // Jobs are queued before the claim completes: a crash in between queues them
                // again, and the archiver skips a file already archived.
                for file_id in file_ids {
                    if table
                        .request_archive(tenant, uuid, file_id, now_secs())
                        .await
                        .map_err(store)?
                    {
                        let job = ArchiveJob {
                            tenant_id: tenant.to_owned(),
                            meeting_uuid: uuid.clone(),
                            file_id: file_id.clone(),
                        };
                        self.archive_queue
                            .send_json(&job, &[("job", "archive")])
                            .await?;
                    }
                }
                table
                    .complete_claim(tenant, dedup, claim_id)
                    .await
                    .map_err(store)
            }
            ZoomEvent::Deauthorized { user_id, at } => {
                // Every item of the tenant goes; the deletion itself is recorded for compliance.
                table.delete_tenant(tenant).await.map_err(store)?;
                let deleted = all.iter().filter(|t| &t.zoom_user_id == user_id).count();
                table
                    .record_deauthorization(user_id, &parsed.account_id, at, deleted, now_secs())
                    .await
                    .map_err(store)?;
                table
                    .complete_claim(tenant, dedup, claim_id)
                    .await
                    .map_err(store)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
