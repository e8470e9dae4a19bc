//! One purge job: delete the connection's items and its archived files, then (after the first
//! pass) queue the second pass [`LATE_WRITER_DELAY_SECS`] later for what requests in flight at
//! removal time wrote afterwards. Every step is idempotent; a job cut off half-way (a timeout,
//! a failure) is delivered again and finishes the work.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::connections::{ConnectionStore, DynamoConnections};
use zoom_shared::metrics::Metrics;
use zoom_shared::purge::{
    DynamoPurge, LATE_WRITER_DELAY_SECS, PartitionPurger, PurgeJob, PurgeQueue,
};

/// The purger's dependencies.
pub struct Purger {
    /// Connections (a job for the tenant's current connection is skipped).
    pub connections: DynamoConnections,
    /// The table's side.
    pub items: DynamoPurge,
    /// The recordings bucket.
    pub bucket: Bucket,
    /// The purge queue (for the second pass).
    pub queue: Queue,
    /// Metrics.
    pub metrics: Metrics,
}

impl Purger {
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
        let files = self.bucket.purge_prefix(&job.owner.object_prefix()).await?;
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
