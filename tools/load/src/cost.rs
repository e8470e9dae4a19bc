//! `zoom-load cost`: measured AWS requests and DynamoDB capacity per webhook event (issue #14).
//!
//! Connects a fresh tenant, resets the emulator's meter (`tools/stack/moto_server.py`,
//! `/_zoom/meter`), sends a scenario's signed webhooks, waits (polling) until the analytics
//! API shows exactly what was sent and the events queue is drained, then reads the meter and
//! prints, per scenario, the requests per event by service and operation, the capacity units
//! per event by principal, the largest item, and what a million such events cost on demand.
//! The verdicts (capacity within 10 % across scenarios, largest item ≤ 4 KB, ≤ $2 per million
//! events) are reported, not enforced: they are what is measured.
//!
//! Scenarios: `small` (50 meetings of 8 events in one day), `day` (the same sample on a day
//! already holding 10,000 meetings), `meeting` (one meeting of 1,000 participants).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};

use crate::stack::Stack;

/// On-demand prices, us-east-1 (USD).
const WRU_PRICE: f64 = 0.625 / 1e6;
const RRU_PRICE: f64 = 0.125 / 1e6;
const SQS_PRICE: f64 = 0.40 / 1e6;
const LAMBDA_REQUEST_PRICE: f64 = 0.20 / 1e6;
const LAMBDA_GB_SECOND_PRICE: f64 = 0.000_013_333_4;
const API_GATEWAY_PRICE: f64 = 1.00 / 1e6;
/// template.yaml's memory sizes (GB): the intake 128 MB, the processor the global 256 MB.
const INTAKE_GB: f64 = 0.125;
const PROCESSOR_GB: f64 = 0.25;
/// The intake's duration in AWS (release build, ≈ 10 ms; docs/benchmarks.md); the local debug
/// build behind cargo lambda watch is no measure of it.
const INTAKE_SECONDS: f64 = 0.010;
/// The processor's duration when the poller's log gives none.
const PROCESSOR_SECONDS_ASSUMED: f64 = 0.150;
/// Principals whose requests are the measurement's own (analytics polls, queue checks).
const OVERHEAD: [&str; 2] = ["zoom-analytics", "zoom-load"];
const WEBHOOKS: &str = "zoom-webhooks";
const PROCESSOR: &str = "zoom-analytics-processor";

/// Options of `cost`.
#[derive(Debug, Clone)]
pub struct Options {
    /// `small`, `day`, `meeting` or `all` (the three in turn).
    pub scenario: String,
    /// Meetings of the scenario: small's meetings (50), day's seed (10,000).
    pub meetings: Option<usize>,
    /// Participants of the meeting scenario (1,000).
    pub participants: usize,
    /// Concurrent senders.
    pub senders: usize,
    /// Events per second of the measured sample (0: as fast as the senders go). Every scenario
    /// is sent at the same pace, so their batches are alike and the counts compare.
    pub rate: usize,
    /// Longest wait for each phase to become exact, in seconds.
    pub timeout: u64,
    /// Where to write the results as JSON too.
    pub json: Option<String>,
}

/// Parses `cost`'s arguments.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        scenario: "small".into(),
        meetings: None,
        participants: 1_000,
        senders: 32,
        rate: 20,
        timeout: 3_600,
        json: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<String, String> {
            it.next().cloned().ok_or(format!("{name} needs a value"))
        };
        let number = |name: &str, v: String| -> Result<usize, String> {
            v.parse().map_err(|_| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--scenario" => options.scenario = value("--scenario")?,
            "--meetings" => options.meetings = Some(number("--meetings", value("--meetings")?)?),
            "--participants" => {
                options.participants = number("--participants", value("--participants")?)?.max(1)
            }
            "--senders" => options.senders = number("--senders", value("--senders")?)?.max(1),
            "--rate" => options.rate = number("--rate", value("--rate")?)?,
            "--timeout" => options.timeout = number("--timeout", value("--timeout")?)? as u64,
            "--json" => options.json = Some(value("--json")?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !["small", "day", "meeting", "all"].contains(&options.scenario.as_str()) {
        return Err(format!(
            "unknown scenario {} (small, day, meeting, all)",
            options.scenario
        ));
    }
    Ok(options)
}

/// The analytics totals of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Totals {
    started: i64,
    completed: i64,
    minutes: i64,
    joins: i64,
    participant_minutes: i64,
    peak: i64,
}

impl Totals {
    fn of(summary: &Value) -> Self {
        let n = |k: &str| summary[k].as_i64().unwrap_or(-1);
        Self {
            started: n("meetings_started"),
            completed: n("meetings_completed"),
            minutes: n("total_meeting_minutes"),
            joins: n("participant_joins"),
            participant_minutes: n("participant_minutes"),
            peak: n("peak_concurrent_participants"),
        }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            started: self.started + other.started,
            completed: self.completed + other.completed,
            minutes: self.minutes + other.minutes,
            joins: self.joins + other.joins,
            participant_minutes: self.participant_minutes + other.participant_minutes,
            peak: self.peak.max(other.peak),
        }
    }
}

/// A meeting to send: its events (in time order) and what it adds to the day.
struct Meeting {
    events: Vec<String>,
    totals: Totals,
}

fn iso(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Meeting `i` of the run: it starts at `start`, lasts `minutes`, and each participant joins and
/// leaves at the given minutes after the start (no participants: started and ended only).
fn meeting(
    run: &str,
    account: &str,
    host: &str,
    i: usize,
    start: i64,
    minutes: i64,
    participants: &[(i64, i64)],
) -> Meeting {
    let object = json!({
        "id": (80_000_000_000 + i as i64).to_string(), "uuid": format!("{run}-{i}=="),
        "host_id": host, "topic": format!("Cost {i}"), "type": 2,
        "start_time": iso(start), "duration": minutes, "timezone": "UTC",
    });
    let event = |name: &str, extra: Value, at: i64| {
        let mut object = object.clone();
        if let (Some(o), Some(e)) = (object.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        (
            at,
            json!({"event": name, "event_ts": at * 1000, "payload": {"account_id": account, "object": object}})
                .to_string(),
        )
    };
    let mut timed = vec![event("meeting.started", json!({}), start)];
    for (p, (join, leave)) in participants.iter().enumerate() {
        let participant = |key: &str, at: i64| {
            json!({"participant": {"user_id": format!("{p}"), "user_name": format!("P{p}"),
                "participant_uuid": format!("{run}-{i}-p{p}"), key: iso(at)}})
        };
        let (joined, left) = (start + join * 60, start + leave * 60);
        timed.push(event(
            "meeting.participant_joined",
            participant("join_time", joined),
            joined,
        ));
        timed.push(event(
            "meeting.participant_left",
            participant("leave_time", left),
            left,
        ));
    }
    let end = start + minutes * 60;
    timed.push(event("meeting.ended", json!({"end_time": iso(end)}), end));
    // Zoom sends in time order (a stable sort keeps each participant's join before its leave).
    timed.sort_by_key(|(at, _)| *at);
    let mut peak = 0i64;
    for minute in 0..=minutes {
        let present = participants
            .iter()
            .filter(|(j, l)| *j <= minute && minute < *l)
            .count() as i64;
        peak = peak.max(present);
    }
    Meeting {
        events: timed.into_iter().map(|(_, e)| e).collect(),
        totals: Totals {
            started: 1,
            completed: 1,
            minutes,
            joins: participants.len() as i64,
            participant_minutes: participants.iter().map(|(j, l)| l - j).sum(),
            peak,
        },
    }
}

/// Three participants that overlap (peak 3), 30 minutes: 8 events.
const SMALL: [(i64, i64); 3] = [(0, 20), (5, 25), (10, 30)];

/// The start of meeting `i` within the day: spread over it, each ending the same day.
fn start_in_day(day: i64, i: usize) -> i64 {
    day + 60 + (i as i64 * 37) % (86_400 - 2 * 3_600)
}

/// What sending measured.
#[derive(Debug, Default, Clone)]
struct Sent {
    attempts: usize,
    acknowledged: usize,
    statuses: BTreeMap<String, usize>,
    seconds: f64,
}

/// Sends signed webhook bodies with `senders` concurrent senders that retry like Zoom until
/// acknowledged (at most 40 attempts each), body `i` not before `i / rate` seconds from the
/// start (`rate` 0: no pace).
async fn send(
    stack: &Stack,
    bodies: Vec<String>,
    senders: usize,
    rate: usize,
) -> Result<Sent, String> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (bodies, next) = (bodies.clone(), next.clone());
        let (http, url, signer) = (
            stack.http.clone(),
            format!("{}/api/zoom/webhooks", stack.api),
            stack.signer(),
        );
        tasks.push(tokio::spawn(async move {
            let mut sent = Sent::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                if rate > 0 {
                    let at = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(at.into()).await;
                }
                for attempt in 0..40u64 {
                    let ts = Utc::now().timestamp().to_string();
                    let answer = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-zm-request-timestamp", &ts)
                        .header("x-zm-signature", signer.sign(&ts, body))
                        .body(body.clone())
                        .send()
                        .await;
                    sent.attempts += 1;
                    let status = match &answer {
                        Ok(r) => r.status().as_u16().to_string(),
                        Err(_) => "transport".to_owned(),
                    };
                    *sent.statuses.entry(status.clone()).or_default() += 1;
                    if status == "200" {
                        sent.acknowledged += 1;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis((250 * (attempt + 1)).min(2000)))
                        .await;
                }
            }
            sent
        }));
    }
    let mut all = Sent::default();
    for task in tasks {
        let sent = task.await.map_err(|e| e.to_string())?;
        all.attempts += sent.attempts;
        all.acknowledged += sent.acknowledged;
        for (k, v) in sent.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    all.seconds = started.elapsed().as_secs_f64();
    Ok(all)
}

/// The emulator's meter and the events queue, through the AWS endpoint.
pub(crate) struct Aws {
    endpoint: String,
    queue_url: String,
    /// The events queue's dead-letter queue.
    dlq_url: String,
    table: String,
    poller_log: Option<String>,
    http: reqwest::Client,
}

fn env_file_value(path: &str, name: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_owned))
    })
}

impl Aws {
    pub(crate) fn from_env(http: reqwest::Client) -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name)
                .map_err(|_| format!("{name} is not set: run through tools/stack/stack.sh cost"))
        };
        let env_file = var("ZOOM_STACK_ENV_FILE")?;
        let value =
            |name: &str| env_file_value(&env_file, name).ok_or(format!("{env_file} has no {name}"));
        Ok(Self {
            endpoint: var("AWS_ENDPOINT_URL")?.trim_end_matches('/').to_owned(),
            dlq_url: value("ZOOM_EVENTS_DLQ_URL").unwrap_or_else(|_| {
                value("ZOOM_EVENTS_QUEUE_URL")
                    .map(|u| u.replace("-events-queue", "-events-dead-letter-queue"))
                    .unwrap_or_default()
            }),
            queue_url: value("ZOOM_EVENTS_QUEUE_URL")?,
            table: value("ZOOM_TABLE_NAME")?,
            poller_log: std::env::var("ZOOM_POLLER_LOG").ok(),
            http,
        })
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let answer = self
            .http
            .get(format!("{}{path}", self.endpoint))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !answer.status().is_success() {
            return Err(format!("GET {path}: {}", answer.status()));
        }
        answer.json().await.map_err(|e| e.to_string())
    }

    async fn reset(&self) -> Result<(), String> {
        self.http
            .post(format!("{}/_zoom/meter/reset", self.endpoint))
            .body("{}")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Messages in the events queue, visible, in flight and delayed.
    pub(crate) async fn queue_depth(&self) -> Result<u64, String> {
        self.depth(&self.queue_url).await
    }

    /// Messages in the events' dead-letter queue.
    async fn dead_letters(&self) -> Result<u64, String> {
        self.depth(&self.dlq_url).await
    }

    /// Messages in a queue, visible, in flight and delayed (SQS's JSON protocol, signed as the
    /// meter's own principal `zoom-load`; the emulator checks no signature).
    async fn depth(&self, queue_url: &str) -> Result<u64, String> {
        let date = Utc::now().format("%Y%m%d");
        let answer = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "AmazonSQS.GetQueueAttributes")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=zoom-load/{date}/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .json(&json!({"QueueUrl": queue_url, "AttributeNames": ["All"]}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = answer.json().await.map_err(|e| e.to_string())?;
        let attributes = &body["Attributes"];
        let count = |k: &str| {
            attributes[k]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(format!("no {k} in {body}"))
        };
        Ok(count("ApproximateNumberOfMessages")?
            + count("ApproximateNumberOfMessagesNotVisible")?
            + count("ApproximateNumberOfMessagesDelayed").unwrap_or(0))
    }

    /// The poller's log so far, in bytes (to read only what comes after).
    fn log_offset(&self) -> u64 {
        self.poller_log
            .as_deref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// The processor's invocations since `offset`, and their wall times (ms) when logged.
    fn invocations(&self, offset: u64) -> Option<(usize, Vec<f64>)> {
        let text = std::fs::read(self.poller_log.as_deref()?).ok()?;
        let start = usize::try_from(offset).ok()?.min(text.len());
        let text = String::from_utf8_lossy(&text[start..]);
        let mut count = 0;
        let mut times = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(&format!("sqs-poller: {PROCESSOR} handled ")) else {
                continue;
            };
            count += 1;
            if let Some(ms) = rest
                .rsplit_once(" in ")
                .and_then(|(_, t)| t.strip_suffix(" ms"))
                .and_then(|t| t.parse::<f64>().ok())
            {
                times.push(ms);
            }
        }
        Some((count, times))
    }

    /// Messages the processor handled without failing since `offset` (the poller's
    /// `handled N message(s), F failed` lines): the events processed so far.
    fn processed(&self, offset: u64) -> Option<usize> {
        let text = std::fs::read(self.poller_log.as_deref()?).ok()?;
        let start = usize::try_from(offset).ok()?.min(text.len());
        let text = String::from_utf8_lossy(&text[start..]);
        let number = |t: &str| {
            t.split_whitespace()
                .next()
                .and_then(|n| n.parse::<usize>().ok())
        };
        Some(
            text.lines()
                .filter_map(|l| l.strip_prefix(&format!("sqs-poller: {PROCESSOR} handled ")))
                .filter_map(|rest| {
                    let (handled, failed) = rest.split_once(" message(s), ")?;
                    Some(number(handled)?.saturating_sub(number(failed)?))
                })
                .sum(),
        )
    }
}

/// The day's analytics totals, as the API answers them.
async fn analytics(stack: &Stack, tenant: &str, date: &str) -> Option<Totals> {
    let answer = stack
        .http
        .get(format!(
            "{}/api/zoom/analytics/meetings?from={date}&to={date}",
            stack.api
        ))
        .bearer_auth(stack.jwt(tenant))
        .send()
        .await
        .ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let body: Value = answer.json().await.ok()?;
    Some(Totals::of(&body["summary"]))
}

/// Polls until the analytics are exactly `want` and the events queue is empty, at most
/// `timeout` (or until the queue is empty with events in the dead-letter queue: nothing more
/// will come); the last totals seen, and whether both held.
async fn settle(
    stack: &Stack,
    aws: &Aws,
    tenant: &str,
    date: &str,
    want: Totals,
    timeout: Duration,
) -> (Totals, bool, f64) {
    let started = Instant::now();
    let mut got = Totals::default();
    while started.elapsed() < timeout {
        if let Some(now) = analytics(stack, tenant, date).await {
            got = now;
            let exact = Totals {
                peak: if got.peak < 0 { -1 } else { want.peak },
                ..want
            } == got;
            let drained = aws.queue_depth().await.ok() == Some(0);
            if exact && drained {
                return (got, true, started.elapsed().as_secs_f64());
            }
            if drained && aws.dead_letters().await.unwrap_or(0) > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    (got, false, started.elapsed().as_secs_f64())
}

/// One scenario's measurement.
struct Measured {
    name: String,
    description: String,
    events: usize,
    sent: Sent,
    expected: Totals,
    got: Totals,
    exact: bool,
    settle_seconds: f64,
    meter: Value,
    items: Value,
    invocations: Option<(usize, Vec<f64>)>,
    /// Events the processor completed (the poller's log), when known.
    processed: Option<usize>,
    /// Messages in the events' dead-letter queue at the end.
    dead_letters: Option<u64>,
    notes: Vec<String>,
}

/// Requests, WRU and RRU of one principal/service/operation entry.
fn entry_numbers(entry: &Value) -> (f64, f64, f64) {
    (
        entry["requests"].as_f64().unwrap_or(0.0),
        entry["wru"].as_f64().unwrap_or(0.0),
        entry["rru"].as_f64().unwrap_or(0.0),
    )
}

/// What the measured counts cost per million events, with the arithmetic.
struct Cost {
    lines: Vec<(String, String, f64)>,
    total: f64,
    /// The total with the processor's duration assumed as in AWS (150 ms per invocation)
    /// instead of the local wall time.
    total_aws_duration: f64,
    /// The processor's duration line under that assumption.
    aws_duration: (String, f64),
    api_gateway: f64,
    wru: f64,
    rru: f64,
}

impl Measured {
    fn per_event(&self, value: f64) -> f64 {
        value / self.events.max(1) as f64
    }

    /// (principal, service, operation, requests, wru, rru) of every metered request that the
    /// events cost (not the measurement's own; the poller's empty long polls apart).
    fn rows(&self) -> Vec<(String, String, String, f64, f64, f64)> {
        let mut rows = Vec::new();
        if let Some(principals) = self.meter["by_principal"].as_object() {
            for (principal, services) in principals {
                if OVERHEAD.contains(&principal.as_str()) {
                    continue;
                }
                for (service, operations) in services.as_object().into_iter().flatten() {
                    for (operation, entry) in operations.as_object().into_iter().flatten() {
                        let (requests, wru, rru) = entry_numbers(entry);
                        if service == "sqs" && operation == "ReceiveMessage" {
                            let nonempty = entry["nonempty"].as_f64().unwrap_or(0.0);
                            rows.push((
                                principal.clone(),
                                service.clone(),
                                "ReceiveMessage (with messages)".into(),
                                nonempty,
                                0.0,
                                0.0,
                            ));
                            rows.push((
                                principal.clone(),
                                service.clone(),
                                "ReceiveMessage (empty: idle long polls, not per event)".into(),
                                requests - nonempty,
                                0.0,
                                0.0,
                            ));
                            continue;
                        }
                        rows.push((
                            principal.clone(),
                            service.clone(),
                            operation.clone(),
                            requests,
                            wru,
                            rru,
                        ));
                    }
                }
            }
        }
        rows
    }

    fn billed_rows(&self) -> Vec<(String, String, String, f64, f64, f64)> {
        self.rows()
            .into_iter()
            .filter(|r| !r.2.starts_with("ReceiveMessage (empty"))
            .collect()
    }

    fn units_by(&self, principal: &str) -> (f64, f64) {
        self.billed_rows()
            .iter()
            .filter(|r| match principal {
                "others" => r.0 != WEBHOOKS && r.0 != PROCESSOR,
                p => r.0 == p,
            })
            .fold((0.0, 0.0), |(w, r), row| (w + row.4, r + row.5))
    }

    fn sqs_requests(&self) -> f64 {
        self.billed_rows()
            .iter()
            .filter(|r| r.1 == "sqs")
            .map(|r| r.3)
            .sum()
    }

    fn processor_seconds(&self) -> (f64, bool) {
        match &self.invocations {
            Some((_, times)) if !times.is_empty() => (
                times.iter().sum::<f64>() / times.len() as f64 / 1000.0,
                true,
            ),
            _ => (PROCESSOR_SECONDS_ASSUMED, false),
        }
    }

    fn processor_invocations(&self) -> f64 {
        match &self.invocations {
            Some((count, _)) => *count as f64,
            // Without the poller's log: one invocation per receive that carried messages.
            None => self
                .rows()
                .iter()
                .filter(|r| r.0 != WEBHOOKS && r.2 == "ReceiveMessage (with messages)")
                .map(|r| r.3)
                .sum(),
        }
    }

    fn cost(&self) -> Cost {
        let m = 1e6;
        let (w_total, r_total) = self
            .billed_rows()
            .iter()
            .fold((0.0, 0.0), |(w, r), row| (w + row.4, r + row.5));
        let wru = self.per_event(w_total);
        let rru = self.per_event(r_total);
        let sqs = self.per_event(self.sqs_requests());
        // One intake invocation (and API Gateway request) per delivery attempt.
        let intake = self.per_event(self.sent.attempts as f64);
        let processor = self.per_event(self.processor_invocations());
        let (seconds, measured) = self.processor_seconds();
        let mut lines = vec![
            (
                "DynamoDB writes".to_owned(),
                format!("{wru:.3} WRU × 1M × $0.625/1M"),
                wru * m * WRU_PRICE,
            ),
            (
                "DynamoDB reads".to_owned(),
                format!("{rru:.3} RRU × 1M × $0.125/1M"),
                rru * m * RRU_PRICE,
            ),
            (
                "SQS (standard)".to_owned(),
                format!("{sqs:.3} requests × 1M × $0.40/1M"),
                sqs * m * SQS_PRICE,
            ),
            (
                "Lambda invocations".to_owned(),
                format!("({intake:.3} intake + {processor:.3} processor) × 1M × $0.20/1M"),
                (intake + processor) * m * LAMBDA_REQUEST_PRICE,
            ),
            (
                "Lambda duration, intake".to_owned(),
                format!(
                    "{intake:.3} × 1M × {INTAKE_SECONDS} s (assumed, release build) × 0.125 GB × $0.0000133334"
                ),
                intake * m * INTAKE_SECONDS * INTAKE_GB * LAMBDA_GB_SECOND_PRICE,
            ),
            (
                "Lambda duration, processor".to_owned(),
                format!(
                    "{processor:.3} × 1M × {seconds:.3} s ({}) × 0.25 GB × $0.0000133334",
                    if measured {
                        "measured mean wall time per invocation, debug build on moto"
                    } else {
                        "assumed"
                    }
                ),
                processor * m * seconds * PROCESSOR_GB * LAMBDA_GB_SECOND_PRICE,
            ),
        ];
        let total: f64 = lines.iter().map(|l| l.2).sum();
        let processor_line = lines.last().map(|l| l.2).unwrap_or(0.0);
        let assumed =
            processor * m * PROCESSOR_SECONDS_ASSUMED * PROCESSOR_GB * LAMBDA_GB_SECOND_PRICE;
        lines.retain(|l| l.2 > 0.0 || l.0.starts_with("DynamoDB"));
        Cost {
            lines,
            total,
            total_aws_duration: total - processor_line + assumed,
            aws_duration: (
                format!(
                    "{processor:.3} × 1M × {PROCESSOR_SECONDS_ASSUMED} s (assumed, release build in AWS) × 0.25 GB × $0.0000133334"
                ),
                assumed,
            ),
            api_gateway: intake * m * API_GATEWAY_PRICE,
            wru,
            rru,
        }
    }

    fn report(&self) -> String {
        let mut out = String::new();
        let e = self.events.max(1) as f64;
        let _ = writeln!(out, "## scenario `{}`: {}", self.name, self.description);
        let _ = writeln!(
            out,
            "\n- measured events: {} ({} delivery attempts, {} acknowledged, answers {:?}) sent in {:.1} s",
            self.events,
            self.sent.attempts,
            self.sent.acknowledged,
            self.sent.statuses,
            self.sent.seconds
        );
        let _ = writeln!(
            out,
            "- analytics exact and queue drained: **{}** after {:.1} s more (expected {:?}, got {:?})",
            self.exact, self.settle_seconds, self.expected, self.got
        );
        if let Some(processed) = self.processed
            && !self.exact
        {
            let _ = writeln!(
                out,
                "- **not exact**: the processor completed {processed} of the {} events by the timeout; every per-event figure below divides by all {} events sent (the processor's share per processed event is {:.2}× larger)",
                self.events,
                self.events,
                self.events as f64 / processed.max(1) as f64
            );
        }
        if let Some(n) = self.dead_letters.filter(|n| *n > 0) {
            let _ = writeln!(
                out,
                "- **{n} events in the dead-letter queue** (failed 5 times): the analytics cannot become exact without a redrive"
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        let _ = writeln!(
            out,
            "\n| principal | service | operation | requests per event | WRU per event | RRU per event |\n|---|---|---|---|---|---|"
        );
        let mut rows = self.rows();
        rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
        for (principal, service, operation, requests, wru, rru) in &rows {
            let _ = writeln!(
                out,
                "| {principal} | {service} | {operation} | {:.3} | {:.3} | {:.3} |",
                requests / e,
                wru / e,
                rru / e
            );
        }
        let _ = writeln!(out, "\n| DynamoDB per event | WRU | RRU |\n|---|---|---|");
        let mut sum = (0.0, 0.0);
        for principal in [WEBHOOKS, PROCESSOR, "others"] {
            let (w, r) = self.units_by(principal);
            sum = (sum.0 + w, sum.1 + r);
            let _ = writeln!(out, "| {principal} | {:.3} | {:.3} |", w / e, r / e);
        }
        let _ = writeln!(
            out,
            "| **total** | **{:.3}** | **{:.3}** |",
            sum.0 / e,
            sum.1 / e
        );
        let _ = writeln!(
            out,
            "\n- SQS requests per event: **{:.3}** (receives with messages, deletes, sends; idle empty receives excluded)",
            self.sqs_requests() / e
        );
        match &self.invocations {
            Some((count, times)) => {
                let (seconds, measured) = self.processor_seconds();
                let _ = writeln!(
                    out,
                    "- processor invocations: {count} ({:.3} per event), {} wall time per invocation {:.0} ms",
                    *count as f64 / e,
                    if measured {
                        "mean measured"
                    } else {
                        "no timing logged; assumed"
                    },
                    seconds * 1000.0
                );
                if !times.is_empty() {
                    let mut sorted = times.clone();
                    sorted.sort_by(f64::total_cmp);
                    let _ = writeln!(
                        out,
                        "  (p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms)",
                        crate::stack::quantile(&sorted, 0.5),
                        crate::stack::quantile(&sorted, 0.99),
                        sorted.last().copied().unwrap_or(0.0)
                    );
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "- processor invocations: {:.0} (receives that carried messages; no poller log)",
                    self.processor_invocations()
                );
            }
        }
        let largest = self.items["max_item_bytes"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "- largest item of the tenant: **{largest} bytes** ({}), {} items",
            self.items["max_item_key"]["kind"].as_str().unwrap_or("?"),
            self.items["items"]
        );
        if let Some(kinds) = self.items["by_kind"].as_object() {
            let mut kinds: Vec<_> = kinds.iter().collect();
            kinds.sort_by_key(|(_, v)| std::cmp::Reverse(v["max_bytes"].as_u64().unwrap_or(0)));
            let listed: Vec<String> = kinds
                .iter()
                .take(6)
                .map(|(k, v)| format!("`{k}` {} × ≤ {} B", v["count"], v["max_bytes"]))
                .collect();
            let _ = writeln!(out, "  (by kind: {})", listed.join(", "));
        }
        let cost = self.cost();
        let _ = writeln!(
            out,
            "\n| on demand, per million events | arithmetic | USD |\n|---|---|---|"
        );
        for (name, arithmetic, usd) in &cost.lines {
            let _ = writeln!(out, "| {name} | {arithmetic} | {usd:.3} |");
        }
        let _ = writeln!(out, "| **total** | | **{:.3}** |", cost.total);
        let _ = writeln!(
            out,
            "| (the processor's duration as in AWS instead) | {} | {:.3} |\n| **total, the processor's duration as in AWS** | | **{:.3}** |",
            cost.aws_duration.0, cost.aws_duration.1, cost.total_aws_duration
        );
        let _ = writeln!(
            out,
            "| API Gateway HTTP API (outside the total) | {:.3} requests × 1M × $1.00/1M | {:.3} |",
            cost.api_gateway, cost.api_gateway
        );
        let overhead: Vec<String> = OVERHEAD
            .iter()
            .filter_map(|p| {
                let services = self.meter["by_principal"][*p].as_object()?;
                let requests: f64 = services
                    .values()
                    .flat_map(|ops| ops.as_object().into_iter().flatten())
                    .map(|(_, entry)| entry_numbers(entry).0)
                    .sum();
                Some(format!("{p} {requests:.0} requests"))
            })
            .collect();
        if !overhead.is_empty() {
            let _ = writeln!(
                out,
                "\n(not counted: the measurement's own requests, {})",
                overhead.join(", ")
            );
        }
        out
    }

    fn summary(&self) -> Value {
        let cost = self.cost();
        json!({
            "scenario": self.name, "events": self.events, "attempts": self.sent.attempts,
            "exact": self.exact, "wru_per_event": cost.wru, "rru_per_event": cost.rru,
            "sqs_per_event": self.sqs_requests() / self.events.max(1) as f64,
            "max_item_bytes": self.items["max_item_bytes"], "max_item_kind": self.items["max_item_key"]["kind"],
            "usd_per_million": cost.total, "usd_per_million_aws_duration": cost.total_aws_duration,
            "api_gateway_usd_per_million": cost.api_gateway,
            "processor_invocations": self.processor_invocations(),
            "processed": self.processed, "dead_letters": self.dead_letters,
            "processor_seconds": self.processor_seconds().0,
            "meter": self.meter,
        })
    }
}

/// The scenario's tenant, day and account, connected.
struct Tenant {
    id: String,
    account: String,
    /// The connected Zoom user: the host of every meeting (events reach the owners of their
    /// host's data).
    host: String,
    day: i64,
    date: String,
}

async fn tenant(stack: &Stack, scenario: &str) -> Result<Tenant, String> {
    let id = format!("cost-{scenario}-{}", Utc::now().timestamp_millis());
    // Each scenario's tenant connects as a Zoom user of its own: events reach every tenant
    // that owns their host's data, so a user shared with an earlier scenario's tenant would
    // make every event count (and cost) once per tenant.
    let user = match scenario {
        "small" => 1,
        "meeting" => 2,
        _ => 3,
    };
    stack
        .sim_post("config", json!({"authorizing_user": user}))
        .await?;
    stack.connect(&id).await?;
    let world = stack.sim_get("account").await?;
    let account = world["account_id"]
        .as_str()
        .ok_or("the simulator has no account id")?
        .to_owned();
    let host = world["authorizing_user"]["id"]
        .as_str()
        .ok_or("the simulator has no authorizing user")?
        .to_owned();
    let day = (Utc::now().timestamp() / 86_400 - 1) * 86_400;
    let date = Utc
        .timestamp_opt(day, 0)
        .single()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Ok(Tenant {
        id,
        account,
        host,
        day,
        date,
    })
}

async fn scenario(
    stack: &Stack,
    aws: &Aws,
    name: &str,
    options: &Options,
) -> Result<Measured, String> {
    let t = tenant(stack, name).await?;
    let timeout = Duration::from_secs(options.timeout);
    let mut notes = Vec::new();
    let mut base = Totals::default();
    let (description, sample): (String, Vec<Meeting>) = match name {
        "small" => {
            let n = options.meetings.unwrap_or(50);
            (
                format!(
                    "{n} meetings in one day, each started, 3 overlapping participants joining and leaving, ended (8 events each)"
                ),
                (0..n)
                    .map(|i| {
                        meeting(
                            &t.id,
                            &t.account,
                            &t.host,
                            i,
                            start_in_day(t.day, i),
                            30,
                            &SMALL,
                        )
                    })
                    .collect(),
            )
        }
        "day" => {
            let seed = options.meetings.unwrap_or(10_000);
            let seeding: Vec<Meeting> = (0..seed)
                .map(|i| {
                    meeting(
                        &t.id,
                        &t.account,
                        &t.host,
                        i,
                        start_in_day(t.day, i),
                        30,
                        &[],
                    )
                })
                .collect();
            for m in &seeding {
                base = base.plus(m.totals);
            }
            let bodies: Vec<String> = seeding.into_iter().flat_map(|m| m.events).collect();
            let count = bodies.len();
            let sent = send(stack, bodies, options.senders.max(64), 0).await?;
            let (got, exact, seconds) = settle(stack, aws, &t.id, &t.date, base, timeout).await;
            notes.push(format!(
                "seed: {seed} meetings (started + ended: {count} events) sent in {:.1} s; exact after {seconds:.1} s more: {exact} (expected {base:?}, got {got:?})",
                sent.seconds
            ));
            if !exact {
                notes.push(format!(
                    "the seed did not become exact within --timeout {} s: the sample was not measured",
                    options.timeout
                ));
                let items = aws
                    .get(&format!(
                        "/_zoom/meter/items?table={}&pk_contains={}",
                        aws.table, t.id
                    ))
                    .await
                    .unwrap_or(Value::Null);
                return Ok(Measured {
                    name: name.into(),
                    description: format!("seed of {seed} meetings (not finished)"),
                    events: count,
                    sent,
                    expected: base,
                    got,
                    exact: false,
                    settle_seconds: seconds,
                    meter: aws.get("/_zoom/meter").await.unwrap_or(Value::Null),
                    items,
                    invocations: None,
                    processed: None,
                    dead_letters: aws.dead_letters().await.ok(),
                    notes,
                });
            }
            (
                format!("50 meetings of 8 events on a day already holding {seed} meetings"),
                (seed..seed + 50)
                    .map(|i| {
                        meeting(
                            &t.id,
                            &t.account,
                            &t.host,
                            i,
                            start_in_day(t.day, i),
                            30,
                            &SMALL,
                        )
                    })
                    .collect(),
            )
        }
        _ => {
            let n = options.participants;
            // Everyone joins in the first 10 minutes and stays 20: all n present at once.
            let participants: Vec<(i64, i64)> = (0..n)
                .map(|p| ((p % 10) as i64, (p % 10) as i64 + 20))
                .collect();
            (
                format!(
                    "one meeting of {n} participants (start, {n} joins, {n} leaves, end: {} events; peak {n})",
                    2 * n + 2
                ),
                vec![meeting(
                    &t.id,
                    &t.account,
                    &t.host,
                    0,
                    t.day + 3_600,
                    30,
                    &participants,
                )],
            )
        }
    };
    let mut expected = base;
    for m in &sample {
        expected = expected.plus(m.totals);
    }
    let bodies: Vec<String> = sample.into_iter().flat_map(|m| m.events).collect();
    let events = bodies.len();
    aws.reset().await?;
    let offset = aws.log_offset();
    let sent = send(stack, bodies, options.senders, options.rate).await?;
    let (got, exact, settle_seconds) = settle(stack, aws, &t.id, &t.date, expected, timeout).await;
    let meter = aws.get("/_zoom/meter").await?;
    let invocations = aws.invocations(offset);
    let processed = aws.processed(offset);
    let dead_letters = aws.dead_letters().await.ok();
    let items = aws
        .get(&format!(
            "/_zoom/meter/items?table={}&pk_contains={}",
            aws.table, t.id
        ))
        .await?;
    Ok(Measured {
        name: name.into(),
        description,
        events,
        sent,
        expected,
        got,
        exact,
        settle_seconds,
        meter,
        items,
        invocations,
        processed,
        dead_letters,
        notes,
    })
}

/// Runs `cost`: prints the report, and writes the JSON when asked.
pub async fn run(stack: &Stack, options: Options) -> Result<(), String> {
    let aws = Aws::from_env(stack.http.clone())?;
    println!("# zoom-load cost {options:?}\n");
    let names: Vec<&str> = if options.scenario == "all" {
        vec!["small", "meeting", "day"]
    } else {
        vec![options.scenario.as_str()]
    };
    let mut measured = Vec::new();
    for name in names {
        let m = scenario(stack, &aws, name, &options).await?;
        println!("{}", m.report());
        measured.push(m);
    }
    println!("{}", verdicts(&measured));
    if let Some(path) = &options.json {
        let all: Vec<Value> = measured.iter().map(Measured::summary).collect();
        std::fs::write(
            path,
            serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// The verdicts of issue #14 over the scenarios measured (reported, not enforced).
fn verdicts(measured: &[Measured]) -> String {
    let mut out = String::from(
        "## verdicts (measured, not enforced)\n\n| scenario | WRU+RRU per event | largest item (bytes) | ≤ 4 KB | USD per million events (local processor time) | ≤ $2 | USD per million (processor time as in AWS) | ≤ $2 |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut named = Vec::new();
    for m in measured {
        let cost = m.cost();
        let largest = m.items["max_item_bytes"].as_u64().unwrap_or(0);
        let per_event = cost.wru + cost.rru;
        if m.exact {
            named.push((m.name.as_str(), per_event));
        }
        let _ = writeln!(
            out,
            "| {}{} | {per_event:.3} | {largest} | {} | {:.3} | {} | {:.3} | {} |",
            m.name,
            if m.exact { "" } else { " (not exact)" },
            if largest <= 4096 { "yes" } else { "NO" },
            cost.total,
            if cost.total <= 2.0 { "yes" } else { "NO" },
            cost.total_aws_duration,
            if cost.total_aws_duration <= 2.0 {
                "yes"
            } else {
                "NO"
            }
        );
    }
    if named.len() > 1 {
        let (low, high) = named.iter().fold((f64::MAX, f64::MIN), |(l, h), (_, u)| {
            (l.min(*u), h.max(*u))
        });
        let spread = if low > 0.0 { (high - low) / low } else { 0.0 };
        let _ = writeln!(
            out,
            "\nWRU+RRU per event across the scenarios: {low:.3} to {high:.3}, a spread of {:.1} %: within 10 %: **{}**",
            spread * 100.0,
            if spread <= 0.10 { "yes" } else { "NO" }
        );
    }
    if let Some(line) = dearer_than_small(&named) {
        out.push_str(&line);
    }
    out
}

/// The second reading of "the same units per event": whether any scenario's event costs more
/// than the small tenant's by more than 10 % (work growing with the size of the day or the
/// meeting); a scenario cheaper per event passes. `None` without an exact `small` to compare.
fn dearer_than_small(units: &[(&str, f64)]) -> Option<String> {
    let small = units
        .iter()
        .find(|(name, _)| *name == "small")
        .map(|(_, u)| *u)
        .filter(|u| *u > 0.0)?;
    let others: Vec<String> = units
        .iter()
        .filter(|(name, _)| *name != "small")
        .map(|(name, u)| format!("{name} {:+.1} %", (u - small) / small * 100.0))
        .collect();
    if others.is_empty() {
        return None;
    }
    let dearest = units
        .iter()
        .map(|(_, u)| (u - small) / small)
        .fold(f64::MIN, f64::max);
    Some(format!(
        "\nNo scenario dearer per event than `small` by more than 10 % ({}): **{}**\n",
        others.join(", "),
        if dearest <= 0.10 { "yes" } else { "NO" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_meeting_has_8_events_in_time_order_and_a_peak_of_3() {
        let m = meeting("r", "acct", "host", 0, 1_000_000, 30, &SMALL);
        assert_eq!(m.events.len(), 8);
        assert!(m.events[0].contains("meeting.started"));
        assert!(m.events[7].contains("meeting.ended"));
        assert_eq!(m.totals.peak, 3);
        assert_eq!(m.totals.participant_minutes, 60);
        assert_eq!(m.totals.joins, 3);
    }

    #[test]
    fn the_large_meeting_peaks_at_every_participant() {
        let participants: Vec<(i64, i64)> = (0..1000)
            .map(|p| ((p % 10) as i64, (p % 10) as i64 + 20))
            .collect();
        let m = meeting("r", "acct", "host", 0, 1_000_000, 30, &participants);
        assert_eq!(m.events.len(), 2_002);
        assert_eq!(m.totals.peak, 1000);
        assert_eq!(m.totals.participant_minutes, 20_000);
    }

    #[test]
    fn meetings_of_a_day_stay_in_it() {
        let day = 86_400 * 20_000;
        for i in [0, 1, 9_999, 10_049, 123_456] {
            let start = start_in_day(day, i);
            assert!(start >= day && start + 30 * 60 < day + 86_400, "{i}");
        }
    }

    #[test]
    fn a_scenario_cheaper_per_event_than_small_passes_and_a_dearer_one_fails() {
        let line = dearer_than_small(&[("small", 2.0), ("day", 2.1), ("meeting", 0.3)])
            .expect("small measured");
        assert!(line.contains("day +5.0 %"), "{line}");
        assert!(line.contains("meeting -85.0 %"), "{line}");
        assert!(line.ends_with("**yes**\n"), "{line}");
        let line = dearer_than_small(&[("small", 2.0), ("day", 2.3)]).expect("small measured");
        assert!(line.ends_with("**NO**\n"), "{line}");
        assert_eq!(dearer_than_small(&[("day", 2.0), ("meeting", 0.3)]), None);
        assert_eq!(dearer_than_small(&[("small", 2.0)]), None);
    }

    #[test]
    fn options_parse() {
        let args: Vec<String> = ["--scenario", "day", "--meetings", "200", "--timeout", "60"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = parse(&args).expect("valid");
        assert_eq!(options.scenario, "day");
        assert_eq!(options.meetings, Some(200));
        assert_eq!(options.timeout, 60);
        assert_eq!(
            options.rate, 20,
            "every scenario at the same pace by default"
        );
        assert_eq!(parse(&["--rate".into(), "0".into()]).map(|o| o.rate), Ok(0));
        assert!(parse(&["--scenario".into(), "huge".into()]).is_err());
    }
}
