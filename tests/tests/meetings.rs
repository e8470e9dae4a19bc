//! `zoom-meetings` end to end.

use serde_json::{Value, json};
use zoom_e2e::*;

async fn create(api: &str, tenant: &str, body: Value) -> Answer {
    send(
        client()
            .post(format!("{api}/api/zoom/meetings"))
            .bearer_auth(jwt(tenant))
            .json(&body),
    )
    .await
}

async fn patch(api: &str, tenant: &str, id: i64, body: Value) -> Answer {
    send(
        client()
            .patch(format!("{api}/api/zoom/meetings/{id}"))
            .bearer_auth(jwt(tenant))
            .json(&body),
    )
    .await
}

async fn delete(api: &str, tenant: &str, id: i64) -> Answer {
    send(
        client()
            .delete(format!("{api}/api/zoom/meetings/{id}"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

async fn get(api: &str, tenant: &str, path: &str) -> Answer {
    send(
        client()
            .get(format!("{api}{path}"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

fn calls(stats: &Value, key: &str) -> u64 {
    stats["calls"][key].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn create_then_read_from_storage_with_zero_zoom_calls() {
    let env = isolated(&[], 1).await;
    let tenant = unique("meet");
    connect(&env.watch.api, &tenant).await;
    let created = create(
        &env.watch.api,
        &tenant,
        json!({"topic": "Standup", "duration": 15, "timezone": "Europe/Paris", "agenda": "daily"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let meeting = created.json();
    for field in [
        "id",
        "uuid",
        "topic",
        "start_time",
        "duration",
        "timezone",
        "join_url",
        "password",
        "agenda",
        "status",
    ] {
        assert!(!meeting[field].is_null(), "{field} missing: {meeting}");
    }
    assert_eq!(meeting["status"], "scheduled");
    assert!(
        meeting.get("start_url").is_none(),
        "start_url is never returned by default"
    );
    let id = meeting["id"].as_i64().expect("id");
    assert_eq!(
        created.header("location"),
        Some(format!("/api/zoom/meetings/{id}").as_str())
    );

    let before = env.sim.get("stats").await;
    let read = get(&env.watch.api, &tenant, &format!("/api/zoom/meetings/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["topic"], "Standup");
    let after = env.sim.get("stats").await;
    assert_eq!(
        before["calls"], after["calls"],
        "served from storage: zero Zoom calls"
    );

    let fresh = get(
        &env.watch.api,
        &tenant,
        &format!("/api/zoom/meetings/{id}?refresh=true&include_start_url=true"),
    )
    .await;
    assert_eq!(fresh.status, 200);
    assert!(
        fresh.json()["start_url"]
            .as_str()
            .is_some_and(|u| u.contains("/s/"))
    );
    assert_eq!(
        calls(&env.sim.get("stats").await, "GET /v2/meetings/{meetingId}"),
        calls(&after, "GET /v2/meetings/{meetingId}") + 1
    );
    assert!(
        !scan_table().await.iter().any(|item| item.contains("zak=")),
        "start_url is never stored"
    );

    let patched = patch(
        &env.watch.api,
        &tenant,
        id,
        json!({"topic": "Standup (moved)"}),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json()["topic"], "Standup (moved)");
    let deleted = delete(&env.watch.api, &tenant, id).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        get(&env.watch.api, &tenant, &format!("/api/zoom/meetings/{id}"))
            .await
            .json()["status"],
        "cancelled"
    );
}

#[tokio::test]
async fn each_validation_rule_is_a_400_naming_the_field() {
    let tenant = unique("validate");
    for (body, field) in [
        (json!({}), "topic"),
        (json!({"topic": "x".repeat(201)}), "topic"),
        (json!({"topic": "t", "duration": 0}), "duration"),
        (json!({"topic": "t", "duration": 1441}), "duration"),
        (json!({"topic": "t", "duration": "ten"}), "duration"),
        (json!({"topic": "t", "timezone": "Not/AZone"}), "timezone"),
        (
            json!({"topic": "t", "start_time": "next tuesday"}),
            "start_time",
        ),
        (
            json!({"topic": "t", "password": "much-too-long-1"}),
            "password",
        ),
        (json!({"topic": "t", "password": "has space"}), "password"),
        (json!({"topic": "t", "agenda": "a".repeat(2001)}), "agenda"),
        (json!({"topic": "t", "type": 99}), "type"),
        (json!({"topic": "t", "host_id": "someone-else"}), "host_id"),
    ] {
        let answer = create(&api(), &tenant, body.clone()).await;
        let problem = answer.problem(400);
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let url = format!("{}/api/zoom/meetings", api());
    send(
        client()
            .post(&url)
            .bearer_auth(jwt(&tenant))
            .header("content-type", "application/json")
            .body("{\"topic\":"),
    )
    .await
    .problem(400);
    send(
        client()
            .post(&url)
            .bearer_auth(jwt(&tenant))
            .header("content-type", "text/plain")
            .body("topic"),
    )
    .await
    .problem(415);
    send(
        client()
            .post(&url)
            .bearer_auth(jwt(&tenant))
            .json(&json!({"topic": "t", "agenda": "a".repeat(70_000)})),
    )
    .await
    .problem(413);
    for query in [
        "type=everything",
        "page_size=0",
        "page_size=301",
        "page_size=ten",
        "next_page_token=%3Cscript%3E",
        "user_id=..%2Fadmin",
        "refresh=maybe",
    ] {
        get(&api(), &tenant, &format!("/api/zoom/meetings?{query}"))
            .await
            .problem(400);
    }
    for id in ["abc", "-5", "1.5", "99999999999999999999999"] {
        get(&api(), &tenant, &format!("/api/zoom/meetings/{id}"))
            .await
            .problem(400);
    }
}

#[tokio::test]
async fn every_route_needs_a_caller_and_a_connection() {
    for (method, path) in [
        (reqwest::Method::GET, "/api/zoom/meetings"),
        (reqwest::Method::POST, "/api/zoom/meetings"),
        (reqwest::Method::GET, "/api/zoom/meetings/1"),
        (reqwest::Method::PATCH, "/api/zoom/meetings/1"),
        (reqwest::Method::DELETE, "/api/zoom/meetings/1"),
    ] {
        send(client().request(method.clone(), format!("{}{path}", api())))
            .await
            .problem(401);
    }
    get(&api(), &unique("never-connected"), "/api/zoom/meetings")
        .await
        .problem(409);
}

#[tokio::test]
async fn list_pages_through_zoom_and_stores_what_it_saw() {
    let tenant = unique("list");
    connect(&api(), &tenant).await;
    let first = get(&api(), &tenant, "/api/zoom/meetings?page_size=2").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let body = first.json();
    assert_eq!(body["meetings"].as_array().map(Vec::len), Some(2));
    let token = body["next_page_token"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let second = get(
        &api(),
        &tenant,
        &format!("/api/zoom/meetings?page_size=2&next_page_token={token}"),
    )
    .await
    .json();
    assert_ne!(second["meetings"][0]["id"], body["meetings"][0]["id"]);
    let upcoming = get(&api(), &tenant, "/api/zoom/meetings?type=upcoming").await;
    assert_eq!(upcoming.status, 200);
}

#[tokio::test]
async fn another_tenants_meeting_is_404() {
    let env = isolated(&[], 1).await;
    let owner = unique("owner");
    connect(&env.watch.api, &owner).await;
    let id = create(&env.watch.api, &owner, json!({"topic": "Private"}))
        .await
        .json()["id"]
        .as_i64()
        .expect("id");
    // The other tenant connects as another Zoom user of the account.
    env.sim.post("config", json!({"authorizing_user": 1})).await;
    let other = unique("other");
    connect(&env.watch.api, &other).await;
    get(&env.watch.api, &other, &format!("/api/zoom/meetings/{id}"))
        .await
        .problem(404);
    patch(&env.watch.api, &other, id, json!({"topic": "mine now"}))
        .await
        .problem(404);
    delete(&env.watch.api, &other, id).await.problem(404);
    assert_eq!(
        get(
            &env.watch.api,
            &owner,
            &format!("/api/zoom/meetings/{id}?refresh=true")
        )
        .await
        .json()["topic"],
        "Private"
    );
}

#[tokio::test]
async fn zoom_rate_limits_errors_and_hangs() {
    let env = isolated(&[], 1).await;
    let tenant = unique("faults");
    connect(&env.watch.api, &tenant).await;
    let key = "GET /v2/users/{userId}/meetings";

    // A 429 with Retry-After is waited out and retried.
    let before = calls(&env.sim.get("stats").await, key);
    env.sim
        .post(
            "faults",
            json!({"kind": "429", "path": "/v2/users/me/meetings", "count": 1, "retry_after": 1}),
        )
        .await;
    let answer = get(&env.watch.api, &tenant, "/api/zoom/meetings").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let stats = env.sim.get("stats").await;
    assert_eq!(
        calls(&stats, key) - before,
        1,
        "the faulted call is not counted as served; one retry reached Zoom"
    );

    // A daily limit is ours to report, not to retry.
    let before_faults = stats["faults_injected"].as_u64().unwrap_or(0);
    env.sim
        .post(
            "faults",
            json!({"kind": "429", "path": "/v2/users/me/meetings", "count": 1, "daily": true}),
        )
        .await;
    // The first answer is cached now: the next lists ask Zoom with refresh=true.
    let daily = get(&env.watch.api, &tenant, "/api/zoom/meetings?refresh=true").await;
    let problem = daily.problem(429);
    assert!(daily.header("retry-after").is_some());
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("daily"))
    );
    assert_eq!(
        env.sim.get("stats").await["faults_injected"]
            .as_u64()
            .unwrap_or(0)
            - before_faults,
        1,
        "no retry"
    );

    // 500 three times: our 502.
    env.sim
        .post(
            "faults",
            json!({"kind": "500", "path": "/v2/users/me/meetings", "count": 3}),
        )
        .await;
    get(&env.watch.api, &tenant, "/api/zoom/meetings?refresh=true")
        .await
        .problem(502);

    // A hang: our 504 within the function's time budget (at most 8 s of Zoom time), long before
    // the simulator's 60 s hang ends.
    env.sim
        .post(
            "faults",
            json!({"kind": "hang", "path": "/v2/users/me/meetings", "count": 5, "hang_ms": 60000}),
        )
        .await;
    let started = std::time::Instant::now();
    get(&env.watch.api, &tenant, "/api/zoom/meetings?refresh=true")
        .await
        .problem(504);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
}

/// One list read through the isolated stack, and how many Zoom list calls it cost.
async fn list_counted(env: &Isolated, tenant: &str, query: &str) -> (Value, u64) {
    let key = "GET /v2/users/{userId}/meetings";
    let before = calls(&env.sim.get("stats").await, key);
    let answer = get(
        &env.watch.api,
        tenant,
        &format!("/api/zoom/meetings{query}"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let after = calls(&env.sim.get("stats").await, key);
    (answer.json(), after - before)
}

fn ids(page: &Value) -> Vec<i64> {
    page["meetings"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn list_pages_are_cached_until_the_tenants_meetings_change() {
    let (env, tenant) = connected_pipeline("cached").await;

    let (first, cost) = list_counted(&env, &tenant, "").await;
    assert_eq!(cost, 1);
    assert_eq!(first["cached_for_seconds"], 60);
    let (again, cost) = list_counted(&env, &tenant, "").await;
    assert_eq!((cost, &again), (0, &first), "served from the cache");
    assert_eq!(
        list_counted(&env, &tenant, "?page_size=2").await.1,
        1,
        "another query"
    );
    assert_eq!(list_counted(&env, &tenant, "?refresh=true").await.1, 1);

    // Our own changes: the next list asks Zoom and shows them.
    assert_eq!(list_counted(&env, &tenant, "?page_size=300").await.1, 1);
    assert_eq!(list_counted(&env, &tenant, "?page_size=300").await.1, 0);
    let created = create(&env.watch.api, &tenant, json!({"topic": "Cache check"})).await;
    let id = created.json()["id"].as_i64().expect("id");
    let (page, cost) = list_counted(&env, &tenant, "?page_size=300").await;
    assert_eq!(cost, 1);
    assert!(ids(&page).contains(&id));
    assert_eq!(list_counted(&env, &tenant, "?page_size=300").await.1, 0);
    let patched = patch(&env.watch.api, &tenant, id, json!({"topic": "Renamed"})).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let (page, cost) = list_counted(&env, &tenant, "?page_size=300").await;
    assert_eq!(cost, 1);
    let mine = page["meetings"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["id"] == id))
        .cloned()
        .expect("listed");
    assert_eq!(mine["topic"], "Renamed");

    // A change Zoom reports by webhook (the meeting started): once processed, the next list
    // asks Zoom again.
    env.sim
        .post(&format!("meetings/{id}/start"), json!({}))
        .await;
    let started = std::time::Instant::now();
    while list_counted(&env, &tenant, "?page_size=300").await.1 == 0 {
        assert!(
            started.elapsed() < PATIENCE,
            "the started meeting never invalidated the cached list"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    // Deleted through us: gone from the next list.
    let deleted = delete(&env.watch.api, &tenant, id).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let (page, cost) = list_counted(&env, &tenant, "?page_size=300").await;
    assert_eq!(cost, 1);
    assert!(!ids(&page).contains(&id));

    // Another tenant (another Zoom user) never gets this tenant's cached page; a tenant that
    // connects again starts from Zoom too.
    assert_eq!(list_counted(&env, &tenant, "").await.1, 1);
    assert_eq!(list_counted(&env, &tenant, "").await.1, 0);
    env.sim.post("config", json!({"authorizing_user": 1})).await;
    let other = unique("cached-other");
    connect(&env.watch.api, &other).await;
    let (theirs, cost) = list_counted(&env, &other, "").await;
    assert_eq!(cost, 1);
    assert_ne!(ids(&theirs), ids(&first), "another user's meetings");
    connect(&env.watch.api, &tenant).await;
    assert_eq!(list_counted(&env, &tenant, "").await.1, 1);
}

/// An `Idempotency-Key` outside visible ASCII that reaches the function (UTF-8 bytes, as the
/// emulator and API Gateway pass them on) is a 400 naming the header, and creates nothing; the
/// same body with a valid key is created. (Schemathesis's `×ø\u{9b}`, sent as Latin-1 bytes that
/// are not UTF-8, never reaches a function locally: cargo lambda watch cannot put it into an
/// API Gateway event and answers its own 500; the unit tests cover what we answer to it.)
#[tokio::test]
async fn a_key_outside_visible_ascii_is_a_400_naming_the_header() {
    let tenant = unique("badkey");
    connect(&api(), &tenant).await;
    let topic = unique("bad key");
    let body = json!({"topic": topic, "duration": 1, "timezone": "UTC", "type": 1, "default_password": false, "pre_schedule": false, "recurrence": {"type": 1}, "settings": {}, "start_time": "2000-01-01T00:00:00Z", "agenda": "", "password": "0"});
    let post = |key: reqwest::header::HeaderValue| {
        send(
            client()
                .post(format!("{}/api/zoom/meetings", api()))
                .bearer_auth(jwt(&tenant))
                .header("Idempotency-Key", key)
                .json(&body),
        )
    };
    for key in ["×ø\u{9b}", "é", "clé-1"] {
        let value = reqwest::header::HeaderValue::from_bytes(key.as_bytes()).expect("header value");
        let answer = post(value).await;
        assert_eq!(
            answer.problem(400)["errors"][0]["field"],
            "Idempotency-Key",
            "{key:?}"
        );
    }
    let listed = get(&api(), &tenant, "/api/zoom/meetings?refresh=true").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(
        !listed.text.contains(&topic),
        "a refused request created nothing: {}",
        listed.text
    );
    let created = post(reqwest::header::HeaderValue::from_static("cle-1")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["topic"], topic);
}
