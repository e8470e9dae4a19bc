//! Reading request input: query parameters, boolean flags and JSON bodies, each failure a
//! specific problem (400 naming the field, 413 over the limit, 415 for another media type).

use http::header;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use super::{ApiError, FieldError};

/// A query parameter (first value).
pub fn query(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// A boolean query flag: absent is false; anything but `true`/`false` is a 400 naming it.
pub fn flag(request: &Request, name: &str) -> Result<bool, ApiError> {
    match query(request, name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::Validation(vec![FieldError::new(
            name,
            "must be true or false",
        )])),
    }
}

/// Parses a JSON body of at most `limit` bytes.
pub fn json_body<T: DeserializeOwned>(request: &Request, limit: usize) -> Result<T, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(ApiError::UnsupportedMediaType(
            "send the body as application/json".into(),
        ));
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not valid JSON of the expected shape: {e}"
        ))
    })
}
