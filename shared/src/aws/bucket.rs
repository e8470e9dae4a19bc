//! The recordings bucket: multipart uploads and short-lived presigned downloads.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::presigning::PresigningConfig;

use super::describe_sdk_error;

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

    /// A presigned `GET` for `key`, valid for `ttl`.
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
        file_name: &str,
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
            .presigned(config)
            .await
            .map(|request| request.uri().to_owned())
            .map_err(|e| describe_sdk_error(&e))
    }
}
