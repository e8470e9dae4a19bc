//! The single error type every handler returns, and its RFC 9457 problem+json form.

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client is told to wait (`Retry-After`) after a 503: storage, a queue or the
/// bucket was briefly slow or unreachable, and the same request is expected to succeed soon.
pub const DEPENDENCY_RETRY_AFTER_SECS: u64 = 2;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name (JSON pointer-ish: `settings.waiting_room`, or a query parameter).
    pub field: String,
    /// What is wrong with it, without echoing secrets.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything that can go wrong in a request, each mapped to one status and problem type.
///
/// Details are written for the caller: they never carry tokens, secrets, codes or internal
/// error chains (those go to the log through [`ApiError::Internal`]'s source, once).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 400 with `errors: [{field, message}]`.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401: no usable caller identity.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: the caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 401 with a `reauth_url` hint: the tenant's Zoom connection must be authorized again.
    #[error("zoom reauthorization required")]
    ZoomReauthRequired {
        /// Where to start the OAuth flow again.
        reauth_url: String,
    },
    /// 409: the request conflicts with the current state (e.g. Zoom not connected).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A Zoom error mapped to `status`, keeping Zoom's code in the body as `zoom_code`.
    #[error("zoom error {status}: {detail}")]
    Zoom {
        /// Our status for it.
        status: StatusCode,
        /// Zoom's message.
        detail: String,
        /// Zoom's error code.
        zoom_code: Option<i64>,
    },
    /// 404: nothing here (also for another tenant's identifiers).
    #[error("not found: {0}")]
    NotFound(String),
    /// 405 with an `Allow` header.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the path does serve.
        allow: Vec<Method>,
    },
    /// 413: the body is over the documented limit.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 422: the request is well-formed but cannot be processed as it is (an `Idempotency-Key`
    /// reused with another request).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 502: Zoom's answer to a non-idempotent request was lost, so whether it took effect is
    /// unknown (a retry with the same `Idempotency-Key` finds out).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// 415: the body is not JSON.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After`.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
        /// Why.
        detail: String,
    },
    /// 502: an upstream (Zoom) answered badly.
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// 503 with `Retry-After` ([`DEPENDENCY_RETRY_AFTER_SECS`]): a dependency is slow or down;
    /// `extensions` are added to the body.
    #[error("service unavailable: {detail}")]
    ServiceUnavailable {
        /// Which dependency failed.
        detail: String,
        /// Extra members of the problem body.
        extensions: Map<String, Value>,
    },
    /// 504: an upstream did not answer in time.
    #[error("gateway timeout: {0}")]
    GatewayTimeout(String),
    /// 500: a bug or an unexpected failure; the source is logged, the body says little.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 503 for a dependency that failed (`detail` names it, never its data).
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        Self::ServiceUnavailable {
            detail: detail.to_string(),
            extensions: Map::new(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::ZoomReauthRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::OutcomeUnknown(_) => StatusCode::BAD_GATEWAY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Zoom { status, .. } => *status,
        }
    }

    /// One error of every kind, a Zoom error for each status it names differently: the API
    /// document's list of problem types is checked against them (`http::openapi`'s tests).
    #[cfg(feature = "openapi-check")]
    pub fn samples() -> Vec<ApiError> {
        let zoom = |status| Self::Zoom {
            status,
            detail: String::new(),
            zoom_code: None,
        };
        let all = vec![
            Self::BadRequest(String::new()),
            Self::Validation(Vec::new()),
            Self::Unauthorized(String::new()),
            Self::Forbidden(String::new()),
            Self::ZoomReauthRequired {
                reauth_url: String::new(),
            },
            Self::Conflict(String::new()),
            zoom(StatusCode::BAD_REQUEST),
            zoom(StatusCode::FORBIDDEN),
            zoom(StatusCode::NOT_FOUND),
            zoom(StatusCode::BAD_GATEWAY),
            Self::NotFound(String::new()),
            Self::MethodNotAllowed { allow: Vec::new() },
            Self::PayloadTooLarge { limit: 0 },
            Self::Unprocessable(String::new()),
            Self::OutcomeUnknown(String::new()),
            Self::UnsupportedMediaType(String::new()),
            Self::TooManyRequests {
                retry_after: 0,
                detail: String::new(),
            },
            Self::BadGateway(String::new()),
            Self::unavailable(""),
            Self::GatewayTimeout(String::new()),
            Self::Internal(String::new()),
        ];
        // A new kind of error fails to compile here until it has a sample above.
        for error in &all {
            match error {
                Self::BadRequest(_)
                | Self::Validation(_)
                | Self::Unauthorized(_)
                | Self::Forbidden(_)
                | Self::ZoomReauthRequired { .. }
                | Self::Conflict(_)
                | Self::Zoom { .. }
                | Self::NotFound(_)
                | Self::MethodNotAllowed { .. }
                | Self::PayloadTooLarge { .. }
                | Self::Unprocessable(_)
                | Self::OutcomeUnknown(_)
                | Self::UnsupportedMediaType(_)
                | Self::TooManyRequests { .. }
                | Self::BadGateway(_)
                | Self::ServiceUnavailable { .. }
                | Self::GatewayTimeout(_)
                | Self::Internal(_) => {}
            }
        }
        all
    }

    /// The short slug that names the problem type.
    fn slug(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad-request",
            Self::Validation(_) => "validation-failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::ZoomReauthRequired { .. } => "zoom-reauthorization-required",
            Self::Conflict(_) => "conflict",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::Unprocessable(_) => "idempotency-key-reused",
            Self::OutcomeUnknown(_) => "zoom-outcome-unknown",
            Self::TooManyRequests { .. } => "rate-limited",
            Self::BadGateway(_) => "upstream-error",
            Self::ServiceUnavailable { .. } => "dependency-unavailable",
            Self::GatewayTimeout(_) => "upstream-timeout",
            Self::Internal(_) => "internal-error",
            Self::Zoom { status, .. } => match status.as_u16() {
                400 => "zoom-rejected-request",
                403 => "zoom-missing-scope",
                404 => "not-found",
                _ => "upstream-error",
            },
        }
    }

    /// The RFC 9457 body of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::UnsupportedMediaType(d)
            | Self::Unprocessable(d)
            | Self::OutcomeUnknown(d)
            | Self::BadGateway(d)
            | Self::GatewayTimeout(d) => d.clone(),
            Self::Zoom { detail, .. } => detail.clone(),
            Self::TooManyRequests { detail, .. } | Self::ServiceUnavailable { detail, .. } => {
                detail.clone()
            }
            Self::Validation(errors) => format!("{} field(s) failed validation", errors.len()),
            Self::MethodNotAllowed { allow } => format!(
                "this path serves only {}",
                allow
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::PayloadTooLarge { limit } => {
                format!("the request body is larger than the limit of {limit} bytes")
            }
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            Self::ZoomReauthRequired { .. } => {
                "the Zoom connection is no longer authorized; connect Zoom again".to_owned()
            }
        };
        let mut extensions = Map::new();
        match self {
            Self::ServiceUnavailable { extensions: e, .. } => {
                extensions.clone_from(e);
                extensions.insert(
                    "retry_after".into(),
                    Value::from(DEPENDENCY_RETRY_AFTER_SECS),
                );
            }
            Self::TooManyRequests { retry_after, .. } => {
                extensions.insert("retry_after".into(), Value::from(*retry_after));
            }
            Self::Zoom {
                zoom_code: Some(code),
                ..
            } => {
                extensions.insert("zoom_code".into(), Value::from(*code));
            }
            Self::ZoomReauthRequired { reauth_url } => {
                extensions.insert("reauth_url".into(), Value::from(reauth_url.as_str()));
                extensions.insert("needs_reauth".into(), Value::from(true));
            }
            _ => {}
        }
        Problem {
            problem_type: format!("urn:problem:zoom-connector:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            extensions,
        }
    }

    /// The full HTTP response: problem+json body plus `Allow` / `Retry-After` where due.
    pub fn into_response(self) -> Response<Body> {
        if let Self::Internal(source) = &self {
            tracing::error!(error = %source, "internal error");
        }
        let problem = self.problem();
        let body = serde_json::to_string(&problem).unwrap_or_else(|_| {
            r#"{"type":"urn:problem:zoom-connector:internal-error","title":"Internal Server Error","status":500,"detail":"error body could not be encoded"}"#.to_owned()
        });
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            Self::MethodNotAllowed { allow } => {
                let allow = allow
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Self::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::ServiceUnavailable { .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(DEPENDENCY_RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        response
    }
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for this occurrence.
    pub detail: String,
    /// Per-field validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Extension members.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).expect("json body"),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn every_error_is_problem_json_with_its_status() {
        let cases = [
            ApiError::BadRequest("x".into()),
            ApiError::Unauthorized("x".into()),
            ApiError::NotFound("x".into()),
            ApiError::PayloadTooLarge { limit: 10 },
            ApiError::Internal("db exploded".into()),
        ];
        for error in cases {
            let status = error.status();
            let response = error.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
            let body = body_json(&response);
            assert_eq!(body["status"], status.as_u16());
            assert!(
                body["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("urn:problem:"))
            );
            assert!(body["title"].is_string() && body["detail"].is_string());
        }
    }

    #[test]
    fn internal_error_hides_its_source() {
        let response = ApiError::Internal("token=abc123".into()).into_response();
        assert!(!body_json(&response).to_string().contains("abc123"));
    }

    #[test]
    fn method_not_allowed_sets_allow() {
        let response = ApiError::MethodNotAllowed {
            allow: vec![Method::GET, Method::POST],
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
    }

    #[test]
    fn validation_lists_fields() {
        let response = ApiError::Validation(vec![FieldError::new("topic", "must not be empty")])
            .into_response();
        let body = body_json(&response);
        assert_eq!(body["errors"][0]["field"], "topic");
        assert_eq!(body["status"], 400);
    }

    #[test]
    fn a_dependency_outage_says_when_to_retry() {
        let response = ApiError::unavailable("storage failed: timed out").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::RETRY_AFTER],
            DEPENDENCY_RETRY_AFTER_SECS.to_string().as_str()
        );
        let body = body_json(&response);
        assert_eq!(body["retry_after"], DEPENDENCY_RETRY_AFTER_SECS);
        assert_eq!(
            body["type"],
            "urn:problem:zoom-connector:dependency-unavailable"
        );
        assert_eq!(body["detail"], "storage failed: timed out");
    }

    #[test]
    fn rate_limited_sets_retry_after() {
        let response = ApiError::TooManyRequests {
            retry_after: 7,
            detail: "slow down".into(),
        }
        .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(body_json(&response)["retry_after"], 7);
    }
}
