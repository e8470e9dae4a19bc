//! Streaming a recording file from Zoom into S3 without holding it in memory: the download is
//! read chunk by chunk into parts of [`PART_SIZE`] that go to an S3 multipart upload, so memory
//! stays near one part whatever the file's size. The Bearer token goes only to Zoom's hosts:
//! redirects are followed by hand and a hop to any other host carries no `Authorization`.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use crate::aws::{Bucket, describe_sdk_error};

/// Size of each uploaded part (S3's minimum is 5 MiB except for the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Redirect hops followed at most.
pub const MAX_REDIRECTS: usize = 5;

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Zoom (or the CDN) answered badly.
    #[error("download failed: {0}")]
    Download(String),
    /// S3 refused.
    #[error("upload failed: {0}")]
    Upload(String),
    /// The file's owner is gone (disconnected while it was copied): the upload was aborted.
    #[error("the connection was removed while the file was copied")]
    Cancelled,
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Bytes.
    pub size: u64,
    /// Parts uploaded.
    pub parts: usize,
}

/// Whether `url`'s host may receive the Zoom token: a host of `trusted` or under `zoom.us`.
pub fn token_allowed(url: &Url, trusted: &[String]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    host == "zoom.us"
        || host.ends_with(".zoom.us")
        || trusted.iter().any(|t| t.eq_ignore_ascii_case(&host))
}

/// Opens the download, following redirects by hand (token only to trusted hosts).
async fn open(
    http: &reqwest::Client,
    url: &str,
    token: &SecretString,
    trusted: &[String],
) -> Result<reqwest::Response, TransferError> {
    let mut url = Url::parse(url)
        .map_err(|_| TransferError::Download("the download URL is invalid".into()))?;
    for _ in 0..=MAX_REDIRECTS {
        let mut request = http
            .get(url.clone())
            .timeout(std::time::Duration::from_secs(600));
        if token_allowed(&url, trusted) {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request.send().await.map_err(|e| {
            TransferError::Download(if e.is_timeout() {
                "timed out".into()
            } else {
                "connection failed".into()
            })
        })?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| TransferError::Download("redirect without a location".into()))?;
            url = url
                .join(location)
                .map_err(|_| TransferError::Download("redirect to an invalid location".into()))?;
            continue;
        }
        if !status.is_success() {
            return Err(TransferError::Download(format!("HTTP {}", status.as_u16())));
        }
        return Ok(response);
    }
    Err(TransferError::Download("too many redirects".into()))
}

/// Where a copy goes and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// The bucket.
    pub bucket: &'a Bucket,
    /// The object key.
    pub key: &'a str,
    /// The object's content type.
    pub content_type: &'a str,
}

/// Copies `url` into the destination. `still_owned` is asked before the upload is completed:
/// when the file's owner is gone meanwhile, the upload is aborted and nothing is stored.
pub async fn copy_to_s3<F, Fut>(
    http: &reqwest::Client,
    url: &str,
    token: &SecretString,
    trusted: &[String],
    to: Destination<'_>,
    still_owned: F,
) -> Result<Stored, TransferError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = bool>,
{
    let (bucket, key, content_type) = (to.bucket, to.key, to.content_type);
    let mut response = open(http, url, token, trusted).await?;
    let upload = bucket
        .client()
        .create_multipart_upload()
        .bucket(bucket.name())
        .key(key)
        .content_type(content_type)
        .send()
        .await
        .map_err(|e| TransferError::Upload(describe_sdk_error(&e)))?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| TransferError::Upload("no upload id".into()))?
        .to_owned();
    let result = async {
        let mut parts = Vec::new();
        let mut buffer: Vec<u8> = Vec::with_capacity(PART_SIZE);
        let mut size = 0u64;
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|_| TransferError::Download("the download was cut off".into()))?;
            let done = chunk.is_none();
            if let Some(chunk) = chunk {
                size += chunk.len() as u64;
                buffer.extend_from_slice(&chunk);
            }
            if buffer.len() >= PART_SIZE || (done && (!buffer.is_empty() || parts.is_empty())) {
                let number = parts.len() as i32 + 1;
                let body = std::mem::replace(
                    &mut buffer,
                    Vec::with_capacity(if done { 0 } else { PART_SIZE }),
                );
                let answer = bucket
                    .client()
                    .upload_part()
                    .bucket(bucket.name())
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| TransferError::Upload(describe_sdk_error(&e)))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(answer.e_tag().map(str::to_owned))
                        .build(),
                );
            }
            if done {
                break;
            }
        }
        if !still_owned().await {
            return Err(TransferError::Cancelled);
        }
        bucket
            .client()
            .complete_multipart_upload()
            .bucket(bucket.name())
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| TransferError::Upload(describe_sdk_error(&e)))?;
        Ok(Stored {
            size,
            parts: parts.len(),
        })
    }
    .await;
    if result.is_err() {
        let _ = bucket
            .client()
            .abort_multipart_upload()
            .bucket(bucket.name())
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_zoom_hosts() {
        let trusted = vec!["127.0.0.1".to_owned()];
        for (url, allowed) in [
            ("https://zoom.us/rec/download/x", true),
            ("https://us06web.zoom.us/rec/download/x", true),
            ("http://127.0.0.1:9100/rec/download/x", true),
            ("http://localhost:9100/_cdn/x", false),
            ("https://zoom.us.evil.example/x", false),
            ("https://evilzoom.us/x", false),
            ("https://ssrweb.zoom.us.s3.amazonaws.com/x", false),
        ] {
            assert_eq!(
                token_allowed(&Url::parse(url).expect("url"), &trusted),
                allowed,
                "{url}"
            );
        }
    }
}
