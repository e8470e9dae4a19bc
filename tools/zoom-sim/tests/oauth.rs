//! The simulator's OAuth: rotation, PKCE, single-use codes, client authentication, revoke.

mod support;

use serde_json::Value;
use support::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_the_old_one_dies_at_once() {
    let sim = start(|_| {}).await;
    let first = connect(&sim).await;
    let old = first["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, second) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    )
    .await;
    assert_eq!(status, 200);
    let new = second["refresh_token"]
        .as_str()
        .expect("new refresh")
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(
        get(
            &sim,
            second["access_token"].as_str().expect("at"),
            "/v2/users/me"
        )
        .await
        .status(),
        200
    );

    let (status, body) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &new)],
    )
    .await;
    assert_eq!(status, 200, "the new one works");
    let stats = sim.sim.state().world.stats.clone();
    assert_eq!((stats.tokens_refreshed, stats.invalid_grant), (2, 1));
}

#[tokio::test]
async fn pkce_mismatch_is_rejected() {
    let sim = start(|_| {}).await;
    let query = authorize(
        &sim,
        Some("the-right-verifier-the-right-verifier-0123456"),
        "s",
    )
    .await;
    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "a-wrong-verifier"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let query = authorize(
        &sim,
        Some("v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v-v"),
        "s",
    )
    .await;
    let (status, _) = token_request(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 400, "a missing verifier fails too");
}

#[tokio::test]
async fn codes_are_single_use_and_state_comes_back_untouched() {
    let sim = start(|_| {}).await;
    let state = "a b&c=d/é+%";
    let query = authorize(&sim, None, state).await;
    assert_eq!(query["state"], state);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", query["code"].as_str()),
        ("redirect_uri", REDIRECT),
    ];
    assert_eq!(token_request(&sim, &form).await.0, 200);
    let (status, body) = token_request(&sim, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn codes_expire() {
    let sim = start(|c| c.code_ttl_secs = 0).await;
    let query = authorize(&sim, None, "s").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = token_request(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn authorize_checks_client_and_exact_redirect_uri() {
    let sim = start(|_| {}).await;
    for query in [
        "response_type=code&client_id=wrong&redirect_uri=http%3A%2F%2Flocalhost%3A9000%2Fapi%2Fauth%2Fzoom%2Fcallback",
        "response_type=code&client_id=sim-client-id&redirect_uri=http%3A%2F%2Fevil.example%2Fcb",
        "response_type=code&client_id=sim-client-id&redirect_uri=http%3A%2F%2Flocalhost%3A9000%2Fapi%2Fauth%2Fzoom%2Fcallback%2F",
    ] {
        let response = client()
            .get(format!("{}/oauth/authorize?{query}", sim.url()))
            .send()
            .await
            .expect("authorize");
        assert_eq!(response.status(), 400, "{query}");
    }
    let response = client()
        .get(format!("{}/oauth/authorize?response_type=token&client_id=sim-client-id&redirect_uri={}&state=x", sim.url(), urlencode(REDIRECT)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 302);
    assert!(
        response.headers()["location"]
            .to_str()
            .expect("loc")
            .contains("error=unsupported_response_type")
    );
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn client_authentication_is_http_basic() {
    let sim = start(|_| {}).await;
    let response = client()
        .post(format!("{}/oauth/token", sim.url()))
        .form(&[("grant_type", "account_credentials"), ("account_id", "x")])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn account_credentials_issue_an_access_token_without_refresh() {
    let sim = start(|_| {}).await;
    let account = sim.sim.state().world.account_id.clone();
    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "account_credentials"),
            ("account_id", &account),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["refresh_token"].is_null());
    assert_eq!(body["api_url"], sim.url());
    assert_eq!(
        get(
            &sim,
            body["access_token"].as_str().expect("at"),
            "/v2/users?page_size=1"
        )
        .await
        .status(),
        200
    );
    let (status, _) = token_request(
        &sim,
        &[
            ("grant_type", "account_credentials"),
            ("account_id", "another"),
        ],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn revoke_invalidates_the_grant() {
    let sim = start(|_| {}).await;
    let tokens = connect(&sim).await;
    let access = tokens["access_token"].as_str().expect("at");
    let refresh = tokens["refresh_token"].as_str().expect("rt");
    let response = client()
        .post(format!("{}/oauth/revoke", sim.url()))
        .header("authorization", basic(&sim))
        .form(&[("token", access)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), 200);
    let answer = get(&sim, access, "/v2/users/me").await;
    assert_eq!(answer.status(), 401);
    assert_eq!(answer.json::<Value>().await.expect("json")["code"], 124);
    let (status, _) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(sim.sim.state().world.stats.revocations, 1);
}
