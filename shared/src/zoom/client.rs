//! The Zoom REST client: Bearer token in the header, the base URL from configuration or the
//! token's `api_url` (data residency), retries on 429, 5xx, connection errors and timeouts with
//! full-jitter backoff or Zoom's `Retry-After` (never past the caller's deadline; a daily limit
//! is not retried), and Zoom's errors mapped to ours with Zoom's code kept. The token comes from
//! the facade ([`super::api::Zoom`]), which also refreshes once on 401 code 124.

use std::time::Duration;

use chrono::Utc;
use http::{Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::retry::{self, Next};
use crate::http::ApiError;
use crate::tokens::provider::Credential;

/// Shortest time worth starting an attempt with.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(300);
/// Longest single attempt.
pub const MAX_ATTEMPT: Duration = Duration::from_secs(8);

/// Zoom's error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ZoomErrorBody {
    /// Zoom's error code.
    #[serde(default)]
    pub code: Option<i64>,
    /// Zoom's message.
    #[serde(default)]
    pub message: Option<String>,
}

/// Why a Zoom call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ZoomCallError {
    /// 401: the token is invalid or expired (code 124).
    #[error("Zoom rejected the access token")]
    TokenRejected,
    /// A rate limit that cannot be waited out within the deadline, or a daily limit.
    #[error("Zoom rate limit: {message}")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after: u64,
        /// The daily limit (not retried).
        daily: bool,
        /// Zoom's message.
        message: String,
    },
    /// Any other non-2xx answer (after retries for 5xx).
    #[error("Zoom answered {status} (code {code:?}): {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Zoom's code.
        code: Option<i64>,
        /// Zoom's message.
        message: String,
    },
    /// No answer within the deadline.
    #[error("Zoom did not answer in time")]
    Timeout,
    /// The connection to Zoom could not be made: the request was never sent.
    #[error("Zoom could not be reached")]
    NotSent,
    /// Unreachable or unreadable.
    #[error("Zoom is unreachable: {0}")]
    Unavailable(String),
    /// A non-idempotent request was sent but its answer was lost (a timeout, a dropped
    /// connection): Zoom may or may not have acted on it, so it is not sent again.
    #[error("Zoom's answer was lost; the request may have taken effect")]
    OutcomeUnknown,
}

impl From<ZoomCallError> for ApiError {
    fn from(error: ZoomCallError) -> Self {
        match error {
            ZoomCallError::TokenRejected => ApiError::ZoomReauthRequired {
                reauth_url: crate::tokens::REAUTH_URL.to_owned(),
            },
            ZoomCallError::RateLimited {
                retry_after,
                daily,
                message,
            } => ApiError::TooManyRequests {
                retry_after: retry_after.max(1),
                detail: if daily {
                    format!("Zoom's daily limit is reached: {message}")
                } else {
                    format!("Zoom's rate limit is reached: {message}")
                },
            },
            ZoomCallError::Status {
                status,
                code,
                message,
            } => {
                let detail = format!("Zoom: {message}");
                let status = match (status, code) {
                    (_, Some(3001 | 1001 | 3301)) | (404, _) => StatusCode::NOT_FOUND,
                    (_, Some(4711)) | (403, _) => StatusCode::FORBIDDEN,
                    (400, _) => StatusCode::BAD_REQUEST,
                    _ => StatusCode::BAD_GATEWAY,
                };
                ApiError::Zoom {
                    status,
                    detail,
                    zoom_code: code,
                }
            }
            ZoomCallError::Timeout => {
                ApiError::GatewayTimeout("Zoom did not answer within the time budget".into())
            }
            ZoomCallError::Unavailable(reason) => ApiError::BadGateway(reason),
            ZoomCallError::NotSent => ApiError::BadGateway("Zoom could not be reached".into()),
            ZoomCallError::OutcomeUnknown => ApiError::OutcomeUnknown(
                "Zoom's answer was lost, so it is unknown whether the request took effect; retry with the same Idempotency-Key to find out"
                    .into(),
            ),
        }
    }
}

/// Characters escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A meeting id or UUID as a path segment: encoded once, and twice when the UUID begins with
/// `/` or contains `//`, as Zoom requires.
pub fn meeting_segment(id: &str) -> String {
    let once = utf8_percent_encode(id, SEGMENT).to_string();
    if id.starts_with('/') || id.contains("//") {
        utf8_percent_encode(&once, SEGMENT).to_string()
    } else {
        once
    }
}

/// Any other path segment (user ids, file ids).
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// The REST client; built once per process.
#[derive(Debug, Clone)]
pub struct ZoomClient {
    http: reqwest::Client,
    base_url: String,
}

impl ZoomClient {
    /// A client for `base_url` (`ZOOM_API_BASE_URL`).
    pub fn new(http: reqwest::Client, base_url: String) -> Self {
        Self { http, base_url }
    }

    /// The underlying HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The base for a credential: Zoom's `api_url` (data residency) when it gave one.
    pub fn base(&self, credential: &Credential) -> String {
        match &credential.api_url {
            Some(api_url) if !api_url.is_empty() => format!("{}/v2", api_url.trim_end_matches('/')),
            _ => self.base_url.clone(),
        }
    }

    /// Sends one call with retries; `Ok(None)` for an empty (204) answer.
    ///
    /// A `POST` (not idempotent: a meeting create) is sent again only when Zoom certainly did
    /// not act on it: a 429, or a connection that was never made. Once it may have reached
    /// Zoom, a lost answer is [`ZoomCallError::OutcomeUnknown`], never a second send.
    pub async fn send<T: DeserializeOwned>(
        &self,
        credential: &Credential,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Option<T>, ZoomCallError> {
        let url = format!("{}{path_and_query}", self.base(credential));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left < MIN_ATTEMPT {
                return Err(ZoomCallError::Timeout);
            }
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(credential.access_token.expose_secret())
                .timeout(left.min(MAX_ATTEMPT));
            if let Some(body) = body {
                request = request.json(body);
            }
            let backoff = retry::backoff(attempt - 1, retry::jitter_seed());
            let (failure, wait) = match Self::attempt(request, backoff).await {
                Attempt::Done(result) => return result,
                Attempt::Retryable(failure, wait) => (failure, wait),
            };
            let failure = match (method == Method::POST, failure) {
                (false, failure) => failure,
                (true, failure @ (ZoomCallError::RateLimited { .. } | ZoomCallError::NotSent)) => {
                    failure
                }
                (
                    true,
                    ZoomCallError::Status {
                        status,
                        code,
                        message,
                    },
                ) => {
                    // Zoom answered: its error is final for a create.
                    return Err(ZoomCallError::Status {
                        status,
                        code,
                        message,
                    });
                }
                (true, _) => return Err(ZoomCallError::OutcomeUnknown),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match retry::decide(attempt, wait, left, MIN_ATTEMPT) {
                Next::RetryAfter(wait) => {
                    tracing::info!(attempt, wait_ms = wait.as_millis() as u64, error = %failure, "retrying Zoom call");
                    tokio::time::sleep(wait).await;
                }
                Next::GiveUp => return Err(failure),
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        request: reqwest::RequestBuilder,
        backoff: Duration,
    ) -> Attempt<T> {
        let transport = |e: reqwest::Error| {
            if e.is_connect() {
                ZoomCallError::NotSent
            } else if e.is_timeout() {
                ZoomCallError::Timeout
            } else {
                ZoomCallError::Unavailable("connection to Zoom failed".into())
            }
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Retryable(transport(e), backoff),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return Attempt::Retryable(transport(e), backoff),
        };
        if (200..300).contains(&status) {
            if bytes.is_empty() {
                return Attempt::Done(Ok(None));
            }
            return Attempt::Done(serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                ZoomCallError::Unavailable("Zoom's answer is not the expected JSON".into())
            }));
        }
        let error: ZoomErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
        let message = error
            .message
            .clone()
            .unwrap_or_else(|| format!("HTTP {status}"));
        match status {
            401 => Attempt::Done(Err(ZoomCallError::TokenRejected)),
            429 => {
                let asked = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry::parse_retry_after(v, Utc::now()));
                let daily = headers
                    .get("x-ratelimit-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.eq_ignore_ascii_case("daily-limit"))
                    || message.to_ascii_lowercase().contains("daily");
                let limited = ZoomCallError::RateLimited {
                    retry_after: asked.map(|d| d.as_secs().max(1)).unwrap_or(1),
                    daily,
                    message,
                };
                if daily {
                    Attempt::Done(Err(limited))
                } else {
                    Attempt::Retryable(limited, asked.unwrap_or(backoff))
                }
            }
            500.. => Attempt::Retryable(
                ZoomCallError::Status {
                    status,
                    code: error.code,
                    message,
                },
                backoff,
            ),
            _ => Attempt::Done(Err(ZoomCallError::Status {
                status,
                code: error.code,
                message,
            })),
        }
    }

    /// `GET` as JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        credential: &Credential,
        path_and_query: &str,
        deadline: Instant,
    ) -> Result<T, ZoomCallError> {
        self.send(credential, Method::GET, path_and_query, None, deadline)
            .await?
            .ok_or_else(|| ZoomCallError::Unavailable("Zoom answered with no body".into()))
    }
}

/// The outcome of one attempt.
enum Attempt<T> {
    /// Final: success or a failure not worth retrying.
    Done(Result<Option<T>, ZoomCallError>),
    /// Retryable after the wait.
    Retryable(ZoomCallError, Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_with_slashes_are_double_encoded() {
        assert_eq!(meeting_segment("85746065432"), "85746065432");
        assert_eq!(
            meeting_segment("aDYlohsHRtCd4ii1uC2+hA=="),
            "aDYlohsHRtCd4ii1uC2%2BhA%3D%3D"
        );
        assert_eq!(
            meeting_segment("/ajXp112QmuoKj4854875=="),
            "%252FajXp112QmuoKj4854875%253D%253D"
        );
        assert_eq!(meeting_segment("ab//cd=="), "ab%252F%252Fcd%253D%253D");
    }

    #[test]
    fn zoom_errors_map_to_our_statuses_with_the_code() {
        let problem = |e: ZoomCallError| ApiError::from(e).problem();
        let not_found = problem(ZoomCallError::Status {
            status: 404,
            code: Some(3001),
            message: "Meeting does not exist".into(),
        });
        assert_eq!(
            (not_found.status, not_found.extensions["zoom_code"].as_i64()),
            (404, Some(3001))
        );
        let scope = problem(ZoomCallError::Status {
            status: 400,
            code: Some(4711),
            message: "Invalid access token, does not contain scopes:[meeting:read]".into(),
        });
        assert_eq!(scope.status, 403);
        assert!(scope.detail.contains("meeting:read"));
        assert_eq!(
            problem(ZoomCallError::Status {
                status: 400,
                code: Some(300),
                message: "bad".into()
            })
            .status,
            400
        );
        assert_eq!(
            problem(ZoomCallError::Status {
                status: 500,
                code: None,
                message: "x".into()
            })
            .status,
            502
        );
        assert_eq!(problem(ZoomCallError::Timeout).status, 504);
        let limited = problem(ZoomCallError::RateLimited {
            retry_after: 30,
            daily: true,
            message: "daily".into(),
        });
        assert_eq!(
            (limited.status, limited.extensions["retry_after"].as_u64()),
            (429, Some(30))
        );
        assert_eq!(problem(ZoomCallError::TokenRejected).status, 401);
    }
}
