//! Path routing: `(method, path)` to a route of the function, with path parameters.
//!
//! Works with the raw path alone (as `cargo lambda watch` and API Gateway's `$default` route
//! deliver it) and with API Gateway's decoded `pathParameters`, which win when present.

use std::collections::HashMap;

use http::Method;
use percent_encoding::percent_decode_str;

use super::ApiError;

/// Decoded path parameters, by the names used in the route pattern (`{meetingId}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(HashMap<String, String>);

impl PathParams {
    /// The parameter `name`, or a 400 naming it when absent (a route table bug otherwise).
    pub fn get(&self, name: &str) -> Result<&str, ApiError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::BadRequest(format!("missing path parameter {name}")))
    }

    /// Fills parameters the raw path did not give from API Gateway's `pathParameters`. The
    /// raw path, decoded once here, wins: emulators differ on whether `pathParameters` are
    /// decoded, and a UUID with `%2F` must arrive as exactly one segment.
    pub fn merge_gateway(&mut self, gateway: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in gateway {
            self.0.entry(name).or_insert(value);
        }
    }
}

/// The route a request resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<R> {
    /// The function's own route identifier.
    pub route: R,
    /// The pattern that matched, e.g. `/api/zoom/meetings/{meetingId}` (used as a metric label).
    pub pattern: &'static str,
    /// Path parameters.
    pub params: PathParams,
}

/// A route table.
#[derive(Debug, Clone)]
pub struct Router<R> {
    routes: Vec<(Method, &'static str, R)>,
}

impl<R: Copy> Router<R> {
    /// A router over `(method, pattern, route)` entries; patterns use `{name}` segments.
    pub fn new(routes: impl IntoIterator<Item = (Method, &'static str, R)>) -> Self {
        Self {
            routes: routes.into_iter().collect(),
        }
    }

    /// Every `(method, pattern)` this router serves.
    pub fn table(&self) -> impl Iterator<Item = (&Method, &'static str)> {
        self.routes
            .iter()
            .map(|(method, pattern, _)| (method, *pattern))
    }

    /// Resolves a request: 404 when no pattern matches the path, 405 (with the methods that
    /// would be served) when the path matches but the method does not.
    pub fn resolve(&self, method: &Method, path: &str) -> Result<Matched<R>, ApiError> {
        let mut allow = Vec::new();
        for (route_method, pattern, route) in &self.routes {
            let Some(params) = match_pattern(pattern, path) else {
                continue;
            };
            if route_method == method {
                return Ok(Matched {
                    route: *route,
                    pattern,
                    params,
                });
            }
            if !allow.contains(route_method) {
                allow.push(route_method.clone());
            }
        }
        if allow.is_empty() {
            Err(ApiError::NotFound(format!(
                "no route serves {}",
                shorten(path)
            )))
        } else {
            Err(ApiError::MethodNotAllowed { allow })
        }
    }
}

/// A path as it may appear in an error detail: at most 200 characters.
fn shorten(path: &str) -> String {
    const MAX: usize = 200;
    match path.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &path[..cut]),
        None => path.to_owned(),
    }
}

/// Matches one pattern against a raw (percent-encoded) path; a single trailing slash is ignored.
fn match_pattern(pattern: &str, path: &str) -> Option<PathParams> {
    let path = path.split('?').next().unwrap_or_default();
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    let mut params = HashMap::new();
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(PathParams(params)),
            (Some(expected), Some(actual)) => {
                if let Some(name) = expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if actual.is_empty() {
                        return None;
                    }
                    let value = percent_decode_str(actual).decode_utf8().ok()?;
                    params.insert(name.to_owned(), value.into_owned());
                } else if expected != actual {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Route {
        List,
        Create,
        Get,
        Delete,
    }

    fn router() -> Router<Route> {
        Router::new([
            (Method::GET, "/api/zoom/meetings", Route::List),
            (Method::POST, "/api/zoom/meetings", Route::Create),
            (Method::GET, "/api/zoom/meetings/{meetingId}", Route::Get),
            (
                Method::DELETE,
                "/api/zoom/meetings/{meetingId}",
                Route::Delete,
            ),
        ])
    }

    #[test]
    fn matches_static_and_parameterised_paths() {
        let r = router();
        assert_eq!(
            r.resolve(&Method::GET, "/api/zoom/meetings")
                .map(|m| m.route)
                .ok(),
            Some(Route::List)
        );
        assert_eq!(
            r.resolve(&Method::POST, "/api/zoom/meetings/")
                .map(|m| m.route)
                .ok(),
            Some(Route::Create)
        );
        let m = r
            .resolve(&Method::DELETE, "/api/zoom/meetings/123")
            .expect("match");
        assert_eq!(m.route, Route::Delete);
        assert_eq!(m.pattern, "/api/zoom/meetings/{meetingId}");
        assert_eq!(m.params.get("meetingId").ok(), Some("123"));
    }

    #[test]
    fn decodes_parameters() {
        let m = router()
            .resolve(&Method::GET, "/api/zoom/meetings/%2Fab%2F%2Fcd%3D%3D")
            .expect("match");
        assert_eq!(m.params.get("meetingId").ok(), Some("/ab//cd=="));
    }

    #[test]
    fn the_raw_path_wins_over_gateway_parameters() {
        let mut m = router()
            .resolve(&Method::GET, "/api/zoom/meetings/a%2Bb")
            .expect("match");
        m.params.merge_gateway([
            ("meetingId".to_owned(), "a%2Bb".to_owned()),
            ("other".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(m.params.get("meetingId").ok(), Some("a+b"));
        assert_eq!(m.params.get("other").ok(), Some("x"));
    }

    #[test]
    fn unknown_path_is_404_and_wrong_method_is_405_with_allow() {
        let r = router();
        assert!(matches!(
            r.resolve(&Method::GET, "/api/zoom/nope"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            r.resolve(&Method::GET, "/api/zoom/meetings/1/extra"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            r.resolve(&Method::GET, "/api/zoom/meetings//"),
            Err(ApiError::NotFound(_))
        ));
        match r.resolve(&Method::PUT, "/api/zoom/meetings/1") {
            Err(ApiError::MethodNotAllowed { allow }) => {
                assert_eq!(allow, vec![Method::GET, Method::DELETE])
            }
            other => panic!("expected 405, got {other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_in_a_parameter_does_not_match() {
        assert!(
            router()
                .resolve(&Method::GET, "/api/zoom/meetings/%FF")
                .is_err()
        );
    }
}
