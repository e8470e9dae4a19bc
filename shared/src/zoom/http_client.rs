//! The one outbound HTTP client for Zoom, built once per process: rustls (aws-lc), bounded
//! connect and request timeouts, no automatic redirects (a redirect is followed only where the
//! caller decides, so a token is never replayed to another host by accident).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// TLS to Zoom: rustls with aws-lc and Mozilla's root certificates compiled in
/// (`webpki-roots`). reqwest's default platform verifier reads and parses the system's
/// certificate bundle when the client is built: ≈ 40 ms of every cold start of a function that
/// talks to Zoom (measured by tools/bench/coldstart.py).
fn tls() -> Option<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(config)
}

/// Builds the shared client.
pub fn build() -> reqwest::Client {
    let builder = match tls() {
        Some(config) => reqwest::Client::builder().tls_backend_preconfigured(config),
        None => reqwest::Client::builder(),
    };
    builder
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(8))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("zoom-connector/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's TLS is the compiled-in configuration (TLS 1.2/1.3, HTTP/1.1), not the
    /// platform verifier that reads certificate files at start.
    #[test]
    fn tls_is_built_from_compiled_in_roots() {
        let config = tls().expect("a rustls configuration");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        let _client = build();
    }
}
