//! `zoom-auth` end to end: cargo lambda watch, moto server and the Zoom simulator.

use serde_json::{Value, json};
use zoom_e2e::*;

async fn status(api: &str, tenant: &str, verify: bool) -> Answer {
    let url = format!(
        "{api}/api/zoom/connection-status{}",
        if verify { "?verify=true" } else { "" }
    );
    send(client().get(url).bearer_auth(jwt(tenant))).await
}

/// Starts a flow and returns (authorize_url, state).
async fn start_flow(api: &str, tenant: &str) -> (String, String) {
    let (url, state, _) = start_flow_in_browser(api, tenant).await;
    (url, state)
}

/// Starts a flow and returns (authorize_url, state, the browser's binding cookie).
async fn start_flow_in_browser(api: &str, tenant: &str) -> (String, String, String) {
    let answer = send(
        client()
            .get(format!("{api}/api/zoom/auth/authorize"))
            .bearer_auth(jwt(tenant)),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let url = answer.json()["authorize_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let state = query_param(&url, "state").expect("state in the authorize URL");
    (url, state, browser_cookie(&answer))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Follows the authorize URL at the simulator and returns the code it issued.
async fn code_for(authorize_url: &str) -> String {
    let answer = send(client().get(authorize_url)).await;
    assert_eq!(answer.status, 302, "{}", answer.text);
    query_param(answer.header("location").expect("location"), "code").expect("code")
}

async fn api_callback(api: &str, tenant: &str, body: Value) -> Answer {
    send(
        client()
            .post(format!("{api}/api/zoom/auth/callback"))
            .bearer_auth(jwt(tenant))
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn browser_flow_connects_and_status_reports_it() {
    let tenant = unique("browser");
    let landed = connect(&api(), &tenant).await;
    assert!(landed.ends_with("?zoom=connected"), "{landed}");
    assert!(
        !landed.contains("code=") && !landed.contains("token"),
        "no secret in the app URL"
    );
    let body = status(&api(), &tenant, false).await.json();
    assert_eq!(body["connected"], true, "{body}");
    assert_eq!(body["needs_reauth"], false);
    let account: Value = send(client().get(format!("{}/_sim/account", env("ZOOM_SIM_URL"))))
        .await
        .json();
    assert_eq!(body["zoom_user_id"], account["authorizing_user"]["id"]);
    assert_eq!(body["zoom_account_id"], account["account_id"]);
    assert_eq!(body["email"], account["authorizing_user"]["email"]);
    assert!(body["scopes"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(body["token_expires_at"].is_string() && body["connected_at"].is_string());
    let verified = status(&api(), &tenant, true).await;
    assert_eq!(verified.json()["verified"]["ok"], true, "{}", verified.text);
}

#[tokio::test]
async fn authorize_answers_json_or_a_redirect_with_pkce_and_state() {
    let tenant = unique("authorize");
    let (url, state) = start_flow(&api(), &tenant).await;
    assert!(url.starts_with(&format!("{}/oauth/authorize?", env("ZOOM_OAUTH_BASE_URL"))));
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(&url, "code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(state.len() >= 22, "at least 128 random bits");
    let redirect = send(
        client()
            .get(format!("{}/api/zoom/auth/authorize?redirect=true", api()))
            .bearer_auth(jwt(&tenant)),
    )
    .await;
    assert_eq!(redirect.status, 302);
    assert!(
        redirect
            .header("location")
            .is_some_and(|l| l.contains("/oauth/authorize?"))
    );
    let bad = send(
        client()
            .get(format!("{}/api/zoom/auth/authorize?redirect=maybe", api()))
            .bearer_auth(jwt(&tenant)),
    )
    .await;
    assert_eq!(bad.problem(400)["errors"][0]["field"], "redirect");
}

#[tokio::test]
async fn every_jwt_route_refuses_missing_and_bad_tokens() {
    for (method, path) in [
        (reqwest::Method::GET, "/api/zoom/auth/authorize"),
        (reqwest::Method::POST, "/api/zoom/auth/callback"),
        (reqwest::Method::POST, "/api/zoom/auth/disconnect"),
        (reqwest::Method::GET, "/api/zoom/connection-status"),
    ] {
        let none = send(client().request(method.clone(), format!("{}{path}", api()))).await;
        none.problem(401);
        let bad = send(
            client()
                .request(method.clone(), format!("{}{path}", api()))
                .bearer_auth("not.a.jwt"),
        )
        .await;
        bad.problem(401);
    }
}

/// Login CSRF (RFC 6749 §10.12): tenant M starts a flow and sends its authorize URL to someone
/// else, who approves it in their own browser. That browser does not hold M's cookie, so the
/// callback connects nobody, and the state stays for M's browser.
#[tokio::test]
async fn an_authorize_url_completed_in_another_browser_connects_nobody() {
    let mallory = unique("mallory");
    let (url, _state, mallory_cookie) = start_flow_in_browser(&api(), &mallory).await;
    let at_zoom = send(client().get(&url)).await;
    assert_eq!(at_zoom.status, 302, "{}", at_zoom.text);
    let callback = at_zoom.header("location").expect("callback").to_owned();
    // The victim's browser: no cookie at all, or the cookie of a flow of its own.
    let (_, _, victims_own_cookie) = start_flow_in_browser(&api(), &unique("victim")).await;
    for cookie in [None, Some(victims_own_cookie)] {
        let mut request = client().get(&callback);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let landed = send(request).await;
        assert_eq!(landed.status, 302);
        assert!(
            landed
                .header("location")
                .is_some_and(|l| l.ends_with("zoom=error&reason=invalid_state")),
            "{:?}",
            landed.header("location")
        );
    }
    assert_eq!(
        status(&api(), &mallory, false).await.json()["connected"],
        false,
        "nobody was connected to the tenant that started the flow"
    );
    // The failed attempts did not burn the state: the browser that started the flow can still
    // finish it.
    let landed = send(client().get(&callback).header("cookie", mallory_cookie)).await;
    assert!(
        landed
            .header("location")
            .is_some_and(|l| l.ends_with("?zoom=connected")),
        "{:?}",
        landed.header("location")
    );
}

#[tokio::test]
async fn pkce_is_checked_by_the_exchange() {
    let tenant = unique("pkce");
    let (url, state, cookie) = start_flow_in_browser(&api(), &tenant).await;
    // A code obtained with another challenge (as an attacker who swapped the flow would have).
    let mut forged = reqwest::Url::parse(&url).expect("url");
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            if k == "code_challenge" {
                (k.into_owned(), "A".repeat(43))
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let code = code_for(forged.as_str()).await;
    let callback = format!(
        "{}/api/auth/zoom/callback?code={code}&state={}",
        api(),
        urlencode(&state)
    );
    let landed = send(client().get(callback).header("cookie", cookie)).await;
    assert_eq!(landed.status, 302);
    assert!(
        landed
            .header("location")
            .is_some_and(|l| l.ends_with("zoom=error&reason=exchange_failed")),
        "{:?}",
        landed.header("location")
    );
    assert_eq!(
        status(&api(), &tenant, false).await.json()["connected"],
        false
    );
}

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", s)])
        .expect("url")
        .query()
        .expect("q")[2..]
        .to_owned()
}

#[tokio::test]
async fn state_reuse_tampering_and_cross_tenant_use_are_400() {
    let tenant = unique("state");
    let (url, state) = start_flow(&api(), &tenant).await;
    let code = code_for(&url).await;

    let mut tampered = state.clone();
    tampered.replace_range(0..1, if state.starts_with('A') { "B" } else { "A" });
    api_callback(&api(), &tenant, json!({"code": code, "state": tampered}))
        .await
        .problem(400);

    // Another tenant cannot use it, and its attempt does not burn it.
    api_callback(
        &api(),
        &unique("intruder"),
        json!({"code": code, "state": state}),
    )
    .await
    .problem(400);

    let ok = api_callback(&api(), &tenant, json!({"code": code, "state": state})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["connected"], true);
    api_callback(&api(), &tenant, json!({"code": code, "state": state}))
        .await
        .problem(400);
}

#[tokio::test]
async fn an_api_callback_retried_with_its_idempotency_key_replays_the_connection() {
    let tenant = unique("cbkey");
    let (url, state) = start_flow(&api(), &tenant).await;
    let code = code_for(&url).await;
    let body = json!({"code": code, "state": state});
    let call = |key: Option<&'static str>| {
        let mut request = client()
            .post(format!("{}/api/zoom/auth/callback", api()))
            .bearer_auth(jwt(&tenant))
            .json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        send(request)
    };
    let first = call(Some("connect-1")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let retry = call(Some("connect-1")).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.json(), first.json(), "the lost answer is replayed");
    // Without the key, a second use of the code and state is refused.
    call(None).await.problem(400);
}

#[tokio::test]
async fn an_expired_state_is_400() {
    let watch = ExtraWatch::start(&[("ZOOM_OAUTH_STATE_TTL_SECS", "1")], "/api/zoom/health").await;
    let tenant = unique("expiry");
    let (url, state) = start_flow(&watch.api, &tenant).await;
    let code = code_for(&url).await;
    // The state lives 1 s (whole seconds); wait on the wall clock until it is 2 s older, which
    // no machine speed changes.
    let issued = std::time::SystemTime::now();
    while issued.elapsed().map(|e| e.as_millis()).unwrap_or(0) < 2100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    api_callback(&watch.api, &tenant, json!({"code": code, "state": state}))
        .await
        .problem(400);
}

#[tokio::test]
async fn a_refused_code_is_502_with_zoom_reason_and_no_secret() {
    let tenant = unique("badcode");
    let (_, state) = start_flow(&api(), &tenant).await;
    let answer = api_callback(
        &api(),
        &tenant,
        json!({"code": "not-a-real-code", "state": state}),
    )
    .await;
    let body = answer.problem(502);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Invalid authorization code")),
        "{body}"
    );
    for secret in ["ZOOM_CLIENT_SECRET", "API_JWT_SECRET", "ZOOM_TOKEN_KEYS"] {
        assert!(!answer.text.contains(&env(secret)));
    }
    assert!(
        !answer.text.contains("not-a-real-code"),
        "the code is not echoed"
    );
}

#[tokio::test]
async fn callback_body_is_validated() {
    let tenant = unique("validate");
    let url = format!("{}/api/zoom/auth/callback", api());
    let post = |body: String, content_type: &'static str| {
        let url = url.clone();
        let token = jwt(&tenant);
        async move {
            send(
                client()
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", content_type)
                    .body(body),
            )
            .await
        }
    };
    post("{".into(), "application/json").await.problem(400);
    post("code=x".into(), "application/x-www-form-urlencoded")
        .await
        .problem(415);
    post(
        format!("{{\"code\":\"{}\",\"state\":\"s\"}}", "x".repeat(20_000)),
        "application/json",
    )
    .await
    .problem(413);
    let missing = post("{}".into(), "application/json").await.problem(400);
    let fields: Vec<&str> = missing["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["code", "state"]);
    let typed = post(r#"{"code": 42, "state": ["s"]}"#.into(), "application/json")
        .await
        .problem(400);
    assert_eq!(typed["errors"][0]["message"], "must be a string");
    post(
        r#"{"code": "c", "state": "s", "tenant": "someone-else"}"#.into(),
        "application/json",
    )
    .await
    .problem(400);
    post(
        format!("{{\"code\":\"c\",\"state\":\"{}\"}}", "s".repeat(3000)),
        "application/json",
    )
    .await
    .problem(400);
}

#[tokio::test]
async fn browser_callback_errors_go_back_to_the_app_with_a_short_code() {
    for (query, reason) in [
        ("error=access_denied&state=whatever", "access_denied"),
        ("code=abc", "invalid_request"),
        ("code=abc&state=never-issued", "invalid_state"),
    ] {
        let answer = send(client().get(format!("{}/api/auth/zoom/callback?{query}", api()))).await;
        assert_eq!(answer.status, 302);
        let location = answer.header("location").expect("location");
        assert!(
            location.ends_with(&format!("zoom=error&reason={reason}")),
            "{location}"
        );
    }
}

#[tokio::test]
async fn status_of_a_tenant_that_never_connected() {
    let body = status(&api(), &unique("never"), false).await.json();
    assert_eq!(body["connected"], false);
    let answer = status(&api(), &unique("never"), true).await;
    assert_eq!(
        answer.status, 200,
        "verify on nothing is not an error: {}",
        answer.text
    );
    let bad = send(
        client()
            .get(format!("{}/api/zoom/connection-status?verify=yes", api()))
            .bearer_auth(jwt("x")),
    )
    .await;
    bad.problem(400);
}
