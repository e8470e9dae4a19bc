//! The recordings bucket: multipart uploads and short-lived presigned downloads.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::presigning::PresigningConfig;

use super::describe_sdk_error;

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Object versions and delete markers deleted.
    pub versions: usize,
    /// Unfinished multipart uploads aborted.
    pub uploads: usize,
}

/// The recordings bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    /// The bucket `name`. With an endpoint override (the local emulator) addressing is
    /// path-style, as emulators expect.
    pub fn new(sdk: &SdkConfig, name: impl Into<String>) -> Self {
        // Parts of several MiB need more time than the shared SDK timeouts allow.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(120))
            .operation_timeout(Duration::from_secs(600))
            .build();
        let mut config = aws_sdk_s3::config::Builder::from(sdk).timeout_config(timeouts);
        if sdk.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            name: name.into(),
        }
    }

    /// The S3 client.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes every version of every object under `prefix` and aborts its unfinished
    /// multipart uploads (idempotent; a later call finishes what a cut-off one left).
    pub async fn purge_prefix(&self, prefix: &str) -> Result<Purged, String> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut purged = Purged::default();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.name)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| describe_sdk_error(&e))?;
            let mut objects = Vec::new();
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                objects.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .map_err(|e| e.to_string())?,
                );
            }
            for chunk in objects.chunks(1000) {
                let answer = self
                    .client
                    .delete_objects()
                    .bucket(&self.name)
                    .delete(
                        Delete::builder()
                            .set_objects(Some(chunk.to_vec()))
                            .quiet(true)
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .send()
                    .await
                    .map_err(|e| describe_sdk_error(&e))?;
                if let Some(error) = answer.errors().first() {
                    return Err(format!(
                        "a version could not be deleted: {}",
                        error.code().unwrap_or("unknown")
                    ));
                }
                purged.versions += chunk.len();
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        let (mut key_marker, mut upload_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(&self.name)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_marker.take())
                .send()
                .await
                .map_err(|e| describe_sdk_error(&e))?;
            for upload in page.uploads() {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                self.client
                    .abort_multipart_upload()
                    .bucket(&self.name)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await
                    .map_err(|e| describe_sdk_error(&e))?;
                purged.uploads += 1;
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            upload_marker = page.next_upload_id_marker().map(str::to_owned);
        }
        Ok(purged)
    }

    /// A presigned `GET` for `key`, valid for `ttl`.
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
        file_name: &str,
        content_type: &str,
    ) -> Result<String, String> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| e.to_string())?;
        let disposition = format!(
            "attachment; filename=\"{}\"",
            file_name.replace(['"', '\\'], "")
        );
        self.client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .response_content_disposition(disposition)
            .response_content_type(content_type)
            .presigned(config)
            .await
            .map(|request| request.uri().to_owned())
            .map_err(|e| describe_sdk_error(&e))
    }
}
