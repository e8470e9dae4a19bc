//! `zoom-health` through `cargo lambda watch` and moto server.

use zoom_e2e::{ExtraWatch, api, client, env, send, stand_in};

#[tokio::test]
async fn health_is_ok_with_both_checks_timed() {
    let answer = send(client().get(format!("{}/api/zoom/health", api()))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body = answer.json();
    assert_eq!(body["status"], "ok");
    for check in ["table", "queue"] {
        assert_eq!(body["checks"][check]["status"], "ok", "{body}");
        assert!(
            body["checks"][check]["latency_ms"]
                .as_f64()
                .is_some_and(|ms| ms >= 0.0)
        );
    }
}

#[tokio::test]
async fn health_is_503_naming_the_table_when_it_is_missing() {
    // A table of the stack's name plus a suffix stands in for it: the function may read it (as
    // in AWS, where the granted table is missing), so DynamoDB answers that it does not exist.
    let missing = stand_in("ZOOM_TABLE_NAME", "missing");
    let watch = ExtraWatch::start(&[("ZOOM_TABLE_NAME", &missing)], "/api/zoom/config").await;
    let answer = send(client().get(format!("{}/api/zoom/health", watch.api))).await;
    let body = answer.problem(503);
    assert_eq!(body["failed"], serde_json::json!(["table"]), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("table")));
    assert_eq!(
        body["checks"]["table"]["error"],
        "ResourceNotFoundException"
    );
    assert_eq!(body["checks"]["queue"]["status"], "ok");
    assert!(
        !answer.text.contains(&missing),
        "the table's name is not shown: {}",
        answer.text
    );
}

#[tokio::test]
async fn health_is_503_naming_the_queue_when_it_is_missing() {
    let missing = format!(
        "{}/123456789012/{}",
        env("AWS_ENDPOINT_URL"),
        stand_in("ZOOM_EVENTS_QUEUE_URL", "missing")
    );
    let watch = ExtraWatch::start(&[("ZOOM_EVENTS_QUEUE_URL", &missing)], "/api/zoom/config").await;
    let body = send(client().get(format!("{}/api/zoom/health", watch.api)))
        .await
        .problem(503);
    assert_eq!(body["failed"], serde_json::json!(["queue"]), "{body}");
}

#[tokio::test]
async fn config_reports_settings_without_any_secret_value() {
    let answer = send(client().get(format!("{}/api/zoom/config", api()))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["client_id_configured"], true);
    assert_eq!(body["client_secret_configured"], true);
    assert_eq!(body["webhook_secret_configured"], true);
    assert_eq!(body["oauth_mode"], "user");
    assert!(
        body["redirect_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/api/auth/zoom/callback"))
    );
    assert!(
        body["required_scopes"]["classic"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    for secret in [
        "ZOOM_CLIENT_SECRET",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
        "API_JWT_SECRET",
    ] {
        let value = env(secret);
        assert!(
            !answer.text.contains(&value),
            "{secret}'s value leaked into /config"
        );
    }
}

#[tokio::test]
async fn unknown_path_on_the_function_is_a_404_problem() {
    // cargo lambda watch's /lambda-url/<function>/<path> hands any path to the function.
    let answer = send(client().get(format!(
        "{}/lambda-url/zoom-health/api/zoom/nothing-here",
        api()
    )))
    .await;
    let body = answer.problem(404);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("/api/zoom/nothing-here"))
    );
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    for (method, path) in [
        (reqwest::Method::POST, "/api/zoom/health"),
        (reqwest::Method::DELETE, "/api/zoom/config"),
    ] {
        let answer = send(client().request(method, format!("{}{path}", api()))).await;
        answer.problem(405);
        assert_eq!(answer.header("allow"), Some("GET"));
    }
}

#[tokio::test]
async fn hostile_paths_get_problems_not_crashes() {
    let long = "a".repeat(4000);
    for path in [
        format!("/lambda-url/zoom-health/api/zoom/health/{long}"),
        "/lambda-url/zoom-health/api/zoom/%FF%FE".to_owned(),
        "/lambda-url/zoom-health/api/zoom/health/..%2F..%2Fetc%2Fpasswd".to_owned(),
    ] {
        let answer = send(client().get(format!("{}{path}", api()))).await;
        let body = answer.problem(404);
        assert!(
            body["detail"].as_str().is_some_and(|d| d.len() < 400),
            "detail is bounded: {body}"
        );
    }
}
