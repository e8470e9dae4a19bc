//! The Zoom REST operations the integration calls and the OAuth scopes each needs, as
//! Zoom's documents list them (`x-extensions.x-macro-scopes` for classic scopes,
//! `x-granular-scopes` for granular ones). A test checks this table against the documents.

use serde::Serialize;

/// One Zoom REST operation and the scopes that allow it (any one of each list suffices).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ZoomOperation {
    /// HTTP method.
    pub method: &'static str,
    /// Path template under the REST base, as in Zoom's document.
    pub path: &'static str,
    /// The user-level classic scope we request for it.
    pub classic: &'static str,
    /// The user-level granular scope we request for it.
    pub granular: &'static str,
}

/// Every Zoom REST operation the integration calls.
pub const OPERATIONS: &[ZoomOperation] = &[
    op(
        "GET",
        "/users/{userId}/meetings",
        "meeting:read",
        "meeting:read:list_meetings",
    ),
    op(
        "POST",
        "/users/{userId}/meetings",
        "meeting:write",
        "meeting:write:meeting",
    ),
    op(
        "GET",
        "/meetings/{meetingId}",
        "meeting:read",
        "meeting:read:meeting",
    ),
    op(
        "PATCH",
        "/meetings/{meetingId}",
        "meeting:write",
        "meeting:update:meeting",
    ),
    op(
        "DELETE",
        "/meetings/{meetingId}",
        "meeting:write",
        "meeting:delete:meeting",
    ),
    op(
        "GET",
        "/past_meetings/{meetingId}",
        "meeting:read",
        "meeting:read:past_meeting",
    ),
    op(
        "GET",
        "/users",
        "user:read:admin",
        "user:read:list_users:admin",
    ),
    op("GET", "/users/{userId}", "user:read", "user:read:user"),
    op(
        "GET",
        "/users/{userId}/recordings",
        "recording:read",
        "cloud_recording:read:list_user_recordings",
    ),
    op(
        "GET",
        "/meetings/{meetingId}/recordings",
        "recording:read",
        "cloud_recording:read:list_recording_files",
    ),
    op(
        "GET",
        "/report/meetings/{meetingId}/participants",
        "report:read:admin",
        "report:read:list_meeting_participants:admin",
    ),
];

const fn op(
    method: &'static str,
    path: &'static str,
    classic: &'static str,
    granular: &'static str,
) -> ZoomOperation {
    ZoomOperation {
        method,
        path,
        classic,
        granular,
    }
}

/// The distinct scopes the app needs, classic and granular, sorted.
pub fn required_scopes() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut classic: Vec<_> = OPERATIONS.iter().map(|o| o.classic).collect();
    let mut granular: Vec<_> = OPERATIONS.iter().map(|o| o.granular).collect();
    classic.sort_unstable();
    classic.dedup();
    granular.sort_unstable();
    granular.dedup();
    (classic, granular)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn spec(name: &str) -> Value {
        // `../shared/` beside the checkout holds Zoom's documents; ZOOM_SHARED_DIR overrides.
        let dir = std::env::var("ZOOM_SHARED_DIR")
            .unwrap_or_else(|_| format!("{}/../../shared", env!("CARGO_MANIFEST_DIR")));
        let path = format!("{dir}/zoom/specs/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        serde_json::from_str(&text).expect("spec is JSON")
    }

    #[test]
    fn every_scope_is_listed_by_zoom_for_its_operation() {
        let specs = [
            spec("zoom-meetings-openapi.json"),
            spec("zoom-users-openapi.json"),
        ];
        for op in OPERATIONS {
            let operation = specs
                .iter()
                .find_map(|s| s["paths"][op.path][op.method.to_lowercase()].as_object())
                .unwrap_or_else(|| panic!("{} {} is not in Zoom's documents", op.method, op.path));
            let ext = &operation["x-extensions"];
            let listed = |key: &str| -> Vec<String> {
                ext[key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let security: Vec<String> = operation["security"][0]["openapi_oauth"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let classic_ok = listed("x-macro-scopes").iter().any(|s| s == op.classic)
                || security.iter().any(|s| s == op.classic);
            assert!(
                classic_ok,
                "{} {}: classic scope {} not listed",
                op.method, op.path, op.classic
            );
            assert!(
                listed("x-granular-scopes").iter().any(|s| s == op.granular)
                    || security.iter().any(|s| s == op.granular),
                "{} {}: granular scope {} not listed",
                op.method,
                op.path,
                op.granular
            );
        }
    }

    #[test]
    fn required_scopes_are_distinct() {
        let (classic, granular) = required_scopes();
        assert!(classic.contains(&"meeting:write") && granular.contains(&"meeting:read:meeting"));
        let mut deduped = classic.clone();
        deduped.dedup();
        assert_eq!(deduped, classic);
    }
}
