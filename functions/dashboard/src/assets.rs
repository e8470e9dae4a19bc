//! The page and its assets, compiled into the binary (`include_str!`): nothing is read from disk
//! or rendered per request, so no answer of this function holds user data. The page fetches
//! everything itself, from the API, with the caller's JWT.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

/// What the browser may do with the page: scripts, styles and API calls from this origin only
/// (no inline script, so an injected string can never run), images from this origin or `data:`,
/// no framing (clickjacking), no `<base>` and no form posted elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One file the function serves.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its name under `/api/zoom/dashboard/` (empty for the page itself).
    pub name: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes (all text).
    pub body: &'static str,
    /// A strong validator of `body`: `"` + 16 bytes of its SHA-256 in hex + `"`.
    pub etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        Self {
            name,
            content_type,
            body,
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
        }
    }

    /// The answer to `request` for this file: `200` with the body, or `304` when the browser's
    /// `If-None-Match` names this version. Browsers revalidate every time (`no-cache`), so a
    /// new deployment's page never runs with the old one's scripts.
    pub fn response(&self, request: &Request) -> Response<Body> {
        let fresh = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| t == self.etag || t == "*")
            });
        let mut response = if fresh {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            let mut response = Response::new(Body::Text(self.body.to_owned()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            response
        };
        let headers = response.headers_mut();
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, etag);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // The page's URL never leaves it (its fragment may carry the caller's JWT, and a
        // fragment is never sent in a Referer anyway; this also keeps paths and queries in).
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        response
    }
}

/// Every file of the dashboard.
#[derive(Debug, Clone)]
pub struct Assets {
    index: Asset,
    files: Vec<Asset>,
}

impl Assets {
    /// The files compiled into this binary.
    pub fn compiled() -> Self {
        Self {
            index: Asset::new(
                "",
                "text/html; charset=utf-8",
                include_str!("../assets/index.html"),
            ),
            files: vec![
                Asset::new(
                    "app.js",
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/app.js"),
                ),
                Asset::new(
                    "api.js",
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/api.js"),
                ),
                Asset::new(
                    "charts.js",
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/charts.js"),
                ),
                Asset::new(
                    "app.css",
                    "text/css; charset=utf-8",
                    include_str!("../assets/app.css"),
                ),
                Asset::new(
                    "favicon.svg",
                    "image/svg+xml",
                    include_str!("../assets/favicon.svg"),
                ),
            ],
        }
    }

    /// The page (`GET /api/zoom/dashboard`).
    pub fn index(&self) -> &Asset {
        &self.index
    }

    /// The file named `name` (`GET /api/zoom/dashboard/{name}`), if there is one.
    pub fn file(&self, name: &str) -> Option<&Asset> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Every file but the page.
    #[cfg(test)]
    pub fn files(&self) -> impl Iterator<Item = &Asset> {
        self.files.iter()
    }
}
