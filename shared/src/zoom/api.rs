//! Calls to Zoom's REST API with a tenant's token: Bearer in the header, one refresh-and-retry
//! when Zoom answers 401 with code 124, and Zoom's errors mapped to ours.

use std::future::Future;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::http::ApiError;
use crate::tokens::Tokens;
use crate::tokens::provider::Credential;

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
    /// Any other non-2xx answer.
    #[error("Zoom answered {status} (code {code:?}): {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Zoom's code.
        code: Option<i64>,
        /// Zoom's message.
        message: String,
    },
    /// No answer in time.
    #[error("Zoom did not answer in time")]
    Timeout,
    /// Unreachable or unreadable.
    #[error("Zoom is unreachable: {0}")]
    Unavailable(String),
}

impl From<ZoomCallError> for ApiError {
    fn from(error: ZoomCallError) -> Self {
        match error {
            ZoomCallError::TokenRejected => ApiError::ZoomReauthRequired {
                reauth_url: crate::tokens::REAUTH_URL.to_owned(),
            },
            ZoomCallError::Status {
                status,
                code,
                message,
            } => {
                let detail = format!(
                    "Zoom: {message} (code {})",
                    code.map(|c| c.to_string()).unwrap_or_else(|| "none".into())
                );
                match (status, code) {
                    (404, _) | (_, Some(3001 | 1001 | 3301)) => ApiError::NotFound(detail),
                    (_, Some(4711)) | (403, _) => ApiError::Forbidden(detail),
                    (429, _) => ApiError::TooManyRequests {
                        retry_after: 1,
                        detail,
                    },
                    (400, _) => ApiError::BadRequest(detail),
                    _ => ApiError::BadGateway(detail),
                }
            }
            ZoomCallError::Timeout => {
                ApiError::GatewayTimeout("Zoom did not answer in time".into())
            }
            ZoomCallError::Unavailable(reason) => ApiError::BadGateway(reason),
        }
    }
}

/// The Zoom user behind a token (`GET /users/me`).
#[derive(Debug, Clone, Deserialize)]
pub struct ZoomMe {
    /// Zoom user id.
    pub id: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Account id.
    #[serde(default)]
    pub account_id: String,
}

/// The REST client; built once per process.
#[derive(Debug, Clone)]
pub struct ZoomApi {
    http: reqwest::Client,
    base_url: String,
}

impl ZoomApi {
    /// A client for `base_url` (`ZOOM_API_BASE_URL`).
    pub fn new(http: reqwest::Client, base_url: String) -> Self {
        Self { http, base_url }
    }

    /// The base for a credential: Zoom's `api_url` (data residency) when it gave one.
    fn base(&self, credential: &Credential) -> String {
        match &credential.api_url {
            Some(api_url) if !api_url.is_empty() => format!("{}/v2", api_url.trim_end_matches('/')),
            _ => self.base_url.clone(),
        }
    }

    /// `GET {base}{path}` as JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        credential: &Credential,
        path: &str,
    ) -> Result<T, ZoomCallError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base(credential)))
            .bearer_auth(credential.access_token.expose_secret())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    ZoomCallError::Timeout
                } else {
                    ZoomCallError::Unavailable("connection failed".into())
                }
            })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| {
            if e.is_timeout() {
                ZoomCallError::Timeout
            } else {
                ZoomCallError::Unavailable("answer could not be read".into())
            }
        })?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body)
                .map_err(|_| ZoomCallError::Unavailable("answer is not the expected JSON".into()));
        }
        let error: ZoomErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        if status == 401 {
            return Err(ZoomCallError::TokenRejected);
        }
        Err(ZoomCallError::Status {
            status,
            code: error.code,
            message: error.message.unwrap_or_else(|| format!("HTTP {status}")),
        })
    }

    /// `GET /users/me`.
    pub async fn me(&self, credential: &Credential) -> Result<ZoomMe, ZoomCallError> {
        self.get_json(credential, "/users/me").await
    }
}

/// Runs `call` with the tenant's fresh token; if Zoom rejects the token, refreshes once (under
/// the single-flight rules) and runs it again.
pub async fn with_token<T, F, Fut>(tokens: &Tokens, tenant: &str, call: F) -> Result<T, ApiError>
where
    F: Fn(Credential) -> Fut,
    Fut: Future<Output = Result<T, ZoomCallError>>,
{
    let credential = tokens.fresh(tenant).await?;
    match call(credential.clone()).await {
        Err(ZoomCallError::TokenRejected) => {
            let renewed = tokens.after_unauthorized(tenant, &credential).await?;
            call(renewed).await.map_err(ApiError::from)
        }
        other => other.map_err(ApiError::from),
    }
}
