//! Fault injection through `/_sim/faults`: each kind.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

async fn inject(sim: &zoom_sim::Running, fault: Value) {
    let response = client()
        .post(format!("{}/_sim/faults", sim.url()))
        .json(&fault)
        .send()
        .await
        .expect("inject");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn status_faults_hit_the_next_n_requests_of_a_path() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    inject(
        &sim,
        json!({"kind": "500", "path": "/v2/users", "count": 2}),
    )
    .await;
    assert_eq!(
        get(&sim, &token, "/v2/meetings/1").await.status(),
        404,
        "other paths are untouched"
    );
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 500);
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 500);
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 200);
    inject(&sim, json!({"kind": "503", "count": 1})).await;
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 503);
    inject(&sim, json!({"kind": "429", "count": 1, "retry_after": 3})).await;
    let limited = get(&sim, &token, "/v2/users/me").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    inject(&sim, json!({"kind": "429", "count": 1, "daily": true})).await;
    let daily = get(&sim, &token, "/v2/users/me").await;
    assert_eq!(daily.headers()["x-ratelimit-type"], "Daily-limit");
    assert_eq!(sim.sim.state().world.stats.faults_injected, 5);
}

#[tokio::test]
async fn hang_outlasts_a_client_timeout() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    inject(&sim, json!({"kind": "hang", "count": 1, "hang_ms": 60000})).await;
    let started = Instant::now();
    let result = client()
        .get(format!("{}/v2/users/me", sim.url()))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_timeout()));
    // The client gave up at its own timeout, long before the hang would have ended.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn drop_answer_does_the_work_then_answers_nothing() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let before = sim.sim.state().world.meetings.len();
    inject(
        &sim,
        json!({"kind": "drop_answer", "method": "POST", "path": "/v2/users", "count": 1}),
    )
    .await;
    let result = client()
        .post(format!("{}/v2/users/me/meetings", sim.url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "lost answer", "type": 2}))
        .send()
        .await;
    assert!(result.is_err(), "no HTTP answer: {result:?}");
    assert_eq!(
        sim.sim.state().world.meetings.len(),
        before + 1,
        "the meeting was created all the same"
    );
}

#[tokio::test]
async fn close_drops_the_connection_without_an_answer() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    inject(
        &sim,
        json!({"kind": "close", "count": 1, "path": "/oauth/token"}),
    )
    .await;
    let result = client()
        .post(format!("{}/oauth/token", sim.url()))
        .header("authorization", basic(&sim))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await;
    assert!(result.is_err(), "no HTTP answer: {result:?}");
    assert_eq!(
        get(&sim, &token, "/v2/users/me").await.status(),
        200,
        "later requests are served"
    );
}

#[tokio::test]
async fn latency_delays_a_normal_answer() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    inject(
        &sim,
        json!({"kind": "latency", "count": 1, "latency_ms": 400}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn faults_are_listed_and_cleared() {
    let sim = start(|_| {}).await;
    inject(&sim, json!({"kind": "500"})).await;
    let listed: Value = client()
        .get(format!("{}/_sim/faults", sim.url()))
        .send()
        .await
        .expect("l")
        .json()
        .await
        .expect("j");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    client()
        .delete(format!("{}/_sim/faults", sim.url()))
        .send()
        .await
        .expect("clear");
    let token = access_token(&sim).await;
    assert_eq!(get(&sim, &token, "/v2/users/me").await.status(), 200);
    let bad = client()
        .post(format!("{}/_sim/faults", sim.url()))
        .json(&json!({"kind": "explode"}))
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), 400);
}
