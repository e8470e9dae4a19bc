//! One purge job: delete the connection's items and its archived files, then (after the first
//! pass) queue the second pass [`LATE_WRITER_DELAY_SECS`] later for what requests in flight at
//! removal time wrote afterwards. Every step is idempotent; a job cut off half-way (a timeout,
//! a failure) is delivered again and finishes the work.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use zoom_shared::connections::ConnectionStore;
use zoom_shared::metrics::Metrics;
use zoom_shared::purge::{
    FilePurger, LATE_WRITER_DELAY_SECS, PartitionPurger, PurgeJob, PurgeQueue,
};

/// The purger's dependencies (in Lambda: DynamoDB, the recordings bucket, the purge queue).
pub struct Purger<C, I, F, Q> {
    /// Connections (a job for the tenant's current connection is skipped).
    pub connections: C,
    /// The table's side.
    pub items: I,
    /// The recordings bucket.
    pub files: F,
    /// The purge queue (for the second pass).
    pub queue: Q,
    /// Metrics.
    pub metrics: Metrics,
}

impl<C, I, F, Q> Purger<C, I, F, Q>
where
    C: ConnectionStore,
    I: PartitionPurger,
    F: FilePurger,
    Q: PurgeQueue,
{
    /// Handles a batch (one job at a time).
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        zoom_shared::batch::process(event, 1, |message| self.purge(message)).await
    }

    async fn purge(&self, message: SqsMessage) -> Result<(), String> {
        let job: PurgeJob = serde_json::from_str(message.body.as_deref().unwrap_or_default())
            .map_err(|e| format!("not a purge job: {e}"))?;
        let current = self
            .connections
            .get(&job.owner.tenant_id)
            .await
            .map_err(|e| e.to_string())?;
        if current.is_some_and(|c| job.spares(&c.connection_id, c.connected_at)) {
            // Re-authorized under the same id after the removal was decided (a reinstall racing
            // a deauthorization, a callback racing a disconnect): its data stays.
            tracing::info!(reason = %job.reason, "purge of the current connection skipped");
            self.metrics.count("PurgeSkipped", 1.0, &[]);
            return Ok(());
        }
        let items = self
            .items
            .purge_partitions(&job.owner)
            .await
            .map_err(|e| e.to_string())?;
        let files = self.files.purge_files(&job.owner.object_prefix()).await?;
        if job.pass == 1 {
            let again = PurgeJob {
                pass: 2,
                ..job.clone()
            };
            self.queue
                .queue_purge(&again, LATE_WRITER_DELAY_SECS)
                .await?;
        }
        self.metrics.count("PurgeCompleted", 1.0, &[]);
        tracing::info!(
            pass = job.pass,
            reason = %job.reason,
            items,
            versions = files.versions,
            uploads = files.uploads,
            "connection data purged"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoom_shared::owner::{Mode, Owner, Reach};

    #[test]
    fn only_a_connection_made_after_the_removal_is_spared() {
        let owner = Owner {
            tenant_id: "t".into(),
            connection_id: "c1".into(),
            account_id: "a".into(),
            reach: Reach::User {
                zoom_user_id: "u".into(),
            },
            mode: Mode::UserOAuth,
            email: None,
        };
        let job = PurgeJob {
            queued_at: 100,
            ..PurgeJob::first(&owner, "disconnect")
        };
        assert!(
            !job.spares("c1", 99),
            "the connection being removed is purged"
        );
        assert!(job.spares("c1", 100), "re-authorized in the same second");
        assert!(job.spares("c1", 150), "re-authorized after the removal");
        assert!(
            !job.spares("c2", 150),
            "another connection is another namespace"
        );
    }
    use aws_lambda_events::event::sqs::SqsEvent;
    use std::sync::atomic::Ordering;
    use zoom_shared::connections::memory::{MemoryConnections, user_connection};
    use zoom_shared::purge::{MemoryFiles, MemoryPartitions, MemoryPurgeQueue};

    type FakePurger = Purger<MemoryConnections, MemoryPartitions, MemoryFiles, MemoryPurgeQueue>;

    fn purger() -> FakePurger {
        Purger {
            connections: MemoryConnections::default(),
            items: MemoryPartitions::default(),
            files: MemoryFiles::default(),
            queue: MemoryPurgeQueue::default(),
            metrics: Metrics::new("zoom-tenant-purger"),
        }
    }

    fn batch(job: &PurgeJob) -> SqsEvent {
        let mut message = SqsMessage::default();
        message.message_id = Some("m1".into());
        message.body = Some(serde_json::to_string(job).expect("job"));
        let mut event = SqsEvent::default();
        event.records = vec![message];
        event
    }

    /// Two tenants' data, both connected as users of one account: `m` (connection `cm`, to be
    /// removed) and `n` (connection `cn`, staying).
    async fn two_tenants(purger: &FakePurger) -> (Owner, Owner) {
        let m = user_connection("m", "cm", "acct", "zoom-m", 100);
        let n = user_connection("n", "cn", "acct", "zoom-n", 100);
        purger.connections.put(&n).await.expect("put");
        for owner in [m.owner(), n.owner()] {
            purger.items.add(&owner, 3);
            for file in ["a.mp4", "b.vtt"] {
                purger
                    .files
                    .put(&format!("{}meeting/{file}", owner.object_prefix()));
            }
        }
        (m.owner(), n.owner())
    }

    #[tokio::test]
    async fn a_purge_removes_only_the_jobs_owner_and_its_second_pass_what_late_writers_left() {
        let purger = purger();
        let (m, n) = two_tenants(&purger).await;
        let job = PurgeJob {
            queued_at: 200,
            ..PurgeJob::first(&m, "disconnect")
        };
        let answer = purger.handle(batch(&job)).await;
        assert!(answer.batch_item_failures.is_empty());
        assert_eq!(purger.items.count(&m), 0);
        assert_eq!(purger.files.count(&m.object_prefix()), 0);
        assert_eq!(purger.items.count(&n), 9, "the other tenant's items stay");
        assert_eq!(purger.files.count(&n.object_prefix()), 2, "and its files");
        let queued = purger.queue.queued();
        assert_eq!(queued.len(), 1);
        assert_eq!((queued[0].0.pass, queued[0].1), (2, LATE_WRITER_DELAY_SECS));
        // A request in flight at removal time writes into the old namespace after the first
        // pass: the second pass removes it, and queues nothing more.
        purger.items.add(&m, 1);
        purger
            .files
            .put(&format!("{}late/c.mp4", m.object_prefix()));
        let answer = purger.handle(batch(&queued[0].0)).await;
        assert!(answer.batch_item_failures.is_empty());
        assert_eq!(purger.items.count(&m), 0);
        assert_eq!(purger.files.count(&m.object_prefix()), 0);
        assert_eq!(purger.items.count(&n), 9);
        assert_eq!(purger.queue.queued().len(), 1);
    }

    #[tokio::test]
    async fn a_purge_cut_off_half_way_finishes_on_its_next_delivery() {
        let purger = purger();
        let (m, n) = two_tenants(&purger).await;
        let job = PurgeJob::first(&m, "deauthorized");
        // The items go, then S3 fails: the message is reported failed, for redelivery.
        purger.files.failures.store(1, Ordering::SeqCst);
        let answer = purger.handle(batch(&job)).await;
        assert_eq!(answer.batch_item_failures.len(), 1);
        assert_eq!(purger.items.count(&m), 0);
        assert_eq!(purger.files.count(&m.object_prefix()), 2, "files not yet");
        assert!(purger.queue.queued().is_empty(), "no second pass yet");
        // A request in flight during the removal writes into the old namespace meanwhile.
        purger.items.add(&m, 1);
        // The redelivery finishes: items (the late one too) and files, then the second pass.
        let answer = purger.handle(batch(&job)).await;
        assert!(answer.batch_item_failures.is_empty());
        assert_eq!(purger.items.count(&m), 0);
        assert_eq!(purger.files.count(&m.object_prefix()), 0);
        assert_eq!(purger.queue.queued().len(), 1);
        assert_eq!(purger.items.count(&n), 9);
        assert_eq!(purger.files.count(&n.object_prefix()), 2);
        // The second pass fails to queue: the job is redelivered, and deleting again is harmless.
        let job = PurgeJob::first(&n, "disconnect");
        purger.queue.failures.store(1, Ordering::SeqCst);
        assert_eq!(
            purger.handle(batch(&job)).await.batch_item_failures.len(),
            1
        );
        assert!(
            purger
                .handle(batch(&job))
                .await
                .batch_item_failures
                .is_empty()
        );
        assert_eq!(purger.items.count(&n), 0);
        assert_eq!(purger.queue.queued().len(), 2);
    }

    #[tokio::test]
    async fn the_tenants_current_connection_is_never_purged() {
        let purger = purger();
        let (_, n) = two_tenants(&purger).await;
        // A job decided before `n` (re)connected under the same id: its data is live.
        let job = PurgeJob {
            queued_at: 50,
            ..PurgeJob::first(&n, "deauthorized")
        };
        assert!(
            purger
                .handle(batch(&job))
                .await
                .batch_item_failures
                .is_empty()
        );
        assert_eq!(purger.items.count(&n), 9);
        assert_eq!(purger.files.count(&n.object_prefix()), 2);
        assert!(purger.queue.queued().is_empty());
        // The same tenant's earlier connection (another id) is purged even while it is
        // connected again.
        let earlier = Owner {
            connection_id: "c-earlier".into(),
            ..n.clone()
        };
        purger.items.add(&earlier, 2);
        let job = PurgeJob::first(&earlier, "reconnected");
        assert!(
            purger
                .handle(batch(&job))
                .await
                .batch_item_failures
                .is_empty()
        );
        assert_eq!(purger.items.count(&earlier), 0);
        assert_eq!(purger.items.count(&n), 9);
    }

    #[tokio::test]
    async fn a_message_that_is_not_a_job_fails_without_deleting_anything() {
        let purger = purger();
        let (m, _) = two_tenants(&purger).await;
        let mut event = batch(&PurgeJob::first(&m, "disconnect"));
        event.records[0].body = Some(r#"{"owner":"everyone"}"#.into());
        assert_eq!(purger.handle(event).await.batch_item_failures.len(), 1);
        assert_eq!(purger.items.count(&m), 9);
    }

    /// `events/zoom-tenant-purger/job.json` is an SQS event whose body is a purge job.
    #[test]
    fn the_sample_event_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/zoom-tenant-purger/job.json"
        ))
        .expect("event");
        let event: SqsEvent = serde_json::from_str(&text).expect("SQS event");
        let job: PurgeJob =
            serde_json::from_str(event.records[0].body.as_deref().expect("body")).expect("job");
        assert_eq!((job.owner.tenant_id.as_str(), job.pass), ("acme", 1));
    }
}
