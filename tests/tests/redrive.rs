//! The dead-letter queue and `zoom-redrive` (#15): events that failed every delivery land in
//! the events queue's dead-letter queue; `zoom-redrive list` shows them (event type, account,
//! error), `zoom-redrive move` brings them back, and they are counted exactly once, even when
//! moved twice or delivered again.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zoom_e2e::*;

async fn deliver(api: &str, body: &str) {
    let secret = env("ZOOM_WEBHOOK_SECRET_TOKEN");
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
    assert_eq!(answer.status, 200, "{}", answer.text);
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

async fn wait_for_depth(queue: &str, depth: u64) {
    let started = Instant::now();
    loop {
        let now = queue_depth(queue).await;
        if now == depth {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{queue} holds {now} messages, not {depth}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Runs `zoom-redrive ARGS` against the test's queue; its standard output.
fn redrive(queue: &str, args: &[&str]) -> String {
    let output = Command::new(env("ZOOM_REDRIVE_BIN"))
        .args(args)
        .env("ZOOM_EVENTS_QUEUE_URL", queue)
        .output()
        .expect("zoom-redrive runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "zoom-redrive {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn dead_lettered_events_are_listed_moved_back_and_counted_once() {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let port = free_port();
    let dlq = create_queue(&format!("e2e-redrive-dlq-{port}")).await;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("arn");
    let name = stand_in("ZOOM_EVENTS_QUEUE_URL", &format!("redrive-{port}"));
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string(),
        )
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    // Intake, auth and analytics work; the processor that first gets the events cannot reach
    // DynamoDB at all (an outage longer than the redrive count), so every event fails twice and
    // goes to the dead-letter queue.
    let env = isolated_with(&[], &[("ZOOM_EVENTS_QUEUE_URL", queue.as_str())], 1).await;
    let tenant = unique("redrive");
    connect(&env.watch.api, &tenant).await;
    let broken = ExtraWatch::start(
        &[
            ("ZOOM_EVENTS_QUEUE_URL", queue.as_str()),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
        "/api/zoom/health",
    )
    .await;
    let outage = start_poller(&broken.api, &[(&queue, "zoom-analytics-processor")]);
    let account = env.sim.get("account").await;
    let (account_id, host) = (
        account["account_id"].as_str().expect("account").to_owned(),
        account["authorizing_user"]["id"]
            .as_str()
            .expect("host")
            .to_owned(),
    );
    let s = (now() / 86_400 - 1) * 86_400 + 10 * 3600;
    let object = |extra: Value| {
        let mut o = json!({"id": "7007", "uuid": "redriven==", "host_id": host, "topic": "redriven",
                           "type": 2, "start_time": iso(s), "duration": 30});
        for (k, v) in extra.as_object().expect("object") {
            o[k] = v.clone();
        }
        o
    };
    let event = |name: &str, extra: Value| {
        json!({"event": name, "event_ts": s * 1000, "payload": {"account_id": account_id, "object": object(extra)}})
            .to_string()
    };
    let person = |time: &str, at: i64| json!({"participant": {"participant_uuid": "p-r", "user_name": "R", time: iso(at)}});
    let events = [
        event("meeting.started", json!({})),
        event("meeting.participant_joined", person("join_time", s + 60)),
        event("meeting.participant_left", person("leave_time", s + 660)),
        event("meeting.ended", json!({"end_time": iso(s + 1200)})),
    ];
    for body in &events {
        deliver(&env.watch.api, body).await;
    }
    wait_for_depth(&dlq, 4).await;
    wait_for_depth(&queue, 0).await;
    drop(outage);
    drop(broken);
    let listed = redrive(&queue, &["list", "events"]);
    assert!(listed.contains("# 4 message(s)"), "{listed}");
    for kind in [
        "meeting.started",
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.ended",
    ] {
        assert!(listed.contains(kind), "{kind} listed: {listed}");
    }
    assert!(
        listed.contains(&format!("account {account_id}")),
        "{listed}"
    );
    assert_eq!(
        listed.matches("exceeded the redrive count").count(),
        4,
        "{listed}"
    );
    // Listing moved nothing.
    wait_for_depth(&dlq, 4).await;
    // The outage is over: a working processor, and the events moved back.
    let _poller = start_poller(&env.watch.api, &[(&queue, "zoom-analytics-processor")]);
    let moved = redrive(&queue, &["move", "events", "--all"]);
    assert!(moved.contains("# 4 moved"), "{moved}");
    let date = date_of(s);
    let expected = json!({"meetings_started": 1, "meetings_completed": 1, "total_meeting_minutes": 20,
                          "participant_joins": 1, "participant_minutes": 10});
    let started = Instant::now();
    loop {
        let got = summary(&env.watch.api, &tenant, &date).await;
        if expected
            .as_object()
            .expect("object")
            .iter()
            .all(|(k, v)| got[k] == *v)
        {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "never counted: {got}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for_depth(&dlq, 0).await;
    // Moving again finds nothing; Zoom delivering the same events again changes nothing.
    let again = redrive(&queue, &["move", "events", "--all"]);
    assert!(again.contains("# 0 moved"), "{again}");
    for body in &events {
        deliver(&env.watch.api, body).await;
    }
    wait_for_depth(&queue, 0).await;
    let after = summary(&env.watch.api, &tenant, &date).await;
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(after[k], *v, "{k}: {after}");
    }
}
