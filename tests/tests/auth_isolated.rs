//! `zoom-auth` against a simulator and functions of the test's own, where counts at the
//! simulator must be exact.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use zoom_e2e::*;

async fn verify(api: &str, tenant: &str) -> Answer {
    send(
        client()
            .get(format!("{api}/api/zoom/connection-status?verify=true"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

/// Every credential the simulator issued.
async fn issued(sim: &SimProcess) -> Vec<String> {
    let tokens = sim.get("tokens").await;
    ["access_tokens", "refresh_tokens", "codes"]
        .iter()
        .flat_map(|k| tokens[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn fifty_concurrent_calls_in_four_processes_refresh_once() {
    // Business plan: 80 Light calls per second, so the simulator's rate limit stays out of it.
    let env = isolated_with(&[("ZOOM_SIM_PLAN", "business")], &[], 4).await;
    let tenant = unique("concurrent");
    assert!(
        connect(&env.watch.api, &tenant)
            .await
            .ends_with("zoom=connected")
    );
    env.sim.post("tokens/expire", json!({"all": true})).await;

    let calls = (0..50).map(|_| {
        let api = env.watch.api.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move { verify(&api, &tenant).await })
    });
    let answers = futures_join(calls.collect()).await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.json()["verified"]["ok"], true);
    }
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["tokens_refreshed"], 1, "{stats}");
    assert_eq!(stats["invalid_grant"], 0, "{stats}");

    let logs = env.watch.logs();
    let processes: BTreeSet<&str> = logs
        .lines()
        .filter(|l| l.contains("spawning function instance") && l.contains("zoom-auth"))
        .filter_map(|l| l.split("instance_id=").nth(1))
        .collect();
    assert!(
        processes.len() >= 4,
        "calls were served by {} zoom-auth processes",
        processes.len()
    );

    // No credential, and no secret, in any log line of the run.
    let mut secrets = issued(&env.sim).await;
    secrets.extend(
        ["ZOOM_CLIENT_SECRET", "ZOOM_TOKEN_KEYS", "API_JWT_SECRET"]
            .iter()
            .map(|v| zoom_e2e::env(v)),
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a credential reached the logs"
        );
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Answer>>) -> Vec<Answer> {
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("task"));
    }
    answers
}

#[tokio::test]
async fn a_revoked_refresh_token_leads_to_needs_reauth() {
    let env = isolated(&[], 1).await;
    let tenant = unique("revoked");
    connect(&env.watch.api, &tenant).await;
    env.sim.post("tokens/revoke", json!({"all": true})).await;
    // On a loaded machine the first call may spend so much of its budget before Zoom's 401
    // that no refresh can start safely: it answers 503 to retry, and the retry refreshes
    // first. Either way Zoom sees exactly one refresh attempt.
    let mut answer = verify(&env.watch.api, &tenant).await;
    for _ in 0..3 {
        if answer.status != 503 {
            break;
        }
        assert_eq!(
            answer.json()["type"],
            "urn:problem:zoom-connector:dependency-unavailable"
        );
        answer = verify(&env.watch.api, &tenant).await;
    }
    let body = answer.problem(401);
    assert_eq!(body["reauth_url"], "/api/zoom/auth/authorize");
    assert_eq!(body["needs_reauth"], true);
    let status: Value = send(
        client()
            .get(format!("{}/api/zoom/connection-status", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await
    .json();
    assert_eq!(
        (status["connected"].clone(), status["needs_reauth"].clone()),
        (json!(false), json!(true))
    );
    let stats = env.sim.get("stats").await;
    assert_eq!(
        stats["invalid_grant"], 1,
        "one refresh attempt, then no more: {stats}"
    );
    // Still needs_reauth on later calls, with no further refresh attempt.
    let later = verify(&env.watch.api, &tenant).await;
    assert_eq!(
        (later.status, later.json()["needs_reauth"].clone()),
        (200, json!(true))
    );
    assert_eq!(env.sim.get("stats").await["invalid_grant"], 1);
}

#[tokio::test]
async fn a_token_rejected_too_late_to_refresh_safely_is_refreshed_first_by_the_retry() {
    let env = isolated(&[], 1).await;
    let tenant = unique("late401");
    connect(&env.watch.api, &tenant).await;
    env.sim.post("tokens/revoke", json!({"all": true})).await;
    // Zoom takes 3 s to answer each of the next two calls with the dead token: then less
    // than the 6 s answer, 1.5 s store and 0.7 s margin a refresh needs is left of the 10 s
    // (however fast the machine), so none is started.
    env.sim
        .post(
            "faults",
            json!({"kind": "latency", "latency_ms": 3000, "path": "/v2/users/", "count": 2}),
        )
        .await;
    let first = verify(&env.watch.api, &tenant).await;
    assert_eq!(
        first.problem(503)["type"],
        "urn:problem:zoom-connector:dependency-unavailable"
    );
    assert_eq!(
        env.sim.get("stats").await["invalid_grant"],
        0,
        "no refresh yet"
    );
    // The retry refreshes before it calls Zoom (the rejection was recorded), so it never
    // meets the second slow answer, and learns at once that the grant is gone.
    let retry = verify(&env.watch.api, &tenant).await;
    assert_eq!(retry.problem(401)["needs_reauth"], true);
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["invalid_grant"], 1, "{stats}");
    assert_eq!(
        stats["faults_injected"], 1,
        "the retry did not call Zoom with the dead token: {stats}"
    );
}

#[tokio::test]
async fn disconnect_revokes_at_zoom_and_removes_every_item_of_the_tenant() {
    let env = isolated(&[], 1).await;
    let tenant = unique("disconnect");
    connect(&env.watch.api, &tenant).await;
    assert!(scan_table().await.iter().any(|item| item.contains(&tenant)));

    let answer = send(
        client()
            .post(format!("{}/api/zoom/auth/disconnect", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert_eq!(
        (
            body["was_connected"].clone(),
            body["revoked_at_zoom"].clone()
        ),
        (json!(true), json!(true))
    );
    assert_eq!(env.sim.get("stats").await["revocations"], 1);
    for token in env.sim.get("tokens").await["access_tokens"]
        .as_array()
        .expect("tokens")
    {
        let at_zoom = send(
            client()
                .get(format!("{}/v2/users/me", env.sim.url))
                .bearer_auth(token.as_str().expect("t")),
        )
        .await;
        assert_eq!(at_zoom.status, 401, "revoked at the simulator");
    }
    assert!(
        !scan_table().await.iter().any(|item| item.contains(&tenant)),
        "no item of the tenant is left"
    );
    let status: Value = send(
        client()
            .get(format!("{}/api/zoom/connection-status", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await
    .json();
    assert_eq!(status["connected"], false);

    let again = send(
        client()
            .post(format!("{}/api/zoom/auth/disconnect", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["was_connected"], false);
}

#[tokio::test]
async fn a_failed_revocation_still_removes_our_copy_and_says_so() {
    let env = isolated(&[], 1).await;
    let tenant = unique("revokefail");
    connect(&env.watch.api, &tenant).await;
    env.sim
        .post("faults", json!({"kind": "503", "path": "/oauth/revoke"}))
        .await;
    let body = send(
        client()
            .post(format!("{}/api/zoom/auth/disconnect", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await
    .json();
    assert_eq!(body["revoked_at_zoom"], false);
    assert!(body["revoke_error"].is_string());
    assert!(!scan_table().await.iter().any(|item| item.contains(&tenant)));
}

#[tokio::test]
async fn no_plaintext_token_is_stored_and_ciphertexts_do_not_move_between_tenants() {
    let env = isolated(&[], 1).await;
    let tenant = unique("vault");
    connect(&env.watch.api, &tenant).await;
    let items = scan_table().await;
    for credential in issued(&env.sim).await {
        assert!(
            !items.iter().any(|item| item.contains(&credential)),
            "a plaintext credential is in the table"
        );
    }

    // Copy the connection item to another tenant: its ciphertexts must not open there.
    let (dynamo, table) = dynamodb().await;
    let item = dynamo
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{tenant}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CONNECTION".into()),
        )
        .send()
        .await
        .expect("get")
        .item()
        .cloned()
        .expect("connection item");
    let thief = unique("thief");
    let mut copy = item.clone();
    copy.insert(
        "pk".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{thief}")),
    );
    copy.insert(
        "tenant_id".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(thief.clone()),
    );
    dynamo
        .put_item()
        .table_name(&table)
        .set_item(Some(copy))
        .send()
        .await
        .expect("put");
    verify(&env.watch.api, &thief).await.problem(401);
    assert_eq!(
        verify(&env.watch.api, &tenant).await.status,
        200,
        "the owner is unaffected"
    );
}

#[tokio::test]
async fn server_to_server_mode_uses_account_credentials() {
    let account: Value =
        send(client().get(format!("{}/_sim/account", zoom_e2e::env("ZOOM_SIM_URL"))))
            .await
            .json();
    let account_id = account["account_id"].as_str().expect("account").to_owned();
    // The main simulator's seed, so the account id matches.
    let env = isolated_with(
        &[("ZOOM_SIM_SEED", "42")],
        &[("ZOOM_ACCOUNT_ID", &account_id)],
        1,
    )
    .await;
    let tenant = unique("s2s");
    // A Server-to-Server tenant is bound by its JWT (here: the account-wide role).
    let status = |tenant: &str| {
        send(
            client()
                .get(format!(
                    "{}/api/zoom/connection-status?verify=true",
                    env.watch.api
                ))
                .bearer_auth(jwt_with(tenant, json!({"zoom_scope": "account"}))),
        )
    };
    let answer = status(&tenant).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["oauth_mode"], "server_to_server");
    assert_eq!(body["reach"], "account");
    assert_eq!(body["verified"]["ok"], true);
    // Cached and shared: a second tenant's call asks Zoom for no new token.
    status(&unique("s2s-other")).await;
    assert_eq!(env.sim.get("stats").await["tokens_issued"], 1);
    // A JWT that names no binding is refused with the reason.
    let unbound = verify(&env.watch.api, &unique("s2s-unbound")).await;
    assert!(
        unbound.problem(403)["detail"]
            .as_str()
            .is_some_and(|d| d.contains("zoom_user"))
    );
    let authorize = send(
        client()
            .get(format!("{}/api/zoom/auth/authorize", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await;
    authorize.problem(409);
}
