//! Checking a function's sample events (`events/<function>/*.json`): each must be a valid API
//! Gateway HTTP API event for a route of the function. Used by every function's tests.

use lambda_http::{Request, RequestExt};

use super::{CallerAuth, Router};

/// Parses every event in `dir`, resolves it on `router`, and checks that it carries authorizer
/// claims unless `public(route)`; returns how many distinct routes the events cover.
pub fn check_dir<R: Copy>(dir: &str, router: &Router<R>, public: impl Fn(R) -> bool) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("events dir {dir}: {e}"));
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{e}"));
        let request: Request = lambda_http::request::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{} is not an API Gateway v2 event: {e}",
                entry.path().display()
            )
        });
        let matched = router
            .resolve(request.method(), request.raw_http_path())
            .unwrap_or_else(|e| panic!("{} does not route: {e}", entry.path().display()));
        if !public(matched.route) {
            assert!(
                CallerAuth::new(None).authenticate(&request).is_ok(),
                "{} lacks authorizer claims",
                entry.path().display()
            );
        }
        seen.insert(format!("{} {}", request.method(), matched.pattern));
    }
    seen.len()
}
