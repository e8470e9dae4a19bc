//! Writes that are safe to retry, and stored data that stays true, end to end: idempotent
//! creates (replayed, refused for another body, single under concurrency, reconciled after a
//! lost answer), a token refresh whose storing fails, recurring meetings, a list page too large
//! to cache, and webhook bodies up to 1 MiB.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zoom_e2e::*;

const CREATES: &str = "POST /v2/users/{userId}/meetings";

async fn create(api: &str, tenant: &str, key: Option<&str>, body: &Value) -> Answer {
    let mut request = client()
        .post(format!("{api}/api/zoom/meetings"))
        .bearer_auth(jwt(tenant))
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    send(request).await
}

async fn get(api: &str, tenant: &str, path: &str) -> Answer {
    send(
        client()
            .get(format!("{api}{path}"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

/// yyyy-mm-dd (UTC) of an epoch second.
fn date_of(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!(
        "{:04}-{:02}-{:02}",
        yoe + era * 400 + i64::from(m <= 2),
        m,
        d
    )
}

async fn calls(sim: &SimProcess, key: &str) -> u64 {
    sim.get("stats").await["calls"][key].as_u64().unwrap_or(0)
}

async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < PATIENCE, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn one_key_is_one_create_replayed_refused_for_another_body_and_single_under_concurrency() {
    let env = isolated(&[], 4).await;
    let tenant = unique("idem");
    connect(&env.watch.api, &tenant).await;
    let body = json!({"topic": "Weekly sync", "duration": 30});
    let first = create(&env.watch.api, &tenant, Some("key-1"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = create(&env.watch.api, &tenant, Some("key-1"), &body).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json(), first.json(), "the same answer twice");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(calls(&env.sim, CREATES).await, 1, "one create at Zoom");
    let other = create(
        &env.watch.api,
        &tenant,
        Some("key-1"),
        &json!({"topic": "Something else", "duration": 30}),
    )
    .await;
    let problem = other.problem(422);
    assert_eq!(
        problem["type"],
        "urn:problem:zoom-connector:idempotency-key-reused"
    );
    assert_eq!(calls(&env.sim, CREATES).await, 1);

    // Eight at once with one key: one create; every success is the same meeting.
    let racing = json!({"topic": "Racing", "duration": 30});
    let answers = futures_util::future::join_all(
        (0..8).map(|_| create(&env.watch.api, &tenant, Some("key-race"), &racing)),
    )
    .await;
    let ids: Vec<i64> = answers
        .iter()
        .inspect(|a| assert!([201, 409].contains(&a.status), "{} {}", a.status, a.text))
        .filter(|a| a.status == 201)
        .filter_map(|a| a.json()["id"].as_i64())
        .collect();
    assert!(!ids.is_empty());
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(
        calls(&env.sim, CREATES).await,
        2,
        "the race made one meeting"
    );
    let settled = create(&env.watch.api, &tenant, Some("key-race"), &racing).await;
    assert_eq!(settled.json()["id"].as_i64(), Some(ids[0]));
    // A bad key is a 400 naming the header.
    let bad = create(&env.watch.api, &tenant, Some(&"k".repeat(300)), &body).await;
    assert_eq!(bad.problem(400)["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_made_twice_by_the_retry() {
    let env = isolated(&[], 1).await;
    let tenant = unique("lost");
    connect(&env.watch.api, &tenant).await;
    // Zoom makes the meeting, then the connection drops before its answer.
    env.sim
        .post(
            "faults",
            json!({"kind": "drop_answer", "method": "POST", "path": "/v2/users", "count": 1}),
        )
        .await;
    let body =
        json!({"topic": "Lost answer", "duration": 45, "start_time": "2031-01-02T10:00:00Z"});
    let first = create(&env.watch.api, &tenant, Some("lost-1"), &body).await;
    let problem = first.problem(502);
    assert_eq!(
        problem["type"],
        "urn:problem:zoom-connector:zoom-outcome-unknown"
    );
    assert_eq!(
        calls(&env.sim, CREATES).await,
        1,
        "our client did not send it again"
    );
    let retry = create(&env.watch.api, &tenant, Some("lost-1"), &body).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(
        calls(&env.sim, CREATES).await,
        1,
        "the retry found it instead of creating"
    );
    let made = env.sim.get("account").await["meetings"]
        .as_array()
        .expect("meetings")
        .iter()
        .filter(|m| m["topic"] == "Lost answer")
        .count();
    assert_eq!(made, 1, "one meeting at Zoom");
    assert_eq!(
        create(&env.watch.api, &tenant, Some("lost-1"), &body)
            .await
            .json(),
        retry.json(),
        "replayed from then on"
    );
}

/// Zoom refuses a create (its daily limit: nothing was made): the key's claim is released, so
/// the retry with the same key runs anew and creates the meeting, instead of a 409 until the
/// claim expires. (Through the IAM audit of the local stack, this also proves the function may
/// delete its own claim.)
#[tokio::test]
async fn a_create_zoom_refused_is_run_anew_by_the_retry_with_its_key() {
    let env = isolated(&[], 1).await;
    let tenant = unique("refused");
    connect(&env.watch.api, &tenant).await;
    env.sim
        .post(
            "faults",
            json!({"kind": "429", "daily": true, "method": "POST", "path": "/v2/users", "count": 1}),
        )
        .await;
    let body = json!({"topic": "Refused first", "duration": 30});
    let first = create(&env.watch.api, &tenant, Some("refused-1"), &body).await;
    first.problem(429);
    assert_eq!(calls(&env.sim, CREATES).await, 0, "Zoom made nothing");
    let retry = create(&env.watch.api, &tenant, Some("refused-1"), &body).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(calls(&env.sim, CREATES).await, 1, "one meeting at Zoom");
    let replay = create(&env.watch.api, &tenant, Some("refused-1"), &body).await;
    assert_eq!(replay.json(), retry.json(), "replayed from then on");
    assert_eq!(calls(&env.sim, CREATES).await, 1);
}

/// Storing the rotated pair fails right after Zoom rotated it: the emulator throttles every
/// write of that tenant's connection that stores a refresh token (on the wire, as a DynamoDB
/// outage aimed at that write would; the lease before it goes through). The pair is kept aside
/// in an item of its own, the connection keeps working, another function rolls the pair
/// forward once DynamoDB is back, and Zoom never sees a dead refresh token.
#[tokio::test]
async fn a_storage_failure_right_after_rotation_loses_no_token() {
    let env = isolated(&[], 1).await;
    let tenant = unique("rotate");
    connect(&env.watch.api, &tenant).await;
    let faults = format!(
        "{}/_zoom/faults",
        zoom_e2e::env("AWS_ENDPOINT_URL").trim_end_matches('/')
    );
    let set_fault = |next: u32| {
        let faults = faults.clone();
        let tenant = tenant.clone();
        async move {
            let answer = send(client().post(&faults).json(&json!({
                "throttle_next": next, "key_prefix": format!("TENANT#{tenant}"),
                "expression_contains": "refresh_token = :rt"
            })))
            .await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            answer.json()
        }
    };
    let version = || async {
        connection_item(&tenant)
            .await
            .and_then(|i| i.get("version").and_then(|v| v.as_n().ok()).cloned())
            .unwrap_or_default()
    };
    let before = version().await;
    // Round 1: every store of the rotated pair is throttled (more attempts than the SDK's
    // retries and ours within the reserve can make).
    set_fault(1000).await;
    env.sim.post("tokens/expire", json!({"all": true})).await;
    let answer = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let described = set_fault(0).await;
    assert!(
        described["injected"]["throttle_next"].as_u64() >= Some(2),
        "the stores were refused on the wire: {described}"
    );
    assert_eq!(
        version().await,
        before,
        "nothing stored while DynamoDB refused"
    );
    assert!(
        scan_table()
            .await
            .iter()
            .any(|i| i.contains(&format!("DATA#{tenant}#")) && i.contains("PENDING_PAIR")),
        "the rotated pair is kept aside in an item of its own"
    );
    // DynamoDB is back. Another function (another process, holding nothing in memory) needs a
    // token: it rolls the kept pair forward instead of refreshing with the dead token.
    let answer = get(&env.watch.api, &tenant, "/api/zoom/meetings?refresh=true").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_ne!(version().await, before, "the kept pair is stored");
    assert_eq!(env.sim.get("stats").await["tokens_refreshed"], 1);
    let answer = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Round 2: the stored pair is the live one, Zoom accepts it.
    env.sim.post("tokens/expire", json!({"all": true})).await;
    let answer = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    assert_eq!(stats["tokens_refreshed"], 2, "{stats}");
}

/// A connection item written before connections had ids (no `connection_id`, no
/// `connected_at`) still refreshes: the rotated pair is stored on it, not dropped.
#[tokio::test]
async fn a_connection_written_before_connection_ids_keeps_its_rotated_pair() {
    let env = isolated(&[], 1).await;
    let tenant = unique("legacy");
    connect(&env.watch.api, &tenant).await;
    let (client, table) = dynamodb().await;
    let key = |client: &aws_sdk_dynamodb::Client| {
        client
            .update_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{tenant}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("CONNECTION".into()),
            )
    };
    key(&client)
        .update_expression("REMOVE connection_id, connected_at")
        .send()
        .await
        .expect("made legacy");
    let version = || async {
        let item = connection_item(&tenant).await.expect("item");
        assert!(!item.contains_key("connection_id"), "still legacy");
        item.get("version")
            .and_then(|v| v.as_n().ok())
            .cloned()
            .unwrap_or_default()
    };
    let before = version().await;
    for round in 0..2 {
        env.sim.post("tokens/expire", json!({"all": true})).await;
        let answer = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
        assert_eq!(answer.status, 200, "round {round}: {}", answer.text);
    }
    assert_ne!(version().await, before, "the rotated pairs were stored");
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    assert_eq!(stats["tokens_refreshed"], 2, "{stats}");
}

/// A slow token endpoint (most of the request's budget) still ends with the rotated pair
/// stored: the next request uses it, nothing is refreshed with a dead token.
#[tokio::test]
async fn a_slow_refresh_still_stores_the_rotated_pair() {
    let env = isolated(&[], 1).await;
    let tenant = unique("slowrefresh");
    connect(&env.watch.api, &tenant).await;
    env.sim.post("tokens/expire", json!({"all": true})).await;
    env.sim
        .post(
            "faults",
            json!({"kind": "latency", "path": "/oauth/token", "count": 1, "latency_ms": 4000}),
        )
        .await;
    let first = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    // 200 when the budget held (the usual case); on a loaded machine the budget can run out
    // before the refresh may start (503, nothing refreshed) or after it (504: the pair is
    // stored, the users call had no time left). Either way a problem with Retry-After, and
    // never a rotation lost: exactly one refresh over both requests, no dead token used.
    if first.status != 200 {
        first.problem(first.status);
        assert!(
            [503, 504].contains(&first.status),
            "{} {}",
            first.status,
            first.text
        );
        assert!(first.header("retry-after").is_some(), "{}", first.text);
    }
    let next = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    assert_eq!(next.status, 200, "{}", next.text);
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    assert_eq!(
        stats["tokens_refreshed"], 1,
        "the slow refresh's pair was stored and used, or the refresh ran once later: {stats}"
    );
}

#[tokio::test]
async fn a_recurring_meeting_stays_scheduled_after_an_occurrence_and_a_single_delete_leaves_it() {
    let (env, tenant) = connected_pipeline("series").await;
    let series = create(
        &env.watch.api,
        &tenant,
        None,
        &json!({"topic": "Weekly series", "type": 8, "start_time": "2031-01-06T09:00:00Z", "duration": 30,
                "timezone": "UTC", "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2", "end_times": 10}}),
    )
    .await;
    assert_eq!(series.status, 201, "{}", series.text);
    let id = series.json()["id"].as_i64().expect("id");
    let single = create(
        &env.watch.api,
        &tenant,
        None,
        &json!({"topic": "One-off", "start_time": "2031-01-06T11:00:00Z", "duration": 30}),
    )
    .await;
    let single_id = single.json()["id"].as_i64().expect("id");
    // One occurrence of each happens.
    for m in [id, single_id] {
        env.sim
            .post(&format!("meetings/{m}/start"), json!({}))
            .await;
        env.sim.post(&format!("meetings/{m}/end"), json!({})).await;
    }
    let started = Instant::now();
    loop {
        let answer = get(
            &env.watch.api,
            &tenant,
            &format!("/api/zoom/meetings/{single_id}"),
        )
        .await;
        if answer.json()["status"] == "completed" {
            break;
        }
        if started.elapsed() > PATIENCE {
            let logs = env.watch.logs();
            let tail: Vec<&str> = logs.lines().rev().take(80).collect();
            panic!(
                "the one-off meeting never completed: {}\n{}",
                answer.text,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eventually("the events queue is drained", || async {
        queue_depth(&env.queues.0).await == 0
    })
    .await;
    let stored = get(&env.watch.api, &tenant, &format!("/api/zoom/meetings/{id}")).await;
    assert_eq!(
        stored.json()["status"],
        "scheduled",
        "the series goes on: {}",
        stored.text
    );
    let listed = get(
        &env.watch.api,
        &tenant,
        "/api/zoom/meetings?refresh=true&page_size=300",
    )
    .await;
    assert!(
        listed.json()["meetings"]
            .as_array()
            .expect("list")
            .iter()
            .any(|m| m["id"] == id && m["status"] == "scheduled"),
        "{}",
        listed.text
    );
    // Deleting one occurrence (through us, then Zoom's webhook of it) leaves the series.
    let deleted = send(
        client()
            .delete(format!(
                "{}/api/zoom/meetings/{id}?occurrence_id=1925110800000",
                env.watch.api
            ))
            .bearer_auth(jwt(&tenant)),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    env.sim
        .post(
            &format!("meetings/{id}/delete"),
            json!({"occurrence_id": "1925110800000"}),
        )
        .await;
    eventually("the occurrence's webhook is processed", || async {
        queue_depth(&env.queues.0).await == 0
    })
    .await;
    let after = get(
        &env.watch.api,
        &tenant,
        &format!("/api/zoom/meetings/{id}?refresh=true"),
    )
    .await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.json()["status"], "scheduled", "{}", after.text);
}

#[tokio::test]
async fn a_list_page_too_large_for_one_item_is_still_served() {
    let env = isolated(&[], 1).await;
    let tenant = unique("bigpage");
    connect(&env.watch.api, &tenant).await;
    env.sim
        .post("meetings/bulk", json!({"count": 300, "agenda_bytes": 2000}))
        .await;
    let path = "/api/zoom/meetings?page_size=300";
    let first = get(&env.watch.api, &tenant, path).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        &first.text[..first.text.len().min(300)]
    );
    assert!(first.text.len() > 400 * 1024, "{} bytes", first.text.len());
    let lists = "GET /v2/users/{userId}/meetings";
    let before = calls(&env.sim, lists).await;
    let second = get(&env.watch.api, &tenant, path).await;
    assert_eq!(second.status, 200);
    assert!(
        calls(&env.sim, lists).await - before <= 1,
        "at most one Zoom call"
    );
    assert_eq!(second.json()["meetings"], first.json()["meetings"]);
}

#[tokio::test]
async fn webhook_bodies_up_to_a_mebibyte_are_processed_and_larger_ones_refused() {
    let (env, tenant) = connected_pipeline("bigbody").await;
    let account = env.sim.get("account").await;
    let account_id = account["account_id"].as_str().expect("account");
    let host = account["authorizing_user"]["id"].as_str().expect("host");
    let post = |body: String| {
        let ts = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs())
        .to_string();
        let signature = zoom_signature(&zoom_e2e::env("ZOOM_WEBHOOK_SECRET_TOKEN"), &ts, &body);
        send(
            client()
                .post(format!("{}/api/zoom/webhooks", env.watch.api))
                .header("x-zm-request-timestamp", ts)
                .header("x-zm-signature", signature)
                .header("content-type", "application/json")
                .body(body),
        )
    };
    // A meeting.started of more than 200 KiB goes in its message; a meeting.ended of 600 KiB
    // (SQS takes 256 KiB in all) goes through the S3 spool (claim check). Both are counted.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 3600;
    let iso = |t: u64| {
        let s = t % 86_400;
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            date_of(t),
            s / 3600,
            (s % 3600) / 60,
            s % 60
        )
    };
    let event = |name: &str, pad: usize| {
        json!({"event": name, "event_ts": start * 1000, "payload": {"account_id": account_id,
            "object": {"id": "424242", "uuid": "big-body-uuid==", "host_id": host, "topic": "big body", "type": 2,
                       "start_time": iso(start), "end_time": iso(start + 600), "duration": 30,
                       "tracking_fields": [{"field": "pad", "value": "p".repeat(pad)}]}}})
        .to_string()
    };
    // No other test of this binary spools a body (test binaries run one after another).
    let spooled_before = bucket_versions("webhooks/").await.len();
    for (name, pad) in [
        ("meeting.started", 210 * 1024),
        ("meeting.ended", 600 * 1024),
    ] {
        let body = event(name, pad);
        assert!(body.len() > pad, "{} bytes", body.len());
        let answer = post(body).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    assert_eq!(
        bucket_versions("webhooks/").await.len() - spooled_before,
        1,
        "only the body over the message limit was spooled"
    );
    let day = date_of(start);
    eventually("the large event is counted", || async {
        get(
            &env.watch.api,
            &tenant,
            &format!("/api/zoom/analytics/meetings?from={day}&to={day}"),
        )
        .await
        .json()["summary"]["meetings_completed"]
            == 1
    })
    .await;
    // Over 1 MiB: refused before any work.
    let huge = format!(
        r#"{{"event":"meeting.started","payload":{{"account_id":"{account_id}","pad":"{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let refused = post(huge).await;
    let problem = refused.problem(413);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1048576")),
        "{problem}"
    );
}

/// A body over the message limit when the spool (S3) cannot take it: 503, so Zoom retries it
/// later, with `WebhookRejected` `spool_unavailable` (alarmed); nothing is queued half-way.
#[tokio::test]
async fn a_large_event_the_spool_cannot_take_is_503_for_zoom_to_retry() {
    // A bucket of its own that does not exist: every spool write fails.
    let missing = stand_in("ZOOM_RECORDINGS_BUCKET", &format!("gone-{}", free_port()));
    let env = isolated_pipeline(
        &[],
        &[("ZOOM_RECORDINGS_BUCKET", missing.as_str())],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await;
    let account = env.sim.get("account").await;
    let account_id = account["account_id"].as_str().expect("account");
    let body = json!({"event": "meeting.started", "event_ts": 1_700_000_000_000_i64,
        "payload": {"account_id": account_id, "object": {"id": "434343", "uuid": "spool-down==",
            "host_id": "h", "topic": "big", "type": 2, "start_time": "2026-01-01T00:00:00Z",
            "tracking_fields": [{"field": "pad", "value": "p".repeat(300 * 1024)}]}}})
    .to_string();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let signature = zoom_signature(&zoom_e2e::env("ZOOM_WEBHOOK_SECRET_TOKEN"), &ts, &body);
    let answer = send(
        client()
            .post(format!("{}/api/zoom/webhooks", env.watch.api))
            .header("x-zm-request-timestamp", ts)
            .header("x-zm-signature", signature)
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    answer.problem(503);
    assert_eq!(queue_depth(&env.queues.0).await, 0, "nothing queued");
    let logs = env.watch.logs();
    assert!(
        logs.contains("\"Reason\":\"spool_unavailable\""),
        "the rejection is counted by reason"
    );
}

/// Zoom fails the refresh itself (5xx on /oauth/token, every attempt): the caller gets a
/// problem, the connection is not marked for re-authorization (its refresh token is alive),
/// `TokenRefresh` `failure` is counted (alarmed), and the next call refreshes.
#[tokio::test]
async fn a_refresh_zoom_fails_is_counted_and_the_next_call_refreshes() {
    let env = isolated(&[], 1).await;
    let tenant = unique("refreshfail");
    connect(&env.watch.api, &tenant).await;
    env.sim.post("tokens/expire", json!({"all": true})).await;
    env.sim
        .post(
            "faults",
            json!({"kind": "500", "path": "/oauth/token", "count": 10}),
        )
        .await;
    let first = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    assert!(
        first.status > 500,
        "a problem for the caller, not a crash: {} {}",
        first.status,
        first.text
    );
    let cleared = send(client().delete(format!("{}/_sim/faults", env.sim.url))).await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    let next = get(&env.watch.api, &tenant, "/api/zoom/users?refresh=true").await;
    assert_eq!(next.status, 200, "{}", next.text);
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["invalid_grant"], 0, "{stats}");
    let logs = env.watch.logs();
    assert!(
        logs.contains("\"Outcome\":\"failure\"") && logs.contains("\"TokenRefresh\""),
        "the failed refresh is counted"
    );
}
