//! The simulator's REST behaviour: auth, pagination, validation, rate limits, UUID encoding.

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn missing_expired_and_revoked_tokens_are_zoom_401s() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let none = client()
        .get(format!("{}/v2/users/me", sim.url()))
        .send()
        .await
        .expect("r");
    assert_eq!(none.status(), 401);
    assert_eq!(none.json::<Value>().await.expect("j")["code"], 124);
    client()
        .post(format!("{}/_sim/tokens/expire", sim.url()))
        .json(&json!({"token": token}))
        .send()
        .await
        .expect("expire");
    let expired = get(&sim, &token, "/v2/users/me").await;
    assert_eq!(expired.status(), 401);
    assert_eq!(
        expired.json::<Value>().await.expect("j")["message"],
        "Access token is expired."
    );
    let other = access_token(&sim).await;
    client()
        .post(format!("{}/_sim/tokens/revoke", sim.url()))
        .json(&json!({"token": other}))
        .send()
        .await
        .expect("revoke");
    assert_eq!(get(&sim, &other, "/v2/users/me").await.status(), 401);
}

#[tokio::test]
async fn short_access_token_lifetime_is_configurable() {
    let sim = start(|c| c.access_token_ttl_secs = 1).await;
    let token = access_token(&sim).await;
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 401);
}

#[tokio::test]
async fn pagination_over_2500_users_returns_each_exactly_once() {
    let sim = start(|c| {
        c.users = 2500;
        c.plan = zoom_sim::config::Plan::Business;
    })
    .await;
    let token = access_token(&sim).await;
    let mut seen = HashSet::new();
    let mut total = 0;
    for status in ["active", "inactive", "pending"] {
        let mut next = String::new();
        loop {
            let page: Value = get(
                &sim,
                &token,
                &format!("/v2/users?status={status}&page_size=300&next_page_token={next}"),
            )
            .await
            .json()
            .await
            .expect("page");
            for user in page["users"].as_array().expect("users") {
                assert_eq!(user["status"], status);
                assert!(
                    seen.insert(user["id"].as_str().expect("id").to_owned()),
                    "duplicate user"
                );
                total += 1;
            }
            next = page["next_page_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if next.is_empty() {
                break;
            }
        }
    }
    assert_eq!((seen.len(), total), (2500, 2500));
}

#[tokio::test]
async fn forged_page_tokens_and_bad_page_sizes_are_rejected() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    for query in ["next_page_token=forged", "page_size=abc", "page_size=0"] {
        let answer = get(&sim, &token, &format!("/v2/users?{query}")).await;
        assert_eq!(answer.status(), 400, "{query}");
        assert_eq!(answer.json::<Value>().await.expect("j")["code"], 300);
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_zoom_headers() {
    let sim = start(|c| c.plan = zoom_sim::config::Plan::Free).await;
    let token = access_token(&sim).await;
    // Free plan: Medium is 2 per second.
    let first = get(&sim, &token, "/v2/users").await;
    assert_eq!(first.headers()["x-ratelimit-category"], "Medium");
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    get(&sim, &token, "/v2/users").await;
    let limited = get(&sim, &token, "/v2/users").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-ratelimit-type"], "QPS");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .expect("ra")
            .parse::<u64>()
            .expect("seconds")
            >= 1
    );
    assert_eq!(limited.json::<Value>().await.expect("j")["code"], 429);
    // Another label has its own window.
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 200);
}

#[tokio::test]
async fn daily_meeting_write_limit_per_host() {
    let sim = start(|c| c.daily_meeting_writes = 2).await;
    let token = access_token(&sim).await;
    let create = || {
        client()
            .post(format!("{}/v2/users/me/meetings", sim.url()))
            .bearer_auth(&token)
            .json(&json!({"topic": "t", "duration": 30}))
            .send()
    };
    assert_eq!(create().await.expect("1").status(), 201);
    assert_eq!(create().await.expect("2").status(), 201);
    let limited = create().await.expect("3");
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-ratelimit-type"], "Daily-limit");
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .expect("ra")
            .ends_with("GMT")
    );
}

#[tokio::test]
async fn meeting_creation_is_validated_like_zoom() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    for (body, field) in [
        (json!({"topic": "x".repeat(201)}), "topic"),
        (json!({"type": 5}), "type"),
        (json!({"duration": -1}), "duration"),
        (json!({"duration": "long"}), "duration"),
        (json!({"password": "way-too-long-pass"}), "password"),
        (json!({"password": "bad pass"}), "password"),
        (json!({"start_time": "tomorrow"}), "start_time"),
        (json!({"agenda": "a".repeat(2001)}), "agenda"),
    ] {
        let answer = client()
            .post(format!("{}/v2/users/me/meetings", sim.url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(answer.status(), 400, "{body}");
        let body: Value = answer.json().await.expect("j");
        assert_eq!(body["code"], 300);
        assert_eq!(body["errors"][0]["field"], field);
    }
    let answer = client()
        .post(format!("{}/v2/users/me/meetings", sim.url()))
        .bearer_auth(&token)
        .body("not json")
        .send()
        .await
        .expect("c");
    assert_eq!(answer.status(), 400);
    let created: Value = client()
        .post(format!("{}/v2/users/me/meetings", sim.url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "Standup", "duration": 15, "timezone": "Europe/Paris", "agenda": "daily"}))
        .send()
        .await
        .expect("c")
        .json()
        .await
        .expect("j");
    for field in ["id", "uuid", "join_url", "start_url", "password"] {
        assert!(!created[field].is_null(), "{field} missing");
    }
}

#[tokio::test]
async fn unknown_meetings_and_users_use_zoom_codes() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let meeting = get(&sim, &token, "/v2/meetings/123").await;
    assert_eq!(meeting.status(), 404);
    assert_eq!(meeting.json::<Value>().await.expect("j")["code"], 3001);
    let user = get(&sim, &token, "/v2/users/nobody").await;
    assert_eq!(user.status(), 404);
    assert_eq!(user.json::<Value>().await.expect("j")["code"], 1001);
}

#[tokio::test]
async fn uuids_with_slashes_must_be_double_encoded() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let uuid = sim
        .sim
        .state()
        .world
        .past
        .keys()
        .find(|u| u.starts_with('/') && u.contains("//"))
        .cloned()
        .expect("a slashed uuid is seeded");
    let once = percent_encoding::utf8_percent_encode(&uuid, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let twice = percent_encoding::utf8_percent_encode(&once, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    assert_eq!(
        get(&sim, &token, &format!("/v2/past_meetings/{once}"))
            .await
            .status(),
        404
    );
    let ok = get(&sim, &token, &format!("/v2/past_meetings/{twice}")).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.expect("j")["uuid"], uuid);
}

#[tokio::test]
async fn recordings_range_is_at_most_one_month() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let too_long = get(
        &sim,
        &token,
        "/v2/users/me/recordings?from=2026-01-01&to=2026-02-15",
    )
    .await;
    assert_eq!(too_long.status(), 400);
    assert_eq!(too_long.json::<Value>().await.expect("j")["code"], 300);
    assert_eq!(
        get(
            &sim,
            &token,
            "/v2/users/me/recordings?from=2026-01-01&to=2026-02-01"
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        get(&sim, &token, "/v2/users/me/recordings?from=bad")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn reset_restores_the_seeded_account_and_counters() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let id = sim
        .sim
        .state()
        .world
        .meetings
        .keys()
        .next()
        .copied()
        .expect("a meeting");
    client()
        .delete(format!("{}/v2/meetings/{id}", sim.url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    let reset = client()
        .post(format!("{}/_sim/reset", sim.url()))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 200);
    assert!(sim.sim.state().world.meetings.contains_key(&id));
    assert_eq!(sim.sim.state().world.stats.tokens_issued, 0);
    assert_eq!(
        get(&sim, &token, "/v2/users/me").await.status(),
        401,
        "tokens do not survive a reset"
    );
}
