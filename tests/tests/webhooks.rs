//! Webhooks to analytics end to end: the simulator's signed deliveries, `zoom-webhooks`,
//! moto SQS, the poller, `zoom-analytics-processor`, and `zoom-analytics`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zoom_e2e::*;

async fn analytics(api: &str, tenant: &str, query: &str) -> Answer {
    send(
        client()
            .get(format!("{api}/api/zoom/analytics/meetings?{query}"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

/// Polls until `check` accepts the summary (at most [`PATIENCE`]).
async fn until(api: &str, tenant: &str, query: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let body = analytics(api, tenant, query).await.json();
        if check(&body) {
            return body;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "analytics never matched: {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn post_webhook(api: &str, body: &str, timestamp: i64, secret: &str) -> Answer {
    let ts = timestamp.to_string();
    send(
        client()
            .post(format!("{api}/api/zoom/webhooks"))
            .header("content-type", "application/json")
            .header("x-zm-request-timestamp", &ts)
            .header("x-zm-signature", zoom_signature(secret, &ts, body))
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn rejected_deliveries_enqueue_nothing() {
    let queue = create_queue(&stand_in(
        "ZOOM_EVENTS_QUEUE_URL",
        &format!("intake-{}", free_port()),
    ))
    .await;
    let watch = ExtraWatch::start(&[("ZOOM_EVENTS_QUEUE_URL", &queue)], "/api/zoom/health").await;
    let secret = env("ZOOM_WEBHOOK_SECRET_TOKEN");
    let body =
        r#"{"event":"meeting.started","event_ts":1,"payload":{"account_id":"acct","object":{}}}"#;
    post_webhook(&watch.api, body, now(), "not-the-secret")
        .await
        .problem(401);
    post_webhook(&watch.api, body, now() - 400, &secret)
        .await
        .problem(401);
    post_webhook(&watch.api, body, now() + 400, &secret)
        .await
        .problem(401);
    post_webhook(&watch.api, "this is not json", now(), &secret)
        .await
        .problem(400);
    post_webhook(&watch.api, r#"{"event":"meeting.started"}"#, now(), &secret)
        .await
        .problem(400);
    let big = format!(
        r#"{{"event":"meeting.started","payload":{{"pad":"{}"}}}}"#,
        "x".repeat(1_100_000)
    );
    post_webhook(&watch.api, &big, now(), &secret)
        .await
        .problem(413);
    send(
        client()
            .post(format!("{}/api/zoom/webhooks", watch.api))
            .body(body),
    )
    .await
    .problem(401);
    assert_eq!(queue_depth(&queue).await, 0, "nothing was enqueued");
    let ignored = post_webhook(
        &watch.api,
        r#"{"event":"user.updated","payload":{"account_id":"a"}}"#,
        now(),
        &secret,
    )
    .await;
    assert_eq!(
        (ignored.status, ignored.json()["status"].clone()),
        (200, json!("ignored"))
    );
    assert_eq!(queue_depth(&queue).await, 0);
    let accepted = post_webhook(&watch.api, body, now(), &secret).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(
        queue_depth(&queue).await,
        1,
        "a good delivery is enqueued (so the zeros above mean something)"
    );
}

#[tokio::test]
async fn url_validation_is_answered_as_zoom_checks_it() {
    let result: Value = send(client().post(format!(
        "{}/_sim/webhooks/url-validation",
        env("ZOOM_SIM_URL")
    )))
    .await
    .json();
    assert_eq!(result["valid"], true, "{result}");
}

/// Drives one meeting through the simulator: start, joins and leaves, end.
async fn meeting(
    sim: &SimProcess,
    id: i64,
    at: i64,
    script: &[(&str, i64, i64)],
    end: i64,
    record: bool,
) {
    let time = |offset: i64| iso(at + offset);
    sim.post(&format!("meetings/{id}/start"), json!({"at": time(0)}))
        .await;
    let mut people = Vec::new();
    for (name, join, _) in script {
        let joined = sim
            .post(
                &format!("meetings/{id}/participants"),
                json!({"name": name, "at": time(*join)}),
            )
            .await;
        people.push(joined["participant_id"].as_str().expect("pid").to_owned());
    }
    for ((_, _, leave), pid) in script.iter().zip(&people) {
        sim.post(
            &format!("meetings/{id}/participants/{pid}/leave"),
            json!({"at": time(*leave)}),
        )
        .await;
    }
    sim.post(
        &format!("meetings/{id}/end"),
        json!({"at": time(end), "record": record}),
    )
    .await;
}

async fn all_delivered(sim: &SimProcess, count: usize) {
    let started = Instant::now();
    loop {
        let deliveries = sim.get("deliveries").await;
        let ok = deliveries
            .as_array()
            .map(|d| d.iter().filter(|x| x["ok"] == true).count())
            .unwrap_or(0);
        if ok >= count {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "deliveries: {deliveries}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn drained(queue: &str) {
    let started = Instant::now();
    while queue_depth(queue).await > 0 {
        assert!(started.elapsed() < PATIENCE, "queue not drained");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_scripted_day_gives_exact_analytics_and_redeliveries_count_once() {
    let env = own_pipeline().await;
    // Two tenants: A connected as user 0, B as user 1 of the same account. Events are routed by
    // host: A's meetings count only for A, B's only for B.
    let users = sim_users(&env.sim, 2).await;
    let (host_a, host_b) = (users[0].clone(), users[1].clone());
    let (tenant, tenant_b) = (unique("day"), unique("day-b"));
    connect(&env.watch.api, &tenant).await;
    env.sim.post("config", json!({"authorizing_user": 1})).await;
    connect(&env.watch.api, &tenant_b).await;
    env.sim.post("config", json!({"authorizing_user": 0})).await;
    let of_a = meetings_of(&env.sim, &host_a).await;
    let (m1, m2, m3) = (of_a[0], meetings_of(&env.sim, &host_b).await[0], of_a[1]);
    let host_of = |i: usize| {
        if i == 0 {
            host_a.clone()
        } else {
            host_b.clone()
        }
    };
    let day = (now() / 86_400 - 1) * 86_400; // yesterday 00:00 UTC
    let h = 3600;
    // M1 (host A): 09:00–09:45; a 0–30 min, b 10–40 min: peak 2, 60 participant minutes.
    meeting(
        &env.sim,
        m1,
        day + 9 * h,
        &[("a", 0, 30 * 60), ("b", 10 * 60, 40 * 60)],
        45 * 60,
        false,
    )
    .await;
    // M2 (host B): 10:00–10:50; c 0–20, d 5–30, e 10–40: peak 3, 75 minutes; recorded.
    meeting(
        &env.sim,
        m2,
        day + 10 * h,
        &[
            ("c", 0, 20 * 60),
            ("d", 5 * 60, 30 * 60),
            ("e", 10 * 60, 40 * 60),
        ],
        50 * 60,
        true,
    )
    .await;
    // M3 (host A): 13:00–13:20; f 0–15: peak 1, 15 minutes.
    meeting(
        &env.sim,
        m3,
        day + 13 * h,
        &[("f", 0, 15 * 60)],
        20 * 60,
        false,
    )
    .await;
    let events = 3 * 2 + 6 * 2 + 1; // start+end each, 6 joins and 6 leaves, 1 recording
    all_delivered(&env.sim, events).await;
    let date = date_of(day);
    let query = format!("from={date}&to={date}");
    // A: M1 and M3 (45 + 20 minutes; a 30, b 30, f 15 participant minutes; peak 2).
    let expect = |body: &Value| {
        let s = &body["summary"];
        s["meetings_started"] == 2
            && s["meetings_completed"] == 2
            && s["total_meeting_minutes"] == 65
            && s["participant_joins"] == 3
            && s["participant_minutes"] == 75
            && s["peak_concurrent_participants"] == 2
    };
    let body = until(&env.watch.api, &tenant, &query, expect).await;
    assert_eq!(body["summary"]["average_duration_minutes"], 32.5);
    assert_eq!(body["daily"].as_array().map(Vec::len), Some(1));
    let top = body["top_hosts"].as_array().expect("top hosts");
    assert_eq!(top.len(), 1, "only A's own host: {top:?}");
    assert_eq!(top[0]["host_id"], host_of(0).as_str());
    assert_eq!(
        (
            top[0]["meetings_completed"].clone(),
            top[0]["total_meeting_minutes"].clone()
        ),
        (json!(2), json!(65))
    );
    let recent: Vec<i64> = body["recent_meetings"]
        .as_array()
        .expect("recent")
        .iter()
        .filter_map(|m| m["meeting_id"].as_i64())
        .collect();
    assert_eq!(recent, vec![m3, m1], "most recently ended first, only A's");
    let by_host = analytics(
        &env.watch.api,
        &tenant,
        &format!("{query}&host_id={}", host_of(3)),
    )
    .await
    .json();
    assert_eq!(
        by_host["summary"]["meetings_completed"], 0,
        "B's meeting is not in A's analytics"
    );
    // B: M2 only (50 minutes; c 20, d 25, e 30 participant minutes; peak 3).
    let expect_b = |body: &Value| {
        let s = &body["summary"];
        s["meetings_started"] == 1
            && s["meetings_completed"] == 1
            && s["total_meeting_minutes"] == 50
            && s["participant_joins"] == 3
            && s["participant_minutes"] == 75
            && s["peak_concurrent_participants"] == 3
    };
    let body_b = until(&env.watch.api, &tenant_b, &query, expect_b).await;
    let recent_b: Vec<i64> = body_b["recent_meetings"]
        .as_array()
        .expect("recent")
        .iter()
        .filter_map(|m| m["meeting_id"].as_i64())
        .collect();
    assert_eq!(recent_b, vec![m2]);

    // Every event delivered twice more, byte for byte: nothing changes.
    env.sim.post("webhooks/resend", json!({})).await;
    env.sim.post("webhooks/resend", json!({})).await;
    all_delivered(&env.sim, events * 3).await;
    drained(&env.queues.0).await;
    let again = analytics(&env.watch.api, &tenant, &query).await.json();
    assert_eq!(
        again["summary"], body["summary"],
        "redeliveries are counted once"
    );
    let again_b = analytics(&env.watch.api, &tenant_b, &query).await.json();
    assert_eq!(again_b["summary"], body_b["summary"], "and once for B");

    // A tenant that never connected has nothing of its own.
    analytics(&env.watch.api, &unique("stranger"), &query)
        .await
        .problem(409);
}

#[tokio::test]
async fn a_crash_after_the_record_is_finished_on_redelivery_and_counted_once() {
    let env = isolated_pipeline(
        &[],
        &[("ZOOM_FAULT_CRASH_AFTER_CLAIM", "meeting.ended")],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await;
    let tenant = unique("crash");
    connect(&env.watch.api, &tenant).await;
    let me = sim_users(&env.sim, 1).await.remove(0);
    let id = meetings_of(&env.sim, &me).await[0];
    let start = now() - 600;
    let at = iso(start);
    env.sim
        .post(&format!("meetings/{id}/start"), json!({"at": at}))
        .await;
    env.sim
        .post(
            &format!("meetings/{id}/end"),
            json!({"at": iso(start + 300)}),
        )
        .await;
    let date = date_of(start);
    let started = Instant::now();
    let body = loop {
        let body = analytics(&env.watch.api, &tenant, &format!("from={date}&to={date}"))
            .await
            .json();
        if body["summary"]["meetings_completed"] == 1 {
            assert_eq!(body["summary"]["meetings_started"], 1, "{body}");
            assert_eq!(body["summary"]["total_meeting_minutes"], 5, "{body}");
            break body;
        }
        if started.elapsed() > PATIENCE {
            let logs = env.watch.logs();
            let tail: Vec<&str> = logs
                .lines()
                .filter(|l| !l.contains("zoom-analytics\"") && !l.contains("analytics/meetings"))
                .rev()
                .take(60)
                .collect();
            panic!(
                "not counted; watch log tail:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    drained(&env.queues.0).await;
    assert!(
        env.watch
            .logs()
            .contains("injected crash after the event's record"),
        "the crash happened"
    );
    assert_eq!(
        analytics(&env.watch.api, &tenant, &format!("from={date}&to={date}"))
            .await
            .json()["summary"],
        body["summary"]
    );
}

#[tokio::test]
async fn a_poison_message_reaches_the_dead_letter_queue_while_its_batch_mates_succeed() {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let port = free_port();
    let dlq = create_queue(&format!("e2e-dlq-{port}")).await;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attrs")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("arn");
    let name = stand_in("ZOOM_EVENTS_QUEUE_URL", &format!("poison-{port}"));
    sqs.create_queue()
        .queue_name(&name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string(),
        )
        .send()
        .await
        .expect("queue");
    let env = isolated_pipeline(&[], &[], &name, true).await;
    let tenant = unique("poison");
    connect(&env.watch.api, &tenant).await;
    let account = env.sim.get("account").await;
    let account_id = account["account_id"].as_str().expect("account").to_owned();
    let host = account["authorizing_user"]["id"]
        .as_str()
        .expect("host")
        .to_owned();
    let start = now() - 3600;
    let good = |event: &str, uuid: &str, id: i64| {
        json!({"event": event, "event_ts": start * 1000, "payload": {"account_id": account_id, "object": {
            "id": id.to_string(), "uuid": uuid, "host_id": host, "topic": "t", "type": 2, "start_time": iso(start),
            "end_time": iso(start + 1800), "duration": 30}}})
        .to_string()
    };
    let entries = [
        ("poison", "this is not an event".to_owned()),
        ("good1", good("meeting.started", "uuid-good-1", 11)),
        ("good2", good("meeting.started", "uuid-good-2", 12)),
        ("end1", good("meeting.ended", "uuid-good-1", 11)),
        ("end2", good("meeting.ended", "uuid-good-2", 12)),
    ];
    let mut batch = sqs.send_message_batch().queue_url(&env.queues.0);
    for (id, body) in &entries {
        batch = batch.entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(*id)
                .message_body(body)
                .build()
                .expect("entry"),
        );
    }
    batch.send().await.expect("sent");
    let date = date_of(start);
    until(
        &env.watch.api,
        &tenant,
        &format!("from={date}&to={date}"),
        |b| b["summary"]["meetings_started"] == 2 && b["summary"]["meetings_completed"] == 2,
    )
    .await;
    let started = Instant::now();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        if let Some(message) = got.messages().first() {
            assert_eq!(message.body(), Some("this is not an event"));
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the poison message never reached the dead-letter queue"
        );
    }
}

#[tokio::test]
async fn sqs_down_makes_intake_fail_and_zoom_retry_later_counted_once() {
    let name = stand_in("ZOOM_EVENTS_QUEUE_URL", &format!("late-{}", free_port()));
    let env = isolated_pipeline(
        &[("ZOOM_SIM_WEBHOOK_RETRY_DELAYS_MS", "3000,3000,3000")],
        &[],
        &name,
        false,
    )
    .await;
    let tenant = unique("sqsdown");
    connect(&env.watch.api, &tenant).await;
    let me = sim_users(&env.sim, 1).await.remove(0);
    let id = meetings_of(&env.sim, &me).await[0];
    let start = now() - 600;
    let at = iso(start);
    env.sim
        .post(&format!("meetings/{id}/start"), json!({"at": at}))
        .await;
    env.sim
        .post(
            &format!("meetings/{id}/end"),
            json!({"at": iso(start + 300)}),
        )
        .await;
    // The first attempt meets no queue.
    let started = Instant::now();
    loop {
        let deliveries = env.sim.get("deliveries").await;
        if let Some(first) = deliveries.as_array().and_then(|d| d.first()) {
            assert_eq!(first["status"], 503, "{first}");
            break;
        }
        assert!(started.elapsed() < PATIENCE, "no delivery attempt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let queue = create_queue(&name).await;
    let archive = env.queues.1.clone();
    let _poller = start_poller(
        &env.watch.api,
        &[
            (&queue, "zoom-analytics-processor"),
            (&archive, "zoom-recording-archiver"),
        ],
    );
    let date = date_of(start);
    let body = until(
        &env.watch.api,
        &tenant,
        &format!("from={date}&to={date}"),
        |b| b["summary"]["meetings_started"] == 1 && b["summary"]["meetings_completed"] == 1,
    )
    .await;
    let deliveries = env.sim.get("deliveries").await;
    assert!(
        deliveries
            .as_array()
            .expect("list")
            .iter()
            .any(|d| d["ok"] == true),
        "a retry succeeded"
    );
    drained(&queue).await;
    assert_eq!(
        analytics(&env.watch.api, &tenant, &format!("from={date}&to={date}"))
            .await
            .json()["summary"],
        body["summary"]
    );
}

#[tokio::test]
async fn app_deauthorized_deletes_the_tenant_and_records_it() {
    let (env, tenant) = connected_pipeline("deauth").await;
    let user = env.sim.get("account").await["authorizing_user"]["id"]
        .as_str()
        .expect("user")
        .to_owned();
    env.sim.post("deauthorize", json!({"user_id": user})).await;
    let started = Instant::now();
    while scan_table()
        .await
        .iter()
        .any(|i| i.contains(&format!("TENANT#{tenant}")))
    {
        assert!(
            started.elapsed() < PATIENCE,
            "the tenant's data is still there"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        scan_table()
            .await
            .iter()
            .any(|i| i.contains(&format!("COMPLIANCE#{user}"))),
        "the deletion is recorded"
    );
    let status: Value = send(
        client()
            .get(format!("{}/api/zoom/connection-status", env.watch.api))
            .bearer_auth(jwt(&tenant)),
    )
    .await
    .json();
    assert_eq!(status["connected"], false);
}

#[tokio::test]
async fn analytics_input_is_validated_and_needs_a_caller() {
    let tenant = unique("an");
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("to=tomorrow", "to"),
        ("from=2026-11-27&to=2026-11-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "from"),
        ("host_id=..%2F", "host_id"),
    ] {
        let problem = analytics(&api(), &tenant, query).await.problem(400);
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
    send(client().get(format!("{}/api/zoom/analytics/meetings", api())))
        .await
        .problem(401);
    // Valid input from a tenant that never connected: nothing is its own yet.
    analytics(&api(), &tenant, "").await.problem(409);
    connect(&api(), &tenant).await;
    let empty = analytics(&api(), &tenant, "").await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.json()["daily"].as_array().map(Vec::len),
        Some(31),
        "30 days back, inclusive"
    );
}

/// `meeting.updated` (a change made in Zoom, not through us) marks the stored copy stale: the
/// next read of that meeting asks Zoom again and stores the answer, and the read after it is
/// served from storage once more.
#[tokio::test]
async fn a_meeting_updated_in_zoom_is_read_again_from_zoom() {
    let stack = own_pipeline().await;
    let account = stack.sim.get("account").await;
    let account_id = account["account_id"].as_str().expect("account").to_owned();
    let host = sim_users(&stack.sim, 1).await[0].clone();
    let tenant = unique("updated");
    connect(&stack.watch.api, &tenant).await;
    let id = meetings_of(&stack.sim, &host).await[0];
    let path = format!("/api/zoom/meetings/{id}");
    let read = || async {
        let answer = send(
            client()
                .get(format!("{}{path}", stack.watch.api))
                .bearer_auth(jwt(&tenant)),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer
    };
    let zoom_reads = || async {
        stack.sim.get("stats").await["calls"]["GET /v2/meetings/{meetingId}"]
            .as_u64()
            .unwrap_or(0)
    };
    read().await;
    let stored = zoom_reads().await;
    read().await;
    assert_eq!(zoom_reads().await, stored, "served from storage");
    let body = json!({
        "event": "meeting.updated", "event_ts": now() * 1000,
        "payload": {"account_id": account_id, "operator": "admin@example.com",
            "object": {"id": id, "host_id": host, "topic": "Renamed in Zoom"},
            "old_object": {"id": id, "host_id": host}}
    })
    .to_string();
    let secret = env("ZOOM_WEBHOOK_SECRET_TOKEN");
    let answer = post_webhook(&stack.watch.api, &body, now(), &secret).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Once the event is processed, a read costs one Zoom call; until then it is served stored.
    let started = std::time::Instant::now();
    loop {
        read().await;
        if zoom_reads().await == stored + 1 {
            break;
        }
        assert_eq!(zoom_reads().await, stored);
        assert!(
            started.elapsed() < PATIENCE,
            "meeting.updated never made the copy stale"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    read().await;
    assert_eq!(zoom_reads().await, stored + 1, "stored again, fresh");
    // Another tenant's host in the event changes nothing of this tenant's copy.
    let body = json!({
        "event": "meeting.updated", "event_ts": now() * 1000,
        "payload": {"account_id": account_id,
            "object": {"id": id, "host_id": "someone-else"}}
    })
    .to_string();
    let answer = post_webhook(&stack.watch.api, &body, now(), &secret).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    drained(&stack.queues.0).await;
    read().await;
    assert_eq!(
        zoom_reads().await,
        stored + 1,
        "not this tenant's host: still fresh"
    );
}

/// Messages left unstarted near the invocation's deadline are deferred (sent again as they
/// came, their deliveries succeeding) rather than failed: here the processor's stop margin is
/// its whole timeout, so each invocation runs one message (every batch makes progress) and
/// defers the rest, again and again, and the analytics still come out exact with nothing
/// failed or lost.
#[tokio::test]
async fn messages_deferred_near_the_deadline_are_all_processed_exactly_once() {
    let mut stack = isolated_pipeline(
        &[],
        &[("ZOOM_PROCESSOR_STOP_MARGIN_SECS", "30")],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await;
    let host = sim_users(&stack.sim, 1).await[0].clone();
    let tenant = unique("defer");
    connect(&stack.watch.api, &tenant).await;
    let ids = meetings_of(&stack.sim, &host).await;
    // The events wait in the queue until every one is there, so batches are full (10).
    stack.poller = None;
    let day = (now() / 86_400 - 1) * 86_400;
    // Two meetings of 4 participants each: 2 × (2 + 8) = 20 events.
    for (n, id) in ids.iter().take(2).enumerate() {
        let script = [
            ("a", 0, 600),
            ("b", 60, 900),
            ("c", 120, 1200),
            ("d", 180, 1500),
        ];
        meeting(
            &stack.sim,
            *id,
            day + (9 + n as i64) * 3600,
            &script,
            1800,
            false,
        )
        .await;
    }
    all_delivered(&stack.sim, 20).await;
    // Batches of up to 10 gathered for 2 s (`queue=function=timeout=batch=window_ms`).
    stack.poller = Some(start_poller(
        &stack.watch.api,
        &[(&stack.queues.0, "zoom-analytics-processor=900=10=2000")],
    ));
    let date = date_of(day);
    let expect = |body: &Value| {
        let s = &body["summary"];
        s["meetings_started"] == 2
            && s["meetings_completed"] == 2
            && s["total_meeting_minutes"] == 60
            && s["participant_joins"] == 8
            && s["participant_minutes"] == 2 * (10 + 14 + 18 + 22)
    };
    until(
        &stack.watch.api,
        &tenant,
        &format!("from={date}&to={date}"),
        expect,
    )
    .await;
    drained(&stack.queues.0).await;
    let body = analytics(&stack.watch.api, &tenant, &format!("from={date}&to={date}"))
        .await
        .json();
    assert!(expect(&body), "nothing counted twice: {body}");
    let logs = stack.watch.logs();
    assert!(
        logs.contains("messages deferred near the deadline"),
        "the processor deferred messages"
    );
    assert!(
        !logs.contains("no time left to defer") && !logs.contains("left for redelivery"),
        "no message failed"
    );
}
