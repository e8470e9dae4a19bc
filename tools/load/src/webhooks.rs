//! Signed webhook load: meetings of 8 events each (started, 3 joins, 3 leaves, ended), sent
//! shuffled by many senders that retry as Zoom does until acknowledged; then the analytics
//! totals must equal exactly what was sent.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Options;
use crate::stack::Stack;

/// Events of one meeting.
const PER_MEETING: usize = 8;
/// Participants' (join, leave) minutes after the start, and the meeting's length.
const PARTICIPANTS: [(i64, i64); 3] = [(0, 20), (5, 25), (10, 30)];
const MINUTES: i64 = 30;

/// The totals the analytics must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    started: i64,
    completed: i64,
    minutes: i64,
    joins: i64,
    participant_minutes: i64,
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
        }
    }

    fn exceeds(&self, other: &Self) -> bool {
        self.started > other.started
            || self.completed > other.completed
            || self.minutes > other.minutes
            || self.joins > other.joins
            || self.participant_minutes > other.participant_minutes
    }
}

/// What the webhook phase measured.
pub struct Report {
    events: usize,
    meetings: usize,
    send_secs: f64,
    acknowledged: usize,
    statuses: BTreeMap<String, usize>,
    unacknowledged: usize,
    latencies: Vec<f64>,
    drain_secs: f64,
    expected: Totals,
    got: Totals,
    faults: bool,
    aws_outages: usize,
}

impl Report {
    /// The targets this phase missed.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.got != self.expected {
            out.push(format!(
                "analytics {:?} differ from what was sent {:?}",
                self.got, self.expected
            ));
        }
        if self.unacknowledged > 0 {
            out.push(format!("{} events never acknowledged", self.unacknowledged));
        }
        let server_errors: usize = self
            .statuses
            .iter()
            .filter(|(s, _)| s.starts_with('5') || s.as_str() == "transport")
            .map(|(_, n)| n)
            .sum();
        if !self.faults && server_errors > 0 {
            out.push(format!(
                "{server_errors} 5xx or transport errors without faults"
            ));
        }
        let other: usize = self
            .statuses
            .iter()
            .filter(|(s, _)| {
                s.as_str() != "200" && s.as_str() != "503" && s.as_str() != "transport"
            })
            .map(|(_, n)| n)
            .sum();
        if other > 0 {
            out.push(format!(
                "{other} answers other than 200/503 ({:?})",
                self.statuses
            ));
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        writeln!(f, "## webhooks")?;
        writeln!(
            f,
            "- sent {} events ({} meetings) in {:.1} s: {:.0} acknowledged events/s",
            self.events,
            self.meetings,
            self.send_secs,
            self.acknowledged as f64 / self.send_secs
        )?;
        writeln!(
            f,
            "- intake latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            crate::stack::quantile(&sorted, 0.5),
            crate::stack::quantile(&sorted, 0.99),
            sorted.last().copied().unwrap_or(0.0)
        )?;
        writeln!(f, "- answers (every attempt): {:?}", self.statuses)?;
        if self.faults {
            writeln!(
                f,
                "- AWS endpoint outages during sending: {}",
                self.aws_outages
            )?;
        }
        writeln!(
            f,
            "- analytics exact after {:.1} s more: {}",
            self.drain_secs,
            self.got == self.expected
        )?;
        write!(
            f,
            "- expected {:?}\n- got      {:?}",
            self.expected, self.got
        )
    }
}

fn iso(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The events of meeting `i` on `day`, hosted by `host` (the connected Zoom user: events reach
/// the owners of their host's data, so another host's meetings would count for nobody).
fn meeting_events(run: &str, account: &str, host: &str, i: usize, day: i64) -> Vec<String> {
    let start = day + 60 + i as i64 * 30;
    let id = 90_000_000_000 + i as i64;
    let object = json!({
        "id": id.to_string(), "uuid": format!("{run}-{i}=="), "host_id": host,
        "topic": format!("Load {i}"), "type": 2, "start_time": iso(start), "duration": MINUTES, "timezone": "UTC",
    });
    let event = |name: &str, extra: Value, at: i64| {
        let mut object = object.clone();
        if let (Some(o), Some(e)) = (object.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        json!({"event": name, "event_ts": at * 1000, "payload": {"account_id": account, "object": object}})
            .to_string()
    };
    let mut events = vec![event("meeting.started", json!({}), start)];
    for (p, (join, leave)) in PARTICIPANTS.iter().enumerate() {
        let participant = |key: &str, at: i64| {
            json!({"participant": {"user_id": format!("{p}"), "user_name": format!("P{p}"),
                "participant_uuid": format!("{run}-{i}-p{p}"), key: iso(at)}})
        };
        events.push(event(
            "meeting.participant_joined",
            participant("join_time", start + join * 60),
            start + join * 60,
        ));
        events.push(event(
            "meeting.participant_left",
            participant("leave_time", start + leave * 60),
            start + leave * 60,
        ));
    }
    events.push(event(
        "meeting.ended",
        json!({"end_time": iso(start + MINUTES * 60)}),
        start + MINUTES * 60,
    ));
    events
}

/// A deterministic shuffle (xorshift), so order never helps the processor.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

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

/// Runs the phase.
pub async fn run(stack: &Stack, tenant: &str, options: &Options) -> Result<Report, String> {
    let world = stack.sim_get("account").await?;
    let account = world["account_id"]
        .as_str()
        .ok_or("the simulator has no account id")?
        .to_owned();
    let host = world["authorizing_user"]["id"]
        .as_str()
        .ok_or("the simulator has no authorizing user")?
        .to_owned();
    let meetings = options.events.div_ceil(PER_MEETING);
    let day = (Utc::now().timestamp() / 86_400 - 1) * 86_400;
    let date = Utc
        .timestamp_opt(day, 0)
        .single()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let mut events: Vec<String> = (0..meetings)
        .flat_map(|i| meeting_events(tenant, &account, &host, i, day))
        .collect();
    shuffle(&mut events, 0x9E37_79B9_7F4A_7C15);
    let total = events.len();
    let expected = Totals {
        started: meetings as i64,
        completed: meetings as i64,
        minutes: meetings as i64 * MINUTES,
        joins: (meetings * PARTICIPANTS.len()) as i64,
        participant_minutes: meetings as i64 * PARTICIPANTS.iter().map(|(j, l)| l - j).sum::<i64>(),
    };
    let events = Arc::new(events);
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let statuses: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let started = Instant::now();
    let outages = if options.faults {
        let acknowledged = acknowledged.clone();
        let switch = stack.aws_switch();
        Some(tokio::spawn(async move {
            // Down for 8 s at a quarter and at 60 % of the events.
            let mut outages = 0;
            for at in [total / 4, total * 3 / 5] {
                while acknowledged.load(Ordering::Relaxed) < at {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if switch.set_down(true).is_ok() {
                    tokio::time::sleep(Duration::from_secs(8)).await;
                    let _ = switch.set_down(false);
                    outages += 1;
                }
            }
            outages
        }))
    } else {
        None
    };
    let mut senders = Vec::new();
    for _ in 0..options.senders {
        let (events, next, acknowledged, statuses, latencies) = (
            events.clone(),
            next.clone(),
            acknowledged.clone(),
            statuses.clone(),
            latencies.clone(),
        );
        let (http, url) = (
            stack.http.clone(),
            format!("{}/api/zoom/webhooks", stack.api),
        );
        let signer = stack.signer();
        senders.push(tokio::spawn(async move {
            let mut local: BTreeMap<String, usize> = BTreeMap::new();
            let mut times = Vec::new();
            let mut lost = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = events.get(i) else { break };
                let mut delivered = false;
                for attempt in 0..40u64 {
                    let ts = Utc::now().timestamp().to_string();
                    let sent = Instant::now();
                    let answer = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-zm-request-timestamp", &ts)
                        .header("x-zm-signature", signer.sign(&ts, body))
                        .body(body.clone())
                        .send()
                        .await;
                    times.push(sent.elapsed().as_secs_f64() * 1000.0);
                    let status = match &answer {
                        Ok(r) => r.status().as_u16().to_string(),
                        Err(_) => "transport".to_owned(),
                    };
                    *local.entry(status.clone()).or_default() += 1;
                    if status == "200" {
                        delivered = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis((250 * (attempt + 1)).min(2000)))
                        .await;
                }
                if delivered {
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                } else {
                    lost += 1;
                }
            }
            let mut all = statuses.lock().await;
            for (k, v) in local {
                *all.entry(k).or_default() += v;
            }
            latencies.lock().await.extend(times);
            lost
        }));
    }
    let mut unacknowledged = 0;
    for sender in senders {
        unacknowledged += sender.await.map_err(|e| e.to_string())?;
    }
    let send_secs = started.elapsed().as_secs_f64();
    let aws_outages = match outages {
        Some(task) => task.await.unwrap_or(0),
        None => 0,
    };
    // Drain: until exact, or until nothing moved for 3 minutes: neither the analytics nor the
    // events queue's depth (a meeting's figures appear only when it settles, and its settle job
    // queues behind the backlog, so the figures can stand still while the queue drains).
    let draining = Instant::now();
    let mut got = Totals::of(&Value::Null);
    let mut last_change = Instant::now();
    let queue = crate::cost::Aws::from_env(stack.http.clone()).ok();
    let mut depth = None;
    while last_change.elapsed() < Duration::from_secs(180) {
        if let Some(queue) = &queue
            && let Ok(now) = queue.queue_depth().await
            && depth != Some(now)
        {
            depth = Some(now);
            last_change = Instant::now();
        }
        if let Some(now) = analytics(stack, tenant, &date).await {
            if now != got {
                last_change = Instant::now();
                got = now;
            }
            if got == expected || got.exceeds(&expected) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Settle: redeliveries still in flight must not add anything.
    tokio::time::sleep(Duration::from_secs(5)).await;
    if let Some(now) = analytics(stack, tenant, &date).await {
        got = now;
    }
    Ok(Report {
        events: total,
        meetings,
        send_secs,
        acknowledged: acknowledged.load(Ordering::Relaxed),
        statuses: Arc::try_unwrap(statuses)
            .map(Mutex::into_inner)
            .unwrap_or_default(),
        unacknowledged,
        latencies: Arc::try_unwrap(latencies)
            .map(Mutex::into_inner)
            .unwrap_or_default(),
        drain_secs: draining.elapsed().as_secs_f64(),
        expected,
        got,
        faults: options.faults,
        aws_outages,
    })
}
