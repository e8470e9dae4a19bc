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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn post(content_type: &str, body: Body) -> Request {
        http::Request::builder()
            .method("POST")
            .uri("https://x/api/zoom/meetings")
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .expect("request")
    }

    /// A body that is not UTF-8 (API Gateway delivers it base64-encoded, lambda_http decodes it
    /// to binary) is a 400, a body over the limit a 413, another media type a 415.
    #[test]
    fn bodies_are_checked_before_use() {
        let bad = post(
            "application/json",
            Body::Binary(b"{\"a\":\"\xff\"}".to_vec()),
        );
        let error = json_body::<serde_json::Value>(&bad, 1024).expect_err("not UTF-8");
        assert_eq!(error.status(), 400);
        let big = post("application/json", Body::Text("1".repeat(2048)));
        assert_eq!(
            json_body::<serde_json::Value>(&big, 1024)
                .expect_err("big")
                .status(),
            413
        );
        let text = post("text/plain", Body::Text("{}".into()));
        assert_eq!(
            json_body::<serde_json::Value>(&text, 1024)
                .expect_err("415")
                .status(),
            415
        );
        let good = post(
            "application/json; charset=utf-8",
            Body::Text("{\"a\":1}".into()),
        );
        assert_eq!(
            json_body::<serde_json::Value>(&good, 1024).expect("ok")["a"],
            1
        );
    }
}
