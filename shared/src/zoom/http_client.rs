//! The one outbound HTTP client for Zoom, built once per process: rustls (aws-lc), bounded
//! connect and request timeouts, no automatic redirects (a redirect is followed only where the
//! caller decides, so a token is never replayed to another host by accident).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Builds the shared client.
pub fn build() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(8))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("zoom-connector/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Longest wait for Zoom's OAuth endpoint. A refresh starts only with this much time left
/// before the Lambda can end (plus the time to store its answer), so the whole refresh, and the
/// storing of the rotated pair, ends inside the Lambda's 10 s.
pub const OAUTH_TIMEOUT: Duration = Duration::from_secs(6);

/// A transport failure of an OAuth request (never carries a request body).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Adapts [`reqwest::Client`] to `oauth2`'s async HTTP client interface.
pub struct OAuthHttp<'a>(pub &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = TransportError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut outbound = self
                .0
                .request(parts.method, parts.uri.to_string())
                .timeout(OAUTH_TIMEOUT)
                .body(body);
            for (name, value) in &parts.headers {
                outbound = outbound.header(name, value);
            }
            let response = outbound.send().await.map_err(|e| {
                TransportError(if e.is_timeout() {
                    "Zoom OAuth did not answer in time".into()
                } else {
                    "Zoom OAuth is unreachable".into()
                })
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|_| TransportError("Zoom OAuth answer could not be read".into()))?;
            let mut answer = http::Response::new(bytes.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
