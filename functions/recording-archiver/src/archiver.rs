//! One archive job: find the file at Zoom (with the tenant's fresh token), stream it into the
//! bucket, record the outcome. A failed job is reported back to SQS for redelivery (and, after
//! the redrive count, the dead-letter queue); the record says `failed` meanwhile.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use secrecy::SecretString;
use zoom_shared::aws::Bucket;
use zoom_shared::metrics::Metrics;
use zoom_shared::recordings::archive::{ArchiveJob, ArchiveStatus, object_key};
use zoom_shared::recordings::transfer::{Stored, copy_to_s3};
use zoom_shared::tokens::provider::now_secs;
use zoom_shared::zoom::access::ZoomAccess;
use zoom_shared::zoom::client::{meeting_segment, with_token};
use zoom_shared::zoom::models::ZoomRecording;

/// The archiver's dependencies.
pub struct Archiver {
    zoom: ZoomAccess,
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

impl Archiver {
    /// An archiver; the token is sent only to the configured Zoom API and OAuth hosts (and
    /// `*.zoom.us`).
    pub fn new(zoom: ZoomAccess, bucket: Bucket, metrics: Metrics) -> Self {
        let trusted_hosts = [&zoom.app.api_base_url, &zoom.app.oauth_base_url]
            .iter()
            .filter_map(|u| host_of(u))
            .collect();
        Self {
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
        let table = &self.zoom.table;
        let tenant = job.tenant_id.as_str();
        let store = |e: zoom_shared::tokens::store::StoreError| e.to_string();
        if table
            .get_archive(tenant, &job.file_id)
            .await
            .map_err(store)?
            .is_some_and(|r| r.status == ArchiveStatus::Archived)
        {
            tracing::info!("already archived; duplicate job skipped");
            return Ok(());
        }
        table
            .set_archive(
                tenant,
                &job.file_id,
                ArchiveStatus::Archiving,
                None,
                now_secs(),
            )
            .await
            .map_err(store)?;
        match self.copy(&job).await {
            Ok((key, stored)) => {
                let size = stored.size;
                table
                    .set_archive(
                        tenant,
                        &job.file_id,
                        ArchiveStatus::Archived,
                        Some((&key, size)),
                        now_secs(),
                    )
                    .await
                    .map_err(store)?;
                self.metrics.count("RecordingArchived", 1.0, &[]);
                tracing::info!(
                    size,
                    parts = stored.parts,
                    peak_rss_kb = peak_rss_kb().unwrap_or(0),
                    "recording archived"
                );
                Ok(())
            }
            Err(error) => {
                table
                    .set_archive(
                        tenant,
                        &job.file_id,
                        ArchiveStatus::Failed,
                        None,
                        now_secs(),
                    )
                    .await
                    .map_err(store)?;
                self.metrics.count("RecordingArchiveFailed", 1.0, &[]);
                Err(error)
            }
        }
    }

    async fn copy(&self, job: &ArchiveJob) -> Result<(String, Stored), String> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let path = format!(
            "/meetings/{}/recordings",
            meeting_segment(&job.meeting_uuid)
        );
        let (recording, token): (ZoomRecording, SecretString) =
            with_token(&self.zoom.tokens, &job.tenant_id, |credential| {
                let (client, path) = (&self.zoom.client, path.clone());
                async move {
                    let recording: ZoomRecording = client.get(&credential, &path, deadline).await?;
                    Ok((recording, credential.access_token.clone()))
                }
            })
            .await
            .map_err(|e| e.to_string())?;
        let file = recording
            .recording_files
            .iter()
            .find(|f| f.id == job.file_id)
            .ok_or_else(|| "the file is no longer in the recording".to_owned())?;
        let url = file
            .download_url
            .as_deref()
            .ok_or_else(|| "Zoom gave no download URL".to_owned())?;
        let key = object_key(&job.tenant_id, &job.meeting_uuid, &job.file_id);
        let content_type = if file.file_type == "M4A" {
            "audio/mp4"
        } else {
            "video/mp4"
        };
        let stored = copy_to_s3(
            self.zoom.client.http(),
            url,
            &token,
            &self.trusted_hosts,
            &self.bucket,
            &key,
            content_type,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok((key, stored))
    }
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
        assert_eq!(job.tenant_id, "acme");
    }
}
