//! One archive job: check the job's owner is still connected, find the file at Zoom (with the
//! owner's fresh token, and only if the owner owns the recording), stream it into the bucket
//! under the owner's prefix, record the outcome. A failed job is reported back to SQS for
//! redelivery (and, after the redrive count, the dead-letter queue); the record says `failed`
//! meanwhile. A job whose connection was removed (disconnect, deauthorization) is dropped, an
//! upload whose connection went during the copy is aborted, and a record purged at the last
//! moment is not brought back (its object is left to the purge's second pass): a job in flight
//! never brings a removed connection's data back.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use zoom_shared::archive::{ArchiveJob, ArchiveStatus, ArchiveStore, DynamoArchive, object_key};

use crate::admission::{Admission, admit, owned_file, still_connected};
use zoom_shared::aws::Bucket;
use zoom_shared::clock::now_secs;
use zoom_shared::connections::DynamoConnections;
use zoom_shared::metrics::Metrics;
use zoom_shared::recordings::files::file_kind;
use zoom_shared::recordings::transfer::{Destination, Stored, TransferError, copy_to_s3};
use zoom_shared::zoom::access::ZoomAccess;
use zoom_shared::zoom::api::ZoomApi;
use zoom_shared::zoom::client::meeting_segment;
use zoom_shared::zoom::models::ZoomRecording;

/// The archiver's dependencies.
pub struct Archiver {
    zoom: ZoomAccess,
    connections: DynamoConnections,
    archive: DynamoArchive,
    bucket: Bucket,
    metrics: Metrics,
    trusted_hosts: Vec<String>,
}

/// The process's peak resident memory (`VmHWM`), in KiB, where `/proc` has it.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url).ok()?.host_str().map(str::to_owned)
}

fn store(e: zoom_shared::store::StoreError) -> String {
    e.to_string()
}

impl Archiver {
    /// An archiver; the token is sent only to the configured Zoom API and OAuth hosts (and
    /// `*.zoom.us`).
    pub fn new(zoom: ZoomAccess, bucket: Bucket, metrics: Metrics) -> Self {
        let trusted_hosts = [&zoom.app.api_base_url, &zoom.app.oauth_base_url]
            .iter()
            .filter_map(|u| host_of(u))
            .collect();
        Self {
            connections: zoom.connections(),
            archive: DynamoArchive::new(zoom.table.clone()),
            zoom,
            bucket,
            metrics,
            trusted_hosts,
        }
    }

    /// Handles a batch (one job at a time: each streams a whole file).
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        zoom_shared::batch::process(event, 1, |message| self.archive(message)).await
    }

    async fn archive(&self, message: SqsMessage) -> Result<(), String> {
        let job: ArchiveJob = serde_json::from_str(message.body.as_deref().unwrap_or_default())
            .map_err(|e| format!("not an archive job: {e}"))?;
        let owner = &job.owner;
        match admit(&self.connections, &self.archive, &job, now_secs()).await? {
            Admission::Copy => {}
            Admission::Disconnected => {
                tracing::info!("archive job of a removed connection dropped");
                self.metrics.count(
                    "RecordingArchiveDropped",
                    1.0,
                    &[("Reason", "disconnected")],
                );
                return Ok(());
            }
            Admission::AlreadyArchived => {
                tracing::info!("already archived; duplicate job skipped");
                return Ok(());
            }
            Admission::Purged => {
                tracing::info!("archive job without its record (purged); dropped");
                return Ok(());
            }
        }
        match self.copy(&job).await {
            Ok((key, stored)) => {
                let size = stored.size;
                let recorded = self
                    .archive
                    .set(
                        owner,
                        &job.file_id,
                        ArchiveStatus::Archived,
                        Some((&key, size)),
                        now_secs(),
                    )
                    .await
                    .map_err(store)?;
                if !recorded {
                    // Purged while it was copied: the purge's second pass (15 minutes after the
                    // removal, longer than any copy runs) deletes this object too.
                    tracing::info!(
                        "the connection was removed during the copy; the purge's second pass removes the file"
                    );
                    return Ok(());
                }
                self.metrics.count("RecordingArchived", 1.0, &[]);
                self.metrics
                    .count("RecordingArchivedBytes", size as f64, &[]);
                tracing::info!(
                    size,
                    parts = stored.parts,
                    peak_rss_kb = peak_rss_kb().unwrap_or(0),
                    "recording archived"
                );
                Ok(())
            }
            Err(Copy::Cancelled) => {
                tracing::info!("the connection was removed during the copy; upload aborted");
                Ok(())
            }
            Err(Copy::Failed(error)) => {
                self.archive
                    .set(owner, &job.file_id, ArchiveStatus::Failed, None, now_secs())
                    .await
                    .map_err(store)?;
                self.metrics.count("RecordingArchiveFailed", 1.0, &[]);
                Err(error)
            }
        }
    }

    async fn copy(&self, job: &ArchiveJob) -> Result<(String, Stored), Copy> {
        let owner = &job.owner;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let path = format!(
            "/meetings/{}/recordings",
            meeting_segment(&job.meeting_uuid)
        );
        let recording: ZoomRecording = self
            .zoom
            .zoom
            .get(owner, &path, deadline)
            .await
            .map_err(|e| Copy::Failed(e.to_string()))?;
        let file = owned_file(owner, &recording, &job.file_id).map_err(Copy::Failed)?;
        let url = file
            .download_url
            .as_deref()
            .ok_or_else(|| Copy::Failed("Zoom gave no download URL".into()))?;
        let token = self
            .zoom
            .zoom
            .access_token(owner, deadline)
            .await
            .map_err(|e| Copy::Failed(e.to_string()))?;
        let key = object_key(owner, &job.meeting_uuid, &job.file_id);
        let stored = copy_to_s3(
            self.zoom.zoom.client.http(),
            url,
            &token,
            &self.trusted_hosts,
            Destination {
                bucket: &self.bucket,
                key: &key,
                content_type: file_kind(&file.file_type).0,
            },
            || async {
                still_connected(&self.connections, owner)
                    .await
                    .unwrap_or(true)
            },
        )
        .await
        .map_err(|e| match e {
            TransferError::Cancelled => Copy::Cancelled,
            other => Copy::Failed(other.to_string()),
        })?;
        Ok((key, stored))
    }
}

/// Why a copy did not finish.
enum Copy {
    /// The connection was removed meanwhile.
    Cancelled,
    /// Anything else (retried through SQS).
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `events/zoom-recording-archiver/job.json` is an SQS event whose body is an archive job.
    #[test]
    fn the_sample_event_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/zoom-recording-archiver/job.json"
        ))
        .expect("event");
        let event: SqsEvent = serde_json::from_str(&text).expect("SQS event");
        let job: ArchiveJob =
            serde_json::from_str(event.records[0].body.as_deref().expect("body")).expect("job");
        assert_eq!(job.owner.tenant_id, "acme");
    }
}
