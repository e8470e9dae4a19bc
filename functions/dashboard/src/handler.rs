//! Routes of `zoom-dashboard`.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/zoom/dashboard` | the page ([`Assets::index`]) |
//! | `GET /api/zoom/dashboard/{asset}` | a script, style sheet or icon of the page ([`Assets::file`]) |
//! | `POST /api/zoom/dashboard/dev-token` | a development caller JWT, local stack only ([`DevTokens`]); `404` elsewhere |
//!
//! None of them takes a caller JWT: a browser's navigation carries none. The page and its
//! assets are the same bytes for everyone; the page reads the caller's JWT in the browser and
//! sends it with every API call.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use zoom_shared::http::input::json_body;
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Matched, Router, json};

use crate::assets::Assets;
use crate::dev_token::{DevTokenRequest, DevTokens, MAX_BODY};

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/dashboard`
    Page,
    /// `GET /api/zoom/dashboard/{asset}`
    Asset,
    /// `POST /api/zoom/dashboard/dev-token`
    DevToken,
}

/// The path of the development token route.
pub const DEV_TOKEN_PATH: &str = "/api/zoom/dashboard/dev-token";

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([
        (Method::GET, "/api/zoom/dashboard", Route::Page),
        (Method::GET, "/api/zoom/dashboard/{asset}", Route::Asset),
        (Method::POST, DEV_TOKEN_PATH, Route::DevToken),
    ])
}

/// The handler's dependencies.
pub struct DashboardHandler {
    /// The page and its files.
    pub assets: Assets,
    /// Development tokens: `Some` only on the local stack (see [`DevTokens::from_env`]).
    pub dev_tokens: Option<DevTokens>,
}

impl Handler<Route> for DashboardHandler {
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        match matched.route {
            Route::Page => Ok(self.assets.index().response(&request)),
            Route::Asset => {
                let name = matched.params.get("asset")?;
                self.assets
                    .file(name)
                    .map(|asset| asset.response(&request))
                    .ok_or_else(|| ApiError::NotFound(format!("the dashboard has no file {name}")))
            }
            Route::DevToken => {
                // Off, this route is indistinguishable from one that does not exist.
                let Some(minter) = &self.dev_tokens else {
                    return Err(ApiError::NotFound(format!(
                        "no route serves {DEV_TOKEN_PATH}"
                    )));
                };
                same_origin(&request)?;
                let body: DevTokenRequest = json_body(&request, MAX_BODY)?;
                let minted = minter.mint(&body)?;
                tracing::info!("development token minted");
                let mut response = json(StatusCode::OK, &minted)?;
                response.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
                Ok(response)
            }
        }
    }
}

/// Refuses a request another site's page sent: its `Origin` must be this host (a browser
/// always sends `Origin` with a `fetch` POST). The local emulator answers every origin's CORS
/// preflight permissively, so without this any web page the developer opens could mint a token
/// for the local API.
fn same_origin(request: &Request) -> Result<(), ApiError> {
    let header = |name: http::header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let Some(origin) = header(http::header::ORIGIN) else {
        return Ok(());
    };
    let authority = origin.split_once("://").map(|(_, rest)| rest.to_owned());
    match (authority, header(http::header::HOST)) {
        (Some(authority), Some(host)) if authority == host => Ok(()),
        _ => Err(ApiError::Forbidden(
            "development tokens are minted only for this dashboard's own page".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use serde_json::Value;
    use zoom_shared::http::CallerAuth;
    use zoom_shared::metrics::Metrics;

    const SECRET: &str = "dashboard-unit-test-secret";

    fn handler(dev: bool) -> DashboardHandler {
        DashboardHandler {
            assets: Assets::compiled(),
            dev_tokens: dev.then(|| DevTokens::new(SecretString::from(SECRET.to_owned()))),
        }
    }

    fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Request {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(body.map_or(Body::Empty, |b| Body::Text(b.to_owned())))
            .expect("request")
    }

    async fn call(h: &DashboardHandler, request: Request) -> Response<Body> {
        let (metrics, _) = Metrics::in_memory("zoom-dashboard");
        zoom_shared::http::serve::dispatch(&router(), h, &metrics, request).await
    }

    fn text(response: &Response<Body>) -> String {
        match response.body() {
            Body::Text(t) => t.clone(),
            Body::Empty => String::new(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    fn body(response: &Response<Body>) -> Value {
        serde_json::from_str(&text(response)).unwrap_or(Value::Null)
    }

    async fn dev_token(h: &DashboardHandler, payload: &str) -> Response<Body> {
        call(
            h,
            request(
                "POST",
                DEV_TOKEN_PATH,
                &[("content-type", "application/json")],
                Some(payload),
            ),
        )
        .await
    }

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-dashboard");
    }

    #[tokio::test]
    async fn the_page_is_served_with_a_strict_policy() {
        let response = call(
            &handler(false),
            request("GET", "/api/zoom/dashboard", &[], None),
        )
        .await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        let csp = headers["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-cache");
        let page = text(&response);
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains("<html lang=\"en\">"));
        // No inline script or style: the policy would block it.
        assert!(!page.contains("<script>") && !page.contains(" style=\""));
        // A trailing slash is the same page.
        let slash = call(
            &handler(false),
            request("GET", "/api/zoom/dashboard/", &[], None),
        )
        .await;
        assert_eq!(slash.status(), 200);
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_type_and_revalidated() {
        let h = handler(false);
        for asset in h.assets.files() {
            let path = format!("/api/zoom/dashboard/{}", asset.name);
            let response = call(&h, request("GET", &path, &[], None)).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], asset.content_type);
            assert_eq!(text(&response), asset.body);
            let etag = response.headers()["etag"]
                .to_str()
                .expect("etag")
                .to_owned();
            let again = call(&h, request("GET", &path, &[("if-none-match", &etag)], None)).await;
            assert_eq!(again.status(), 304, "{path}");
            assert!(text(&again).is_empty());
            let stale = call(
                &h,
                request("GET", &path, &[("if-none-match", "\"old\"")], None),
            )
            .await;
            assert_eq!(stale.status(), 200);
        }
    }

    #[tokio::test]
    async fn unknown_files_and_methods_are_problems() {
        let h = handler(true);
        for path in [
            "/api/zoom/dashboard/nope.js",
            "/api/zoom/dashboard/..%2Fsecrets",
            DEV_TOKEN_PATH,
        ] {
            let response = call(&h, request("GET", path, &[], None)).await;
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            assert_eq!(body(&response)["status"], 404);
        }
        let response = call(&h, request("POST", "/api/zoom/dashboard", &[], None)).await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET");
    }

    #[tokio::test]
    async fn dev_tokens_are_404_unless_switched_on() {
        let off = dev_token(&handler(false), r#"{"tenant":"acme"}"#).await;
        assert_eq!(off.status(), 404);
        assert_eq!(off.headers()["content-type"], "application/problem+json");
        // The same answer as a path nobody serves.
        let unknown = call(&handler(false), request("GET", "/api/zoom/nope", &[], None)).await;
        assert_eq!(body(&off)["type"], body(&unknown)["type"]);
        assert_eq!(body(&off)["title"], body(&unknown)["title"]);
    }

    #[tokio::test]
    async fn dev_tokens_when_on_are_valid_caller_jwts() {
        let h = handler(true);
        let response = dev_token(&h, r#"{"tenant":"acme"}"#).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let minted = body(&response);
        assert_eq!(minted["tenant"], "acme");
        let token = minted["token"].as_str().expect("token");
        let caller = CallerAuth::new(Some(SecretString::from(SECRET.to_owned())))
            .authenticate_parts(None, Some(&format!("Bearer {token}")))
            .expect("the functions accept it");
        assert_eq!(caller.tenant_id, "acme");

        let bad = dev_token(&h, r#"{"tenant":"a#b"}"#).await;
        assert_eq!(bad.status(), 400);
        assert_eq!(body(&bad)["errors"][0]["field"], "tenant");
        let text_body = call(
            &h,
            request(
                "POST",
                DEV_TOKEN_PATH,
                &[("content-type", "text/plain")],
                Some("{}"),
            ),
        )
        .await;
        assert_eq!(
            text_body.status(),
            415,
            "a cross-site form post cannot mint"
        );
        let big = dev_token(&h, &format!(r#"{{"tenant":"{}"}}"#, "x".repeat(MAX_BODY))).await;
        assert_eq!(big.status(), 413);
        let unknown = dev_token(&h, r#"{"tenant":"a","admin":true}"#).await;
        assert_eq!(unknown.status(), 400);
        // Another site's page is refused; this page's own request passes.
        let post = |origin: &'static str| {
            request(
                "POST",
                DEV_TOKEN_PATH,
                &[
                    ("content-type", "application/json"),
                    ("host", "localhost:9000"),
                    ("origin", origin),
                ],
                Some(r#"{"tenant":"acme"}"#),
            )
        };
        assert_eq!(call(&h, post("https://evil.example")).await.status(), 403);
        assert_eq!(call(&h, post("http://localhost:9001")).await.status(), 403);
        assert_eq!(call(&h, post("null")).await.status(), 403);
        assert_eq!(call(&h, post("http://localhost:9000")).await.status(), 200);
    }

    /// Every file the page and its scripts name under `/api/zoom/dashboard/` is served.
    #[test]
    fn the_page_names_only_files_that_exist() {
        let assets = Assets::compiled();
        let mut sources = vec![assets.index().body];
        sources.extend(assets.files().map(|a| a.body));
        let mut named = 0;
        for source in sources {
            for piece in source.split("/api/zoom/dashboard/").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                    .collect();
                if name.is_empty() || name == "dev-token" {
                    continue;
                }
                assert!(
                    assets.file(&name).is_some(),
                    "{name} is named but not served"
                );
                named += 1;
            }
        }
        assert!(
            named >= 3,
            "the page loads its script, style sheet and icon"
        );
    }

    /// The page's scripts call only operations of `docs/openapi.yaml` (our public API).
    #[test]
    fn the_page_calls_only_documented_routes() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
        let document: serde_norway::Value =
            serde_norway::from_str(&std::fs::read_to_string(file).expect("readable"))
                .expect("yaml");
        let paths: Vec<String> = document["paths"]
            .as_mapping()
            .expect("paths")
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        let matches = |called: &str| {
            paths.iter().any(|documented| {
                let (a, b): (Vec<&str>, Vec<&str>) =
                    (documented.split('/').collect(), called.split('/').collect());
                a.len() == b.len()
                    && a.iter().zip(&b).all(|(d, c)| {
                        d == c || (d.starts_with('{') && (c.starts_with('$') || c.starts_with('{')))
                    })
            })
        };
        let assets = Assets::compiled();
        let mut called = 0;
        for asset in assets.files().filter(|a| a.name.ends_with(".js")) {
            // API paths are written as `/api/...` string or template literals, with `${…}` for
            // parameters.
            let code: String = asset
                .body
                .lines()
                .filter(|line| {
                    let line = line.trim_start();
                    !(line.starts_with("//") || line.starts_with('*') || line.starts_with("/*"))
                })
                .collect::<Vec<_>>()
                .join("\n");
            for piece in code.split(['"', '`', '\'']) {
                // A prefix check (`"/api/zoom/recordings/"`) names no route; the page's own
                // routes are this function's.
                if !piece.starts_with("/api/")
                    || piece.ends_with('/')
                    || piece.starts_with("/api/zoom/dashboard")
                {
                    continue;
                }
                let path = piece.split('?').next().unwrap_or(piece);
                let path = path.replace("${", "{");
                let normalised: String = path
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') {
                            "{x}".to_owned()
                        } else {
                            segment.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                assert!(
                    matches(&normalised),
                    "{} calls {path}, which is not documented",
                    asset.name
                );
                called += 1;
            }
        }
        assert!(
            called >= 10,
            "the page calls the API ({called} paths found)"
        );
    }
}

#[cfg(test)]
mod event_tests {
    use super::*;

    /// Every event in `events/zoom-dashboard/` is a valid API Gateway event for a route we
    /// serve; none carries authorizer claims (the routes are public).
    #[test]
    fn sample_events_route_to_this_function() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/zoom-dashboard");
        let covered = zoom_shared::http::samples::check_dir(dir, &router(), |_| true);
        assert_eq!(covered, router().table().count(), "one event per route");
    }
}
