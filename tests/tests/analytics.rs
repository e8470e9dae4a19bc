//! Analytics that stay exact however events arrive: out of order, twice, after their meeting
//! settled, and from several processors settling one day at once (#14). Signed webhooks go to
//! `zoom-webhooks`; moto SQS, the poller, `zoom-analytics-processor` and `zoom-analytics` do
//! the rest.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use zoom_e2e::*;

/// A morning of yesterday: every meeting of these tests is on one UTC day.
fn yesterday_morning() -> i64 {
    (now() / 86_400 - 1) * 86_400 + 8 * 3600
}

/// Builds Zoom's webhook bodies for one account and host.
struct Events {
    account_id: String,
    host: String,
}

impl Events {
    fn object(&self, uuid: &str, id: i64, start: i64) -> Value {
        json!({"id": id.to_string(), "uuid": uuid, "host_id": self.host, "topic": format!("meeting {id}"),
               "type": 2, "start_time": iso(start), "duration": 60, "timezone": "UTC"})
    }

    fn started(&self, uuid: &str, id: i64, start: i64) -> String {
        json!({"event": "meeting.started", "event_ts": start * 1000,
               "payload": {"account_id": self.account_id, "object": self.object(uuid, id, start)}})
        .to_string()
    }

    fn ended(&self, uuid: &str, id: i64, start: i64, end: i64) -> String {
        let mut object = self.object(uuid, id, start);
        object["end_time"] = json!(iso(end));
        json!({"event": "meeting.ended", "event_ts": end * 1000,
               "payload": {"account_id": self.account_id, "object": object}})
        .to_string()
    }

    fn participant(
        &self,
        joined: bool,
        uuid: &str,
        id: i64,
        start: i64,
        who: &str,
        at: i64,
    ) -> String {
        let mut object = self.object(uuid, id, start);
        let time = if joined { "join_time" } else { "leave_time" };
        object["participant"] = json!({"user_id": "16778240", "user_name": who, "id": "",
                                       "participant_uuid": format!("p-{who}"), time: iso(at)});
        let event = if joined {
            "meeting.participant_joined"
        } else {
            "meeting.participant_left"
        };
        json!({"event": event, "event_ts": at * 1000, "payload": {"account_id": self.account_id, "object": object}})
            .to_string()
    }
}

async fn events_of(sim: &SimProcess) -> Events {
    let account = sim.get("account").await;
    Events {
        account_id: account["account_id"].as_str().expect("account").to_owned(),
        host: account["authorizing_user"]["id"]
            .as_str()
            .expect("host")
            .to_owned(),
    }
}

/// Delivers `body` as Zoom does (signed); Zoom retries until it gets a 2xx, so do we.
async fn deliver(api: &str, body: &str) {
    let secret = env("ZOOM_WEBHOOK_SECRET_TOKEN");
    let started = Instant::now();
    loop {
        let ts = now().to_string();
        let answer = send(
            client()
                .post(format!("{api}/api/zoom/webhooks"))
                .header("content-type", "application/json")
                .header("x-zm-request-timestamp", &ts)
                .header("x-zm-signature", zoom_signature(&secret, &ts, body))
                .body(body.to_owned()),
        )
        .await;
        if answer.status == 200 {
            return;
        }
        assert!(
            answer.status >= 500 && started.elapsed() < PATIENCE,
            "delivery refused: {} {}",
            answer.status,
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn summary(api: &str, tenant: &str, date: &str) -> Value {
    send(
        client()
            .get(format!(
                "{api}/api/zoom/analytics/meetings?from={date}&to={date}"
            ))
            .bearer_auth(jwt(tenant)),
    )
    .await
    .json()["summary"]
        .clone()
}

/// Polls until the day's summary has `expected`'s values (at most [`PATIENCE`]).
async fn until_summary(api: &str, tenant: &str, date: &str, expected: &Value) -> Value {
    let started = Instant::now();
    loop {
        let s = summary(api, tenant, date).await;
        let matches = expected
            .as_object()
            .expect("object")
            .iter()
            .all(|(k, v)| s[k] == *v);
        if matches {
            return s;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the summary never became {expected}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
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
async fn events_out_of_order_twice_and_after_the_settle_count_exactly_once() {
    let (env, tenant) = connected_pipeline("late").await;
    let e = events_of(&env.sim).await;
    let (uuid, id, s) = ("late-meeting==", 4_000_001, yesterday_morning());
    let date = date_of(s);
    // a 0–30 min, b 10–40 min, c joins at 1 min and its leave (at 5 min) comes late; ends at 45.
    let in_time = [
        e.ended(uuid, id, s, s + 2700),
        e.participant(false, uuid, id, s, "b", s + 2400),
        e.participant(false, uuid, id, s, "a", s + 1800),
        e.participant(true, uuid, id, s, "b", s + 600),
        e.participant(true, uuid, id, s, "c", s + 60),
        e.participant(true, uuid, id, s, "a", s),
        e.started(uuid, id, s),
    ];
    // Latest first, every one twice.
    for body in in_time.iter().chain(in_time.iter()) {
        deliver(&env.watch.api, body).await;
    }
    // c's session is closed at the end: 30 + 30 + 44 minutes; three at once from 10 to 30.
    until_summary(
        &env.watch.api,
        &tenant,
        &date,
        &json!({"meetings_started": 1, "meetings_completed": 1, "total_meeting_minutes": 45,
                "participant_joins": 3, "participant_minutes": 104, "peak_concurrent_participants": 3}),
    )
    .await;
    // c's leave arrives after the meeting settled: c stayed 4 minutes, and never overlapped b.
    deliver(
        &env.watch.api,
        &e.participant(false, uuid, id, s, "c", s + 300),
    )
    .await;
    let corrected = json!({"meetings_started": 1, "meetings_completed": 1, "total_meeting_minutes": 45,
                           "participant_joins": 3, "participant_minutes": 64, "peak_concurrent_participants": 2});
    until_summary(&env.watch.api, &tenant, &date, &corrected).await;
    // Everything once more, after all of that: nothing changes.
    for body in &in_time {
        deliver(&env.watch.api, body).await;
    }
    drained(&env.queues.0).await;
    let after = summary(&env.watch.api, &tenant, &date).await;
    for (k, v) in corrected.as_object().expect("object") {
        assert_eq!(after[k], *v, "{k} after the redeliveries: {after}");
    }
    let logs = env.watch.logs();
    assert!(
        logs.contains("\"SettleQueued\"") && logs.contains("late_event"),
        "the late leave queued a settle of its own"
    );
}

#[tokio::test]
async fn several_processors_settling_one_day_at_once_stay_exact() {
    // Four processor processes and four pollers, as the event source mapping runs them; the
    // emulator applies one DynamoDB request at a time, so two settles of the day interleave
    // between their read of the peak lists and their transaction, and one loses the race (its
    // `peaks_v` condition fails): the retry path is taken for real. DynamoDB's own
    // `TransactionConflict` (two transactions on one item at the same instant) cannot happen in
    // a serialising emulator, so the emulator is told to answer it for every third transaction
    // on this tenant's day items, as DynamoDB does under contention.
    let name = stand_in("ZOOM_EVENTS_QUEUE_URL", &format!("conc-{}", free_port()));
    let queue = create_queue(&name).await;
    let mut pipeline = isolated_with(&[], &[("ZOOM_EVENTS_QUEUE_URL", queue.as_str())], 4).await;
    pipeline.poller = Some(start_poller_with(
        &pipeline.watch.api,
        &[(&queue, "zoom-analytics-processor")],
        4,
    ));
    let tenant = unique("conc");
    connect(&pipeline.watch.api, &tenant).await;
    let faults = format!(
        "{}/_zoom/faults",
        env("AWS_ENDPOINT_URL").trim_end_matches('/')
    );
    let set = send(client().post(&faults).json(&json!({
        "transaction_conflict_every": 3, "key_prefix": format!("ANALYTICS#{tenant}#")
    })))
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let e = events_of(&pipeline.sim).await;
    let s = yesterday_morning();
    let date = date_of(s);
    // 40 meetings of the same day; meeting i has 1 + i % 4 participants, all there from minute
    // 1 to minute 11, and lasts 20 minutes.
    let mut bodies = Vec::new();
    let (mut joins, mut seconds) = (0, 0);
    for i in 0..40i64 {
        let (uuid, id, start) = (format!("conc-{i}=="), 5_000_000 + i, s + i * 60);
        bodies.push(e.started(&uuid, id, start));
        for p in 0..(1 + i % 4) {
            let who = format!("{i}-{p}");
            bodies.push(e.participant(true, &uuid, id, start, &who, start + 60));
            bodies.push(e.participant(false, &uuid, id, start, &who, start + 660));
            joins += 1;
            seconds += 600;
        }
        bodies.push(e.ended(&uuid, id, start, start + 1200));
    }
    // Every event twice, in a scrambled order, 16 at a time.
    let mut all: Vec<String> = bodies.iter().chain(bodies.iter()).cloned().collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..all.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        all.swap(i, (state >> 33) as usize % (i + 1));
    }
    let api = pipeline.watch.api.clone();
    futures_util::stream::iter(all)
        .map(|body| {
            let api = api.clone();
            async move { deliver(&api, &body).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let expected = json!({"meetings_started": 40, "meetings_completed": 40, "total_meeting_minutes": 800,
                          "participant_joins": joins, "participant_minutes": seconds / 60,
                          "peak_concurrent_participants": 4});
    until_summary(&pipeline.watch.api, &tenant, &date, &expected).await;
    drained(&queue).await;
    let off = send(
        client()
            .post(&faults)
            .json(&json!({"transaction_conflict_every": 0})),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let after = summary(&pipeline.watch.api, &tenant, &date).await;
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(after[k], *v, "{k} once everything settled: {after}");
    }
    let logs = pipeline.watch.logs();
    assert!(
        logs.contains("\"SettleRetried\"") && logs.contains("\"Reason\":\"TransactionConflict\""),
        "settles met TransactionConflict and retried"
    );
    // How often a settle lost the race on the day's peak lists (timing-dependent; reported).
    println!(
        "settles retried after losing the race on a peak list: {}",
        logs.matches("\"Reason\":\"moved\"").count()
    );
}

/// The metric `name` of every EMF line of `logs`, in order.
fn metric_values(logs: &str, name: &str) -> Vec<f64> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok())
        .filter_map(|doc| doc[name].as_f64())
        .collect()
}

/// Six meetings of one tenant-day ending close together, sent through a pipeline whose
/// processor has the extra environment `overrides` and the template's batching; waits until
/// the day's figures are exact and the queue is drained, then returns the watch's logs.
async fn six_meetings_ending_together(prefix: &str, overrides: &[(&str, &str)]) -> String {
    let name = stand_in(
        "ZOOM_EVENTS_QUEUE_URL",
        &format!("{prefix}-{}", free_port()),
    );
    let queue = create_queue(&name).await;
    // A 30 s delay: every end handled within the same 30 s falls due at the same moment, so
    // six meetings make at most two groups and one holds at least three, however slow this
    // machine is.
    let mut all = vec![
        ("ZOOM_EVENTS_QUEUE_URL", queue.as_str()),
        ("ZOOM_SETTLE_DELAY_SECS", "30"),
    ];
    all.extend_from_slice(overrides);
    let mut pipeline = isolated_with(&[], &all, 1).await;
    // As the template's event source mapping: up to 100 messages, a 2 s batching window.
    pipeline.poller = Some(start_poller_with(
        &pipeline.watch.api,
        &[(&queue, "zoom-analytics-processor=35=100=2000")],
        1,
    ));
    let tenant = unique(prefix);
    connect(&pipeline.watch.api, &tenant).await;
    let e = events_of(&pipeline.sim).await;
    let s = yesterday_morning();
    let date = date_of(s);
    // Meeting i: 20 minutes from minute 2i, with i + 1 participants from minute 1 to 6.
    let mut bodies = Vec::new();
    let mut joins = 0;
    for i in 0..6i64 {
        let (uuid, id, start) = (format!("{prefix}-{i}=="), 6_000_000 + i, s + i * 120);
        bodies.push(e.started(&uuid, id, start));
        for p in 0..=i {
            let who = format!("{i}-{p}");
            bodies.push(e.participant(true, &uuid, id, start, &who, start + 60));
            bodies.push(e.participant(false, &uuid, id, start, &who, start + 360));
            joins += 1;
        }
        bodies.push(e.ended(&uuid, id, start, start + 1200));
    }
    for body in &bodies {
        deliver(&pipeline.watch.api, body).await;
    }
    let expected = json!({"meetings_started": 6, "meetings_completed": 6, "total_meeting_minutes": 120,
                          "participant_joins": joins, "participant_minutes": joins * 5,
                          "peak_concurrent_participants": 6});
    until_summary(&pipeline.watch.api, &tenant, &date, &expected).await;
    drained(&queue).await;
    let after = summary(&pipeline.watch.api, &tenant, &date).await;
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(after[k], *v, "{k} after the queue drained: {after}");
    }
    pipeline.watch.logs()
}

/// Meetings of one tenant-day that end close together settle together: their settle jobs fall
/// due at the same moment (the delay is stretched to the next multiple of itself, at most 30
/// s), a batch brings them in together (the template's batching window), and one transaction
/// writes all of their instances and the day item once. The figures stay exact.
#[tokio::test]
async fn meetings_ending_together_settle_in_one_transaction_and_stay_exact() {
    let logs = six_meetings_ending_together("together", &[]).await;
    let applied = metric_values(&logs, "SettleApplied");
    assert_eq!(
        applied.iter().sum::<f64>(),
        6.0,
        "each meeting settled once: {applied:?}"
    );
    assert!(
        applied.iter().any(|n| *n >= 3.0),
        "at least three meetings settled in one transaction: {applied:?}"
    );
}

/// Asserts that the six meetings settled once each, each in a transaction of its own, and that
/// nothing went to the dead-letter queue.
fn each_meeting_settled_alone_once(logs: &str) {
    let applied = metric_values(logs, "SettleApplied");
    assert_eq!(applied.iter().sum::<f64>(), 6.0, "once each: {applied:?}");
    assert!(
        applied.iter().all(|n| *n == 1.0),
        "no group landed: {applied:?}"
    );
    assert!(!logs.contains("\"EventInvalid\""), "nothing dead-lettered");
}

/// A settle of several instances that fails (here injected, as a timeout or contention until
/// the deadline would) leaves its jobs for redelivery, and a job that comes back settles alone:
/// one slow moment cannot carry a whole group to the dead-letter queue. Exact all the same.
#[tokio::test]
async fn a_failed_settle_group_comes_back_and_each_meeting_settles_alone_exactly() {
    let logs =
        six_meetings_ending_together("regroup", &[("ZOOM_FAULT_SETTLE_GROUP", "retry")]).await;
    assert!(
        logs.contains("injected failure of a settle of several instances"),
        "a group was formed and failed"
    );
    let alone = metric_values(&logs, "SettleAlone");
    // The poller makes a failed batch's messages visible again together, 1 s later, inside the
    // next batching window: the group's jobs come back in one batch, redelivered.
    assert!(
        alone.iter().any(|n| *n >= 3.0),
        "the failed group's jobs came back and settled alone: {alone:?}"
    );
    each_meeting_settled_alone_once(&logs);
}

/// A settle of several instances that DynamoDB refuses as invalid is run again at once
/// instance by instance, so only an instance at fault would go to the dead-letter queue; here
/// none is, and every meeting settles once.
#[tokio::test]
async fn an_invalid_settle_group_settles_each_meeting_alone_and_dead_letters_none() {
    let logs =
        six_meetings_ending_together("invalid", &[("ZOOM_FAULT_SETTLE_GROUP", "invalid")]).await;
    assert!(
        logs.contains("a settle of several instances was refused as invalid; settling each alone"),
        "the group was refused and split"
    );
    each_meeting_settled_alone_once(&logs);
}

/// Points stored one per item before points were chunked (`INSTANCE#{uuid}#POINT#{dedup}`) are
/// still counted by a settle, and a redelivery of such an event, now stored in a chunk, counts
/// once: a legacy point and a chunked one of the same delivery are the same point.
#[tokio::test]
async fn points_stored_one_per_item_before_chunks_count_once_with_their_redeliveries() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use sha2::Digest;
    let (env, tenant) = connected_pipeline("legacy-points").await;
    let connection = connection_id(&tenant).await.expect("connected");
    let e = events_of(&env.sim).await;
    let (uuid, id, s) = ("legacy-points==", 4_200_001, yesterday_morning());
    let date = date_of(s);
    // a: 0–30 min, recorded by an earlier processor as one item per point.
    let a = [
        (e.participant(true, uuid, id, s, "a", s), s, true),
        (
            e.participant(false, uuid, id, s, "a", s + 1800),
            s + 1800,
            false,
        ),
    ];
    let (client, table) = dynamodb().await;
    for (body, at, join) in &a {
        let digest = sha2::Sha256::digest(body.as_bytes());
        let dedup: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        client
            .put_item()
            .table_name(&table)
            .item(
                "pk",
                AttributeValue::S(format!("DATA#{tenant}#{connection}")),
            )
            .item(
                "sk",
                AttributeValue::S(format!("INSTANCE#{uuid}#POINT#{dedup}")),
            )
            .item("at", AttributeValue::N(at.to_string()))
            .item("participant", AttributeValue::S("p-a".into()))
            .item("join", AttributeValue::Bool(*join))
            .item("ttl", AttributeValue::N((now() + 86_400).to_string()))
            .send()
            .await
            .expect("legacy point");
    }
    // b: 10–30 min, new; a's events delivered again; the meeting: 0–40 min.
    for body in [
        e.started(uuid, id, s),
        e.participant(true, uuid, id, s, "b", s + 600),
        a[0].0.clone(),
        e.participant(false, uuid, id, s, "b", s + 1800),
        a[1].0.clone(),
        e.ended(uuid, id, s, s + 2400),
    ] {
        deliver(&env.watch.api, &body).await;
    }
    let expected = json!({"meetings_started": 1, "meetings_completed": 1, "total_meeting_minutes": 40,
                          "participant_joins": 2, "participant_minutes": 50, "peak_concurrent_participants": 2});
    until_summary(&env.watch.api, &tenant, &date, &expected).await;
    drained(&env.queues.0).await;
    let after = summary(&env.watch.api, &tenant, &date).await;
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(after[k], *v, "{k}: {after}");
    }
}

/// A meeting that ended longer ago than its points are kept (90 days) is not settled: a settle
/// then would count fewer participants than there were. It says so (`SettleTooLate`, alarmed)
/// and the day stays as it was.
#[tokio::test]
async fn a_meeting_past_its_timelines_retention_is_not_settled_and_says_so() {
    let (env, tenant) = connected_pipeline("toolate").await;
    let e = events_of(&env.sim).await;
    let s = (now() / 86_400 - 100) * 86_400 + 8 * 3600;
    let (uuid, id) = ("too-late==", 4_100_001);
    deliver(&env.watch.api, &e.started(uuid, id, s)).await;
    deliver(&env.watch.api, &e.ended(uuid, id, s, s + 1800)).await;
    let started = Instant::now();
    while !env.watch.logs().contains("\"SettleTooLate\"") {
        assert!(started.elapsed() < PATIENCE, "no SettleTooLate metric");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drained(&env.queues.0).await;
    let day = summary(&env.watch.api, &tenant, &date_of(s)).await;
    assert_eq!(day["meetings_completed"], 0, "{day}");
    assert_eq!(day["total_meeting_minutes"], 0, "{day}");
}

/// A request DynamoDB refuses as invalid is a bug, not contention: the message goes to the
/// dead-letter queue at once (one receive, no retries), with an `EventInvalid` metric, and the
/// events queue is left empty. The emulator is told to refuse this tenant's day items
/// (`invalid_every`), which only a settle writes.
#[tokio::test]
async fn a_write_dynamodb_calls_invalid_goes_to_the_dead_letter_queue_at_once() {
    let dlq = create_queue(&stand_in(
        "ZOOM_EVENTS_DLQ_URL",
        &format!("inv-{}", free_port()),
    ))
    .await;
    let pipeline = isolated_pipeline(
        &[],
        &[("ZOOM_EVENTS_DLQ_URL", dlq.as_str())],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await;
    let tenant = unique("invalid");
    connect(&pipeline.watch.api, &tenant).await;
    let faults = format!(
        "{}/_zoom/faults",
        env("AWS_ENDPOINT_URL").trim_end_matches('/')
    );
    let set = send(client().post(&faults).json(&json!({
        "invalid_every": 1, "key_prefix": format!("ANALYTICS#{tenant}#")
    })))
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let e = events_of(&pipeline.sim).await;
    let s = yesterday_morning();
    let (uuid, id) = ("invalid-settle==", 4_200_001);
    deliver(&pipeline.watch.api, &e.started(uuid, id, s)).await;
    deliver(&pipeline.watch.api, &e.ended(uuid, id, s, s + 1800)).await;
    let started = Instant::now();
    while queue_depth(&dlq).await == 0 {
        assert!(
            started.elapsed() < PATIENCE,
            "nothing reached the dead-letter queue"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drained(&pipeline.queues.0).await;
    let off = send(client().post(&faults).json(&json!({"invalid_every": 0}))).await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(queue_depth(&dlq).await, 1, "the settle job, once");
    let logs = pipeline.watch.logs();
    assert!(logs.contains("\"EventInvalid\""), "the EventInvalid metric");
    assert!(
        !logs.contains("\"SettleRetried\""),
        "an invalid request is not retried"
    );
}
