//! The admin API under `/_sim/`: counters, reset, configuration, fault injection, token
//! expiry and revocation, and the meeting life that drives webhooks.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::SimConfig;
use crate::faults::Fault;
use crate::http::{Reply, Req, decode, json_reply};
use crate::ids::secret_token;
use crate::webhooks::{self, LiveParticipant};
use crate::world::{Participant, Subject};
use crate::{Sim, State};

/// A meeting in progress.
#[derive(Debug, Clone)]
pub struct LiveMeeting {
    /// When it started.
    pub start: DateTime<Utc>,
    /// Everyone who joined.
    pub participants: Vec<LiveParticipant>,
}

fn error(status: StatusCode, message: &str) -> Reply {
    json_reply(status, &json!({"error": message}))
}

fn ok(value: Value) -> Reply {
    json_reply(StatusCode::OK, &value)
}

/// Optional fields admin calls accept.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Options {
    /// When it happens (RFC 3339); now by default.
    at: Option<DateTime<Utc>>,
    name: Option<String>,
    email: Option<String>,
    /// `join_time` (default) or `date_time`.
    time_field: Option<String>,
    /// On end: also complete a cloud recording.
    record: bool,
    token: Option<String>,
    user_id: Option<String>,
    uuid: Option<String>,
    event: Option<Value>,
    all: bool,
    /// On delete: only this occurrence of a recurring meeting (the series stays).
    occurrence_id: Option<String>,
    /// Bulk meetings: how many.
    count: Option<usize>,
    /// Bulk meetings: bytes of agenda each.
    agenda_bytes: Option<usize>,
}

fn options(req: &Req) -> Result<Options, Reply> {
    if req.body.is_empty() {
        return Ok(Options::default());
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))
}

/// Handles `/_sim/*`.
pub async fn handle(sim: &Arc<Sim>, req: Req) -> Reply {
    match dispatch(sim, &req).await {
        Ok(reply) | Err(reply) => reply,
    }
}

async fn dispatch(sim: &Arc<Sim>, req: &Req) -> Result<Reply, Reply> {
    let segments: Vec<String> = req.segments().iter().skip(1).map(|s| decode(s)).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = &req.method;
    Ok(match (method, segments.as_slice()) {
        (&Method::GET, ["health"]) => ok(json!({"ok": true})),
        (&Method::GET, ["stats"]) => {
            let state = sim.state();
            let mut stats = serde_json::to_value(&state.world.stats).unwrap_or_default();
            stats["deliveries"] = json!(state.deliveries.len());
            stats["cdn_requests_with_token"] = json!(state.cdn_requests_with_token);
            stats["cdn_downloads"] = json!(state.cdn_downloads);
            stats["active_faults"] = json!(state.faults.list().len());
            ok(stats)
        }
        (&Method::POST, ["reset"]) => {
            if !req.body.is_empty() {
                merge_config(sim, req)?;
            }
            sim.reset();
            ok(json!({"reset": true}))
        }
        (&Method::GET, ["config"]) => ok(public_config(&sim.state().config)),
        (&Method::POST, ["config"]) => {
            merge_config(sim, req)?;
            ok(public_config(&sim.state().config))
        }
        (&Method::GET, ["account"]) => ok(account(&sim.state(), &sim.public_url)),
        (&Method::GET, ["faults"]) => ok(json!(sim.state().faults.list())),
        (&Method::POST, ["faults"]) => {
            let fault: Fault = serde_json::from_slice(&req.body)
                .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")))?;
            sim.state().faults.add(fault);
            ok(json!({"added": true}))
        }
        (&Method::DELETE, ["faults"]) => {
            sim.state().faults.clear();
            ok(json!({"cleared": true}))
        }
        (&Method::POST, ["tokens", action @ ("expire" | "revoke")]) => {
            tokens(sim, action, &options(req)?)?
        }
        (&Method::GET, ["deliveries"]) => ok(json!(sim.state().deliveries)),
        (&Method::GET, ["tokens"]) => {
            // Every credential issued so far, so tests can prove none leaks into logs or storage.
            let state = sim.state();
            let world = &state.world;
            ok(json!({
                "access_tokens": world.access_tokens.keys().collect::<Vec<_>>(),
                "refresh_tokens": world.refresh_tokens.keys().collect::<Vec<_>>(),
                "codes": world.codes.keys().collect::<Vec<_>>(),
            }))
        }
        (&Method::POST, ["meetings", "bulk"]) => bulk_meetings(sim, &options(req)?)?,
        (&Method::POST, ["meetings", id, "start"]) => start_meeting(sim, id, &options(req)?)?,
        (&Method::POST, ["meetings", id, "participants"]) => join(sim, id, &options(req)?)?,
        (&Method::POST, ["meetings", id, "participants", pid, "leave"]) => {
            leave(sim, id, pid, &options(req)?)?
        }
        (&Method::POST, ["meetings", id, "end"]) => end_meeting(sim, id, &options(req)?)?,
        (&Method::POST, ["meetings", id, "delete"]) => delete_meeting(sim, id, &options(req)?)?,
        (&Method::POST, ["recordings", "complete"]) => complete_recording(sim, &options(req)?)?,
        (&Method::POST, ["deauthorize"]) => deauthorize(sim, &options(req)?)?,
        (&Method::POST, ["webhooks", "send"]) => {
            let event = options(req)?
                .event
                .ok_or_else(|| error(StatusCode::BAD_REQUEST, "body needs {\"event\": {...}}"))?;
            ok(json!({"delivery_id": webhooks::send(sim, event)}))
        }
        (&Method::POST, ["webhooks", "resend"]) => {
            // Delivers every earlier event again, byte for byte (as Zoom's retries do).
            let bodies: Vec<(u64, String)> = {
                let state = sim.state();
                let mut all: Vec<_> = state
                    .delivery_bodies
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                all.sort();
                all
            };
            let mut ids = Vec::new();
            for (_, body) in bodies {
                let name = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v["event"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                ids.push(webhooks::send_body(sim, name, body));
            }
            ok(json!({"delivery_ids": ids}))
        }
        (&Method::POST, ["webhooks", "url-validation"]) => {
            let plain = secret_token("").chars().take(22).collect::<String>();
            let secret = sim.state().config.webhook_secret.clone();
            let event = webhooks::url_validation(&plain, Utc::now());
            let (record, answer) =
                webhooks::post_once(sim, 0, "endpoint.url_validation", 1, &event.to_string()).await;
            let expected = json!({"plainToken": plain, "encryptedToken": webhooks::encrypted_token(&secret, &plain)});
            let answered: Option<Value> =
                answer.as_deref().and_then(|a| serde_json::from_str(a).ok());
            let valid = record.status == Some(200) && answered.as_ref() == Some(&expected);
            ok(
                json!({"valid": valid, "status": record.status, "answer": answered, "expected": expected}),
            )
        }
        _ => error(StatusCode::NOT_FOUND, "unknown admin endpoint"),
    })
}

fn merge_config(sim: &Sim, req: &Req) -> Result<(), Reply> {
    let patch: Value = serde_json::from_slice(&req.body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")))?;
    let mut state = sim.state();
    let mut current = serde_json::to_value(&state.config).unwrap_or_default();
    if let (Some(target), Some(patch)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            if !target.contains_key(k) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown setting {k}"),
                ));
            }
            target.insert(k.clone(), v.clone());
        }
    }
    let config: SimConfig = serde_json::from_value(current)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid setting: {e}")))?;
    if config.users == 0 {
        return Err(error(StatusCode::BAD_REQUEST, "users must be at least 1"));
    }
    state.config = config;
    Ok(())
}

fn public_config(config: &SimConfig) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    for secret in ["client_secret", "webhook_secret"] {
        value[secret] = json!("(set)");
    }
    value
}

fn account(state: &State, base: &str) -> Value {
    let world = &state.world;
    let authorizing = &world.users[state.config.authorizing_user.min(world.users.len() - 1)];
    json!({
        "account_id": world.account_id,
        "api_url": base,
        "authorizing_user": {"id": authorizing.id, "email": authorizing.email},
        "users": world.users.len(),
        "meetings": world.meetings.values().map(|m| json!({"id": m.id, "uuid": m.uuid, "host_id": m.host_id, "topic": m.topic})).collect::<Vec<_>>(),
        "past_meetings": world.past.values().map(|p| json!({"id": p.id, "uuid": p.uuid, "host_id": p.host_id, "start_time": p.start_time})).collect::<Vec<_>>(),
        "recordings": world.recordings.values().map(|r| json!({
            "meeting_id": r.meeting_id, "uuid": r.uuid, "host_id": r.host_id, "start_time": r.start_time,
            "files": r.files.iter().map(|f| json!({"id": f.id, "size": f.size, "file_type": f.file_type})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn tokens(sim: &Sim, action: &str, o: &Options) -> Result<Reply, Reply> {
    let mut state = sim.state();
    let world = &mut state.world;
    let mut changed = 0;
    for (token, access) in world.access_tokens.iter_mut() {
        if o.all
            || o.token.as_deref() == Some(token.as_str())
            || matches!((&access.subject, &o.user_id), (Subject::User(u), Some(w)) if u == w)
        {
            if action == "expire" {
                access.expires_at = Utc::now() - chrono::Duration::seconds(1);
            } else {
                access.revoked = true;
            }
            changed += 1;
        }
    }
    if action == "revoke" {
        for (token, refresh) in world.refresh_tokens.iter_mut() {
            if o.all
                || o.token.as_deref() == Some(token.as_str())
                || o.user_id.as_deref() == Some(refresh.user_id.as_str())
            {
                refresh.alive = false;
                changed += 1;
            }
        }
    }
    Ok(ok(json!({"changed": changed})))
}

fn meeting_number(id: &str) -> Result<i64, Reply> {
    id.parse()
        .map_err(|_| error(StatusCode::BAD_REQUEST, "meeting id must be a number"))
}

fn start_meeting(sim: &Arc<Sim>, id: &str, o: &Options) -> Result<Reply, Reply> {
    let number = meeting_number(id)?;
    let at = o.at.unwrap_or_else(Utc::now);
    let event = {
        let mut state = sim.state();
        let account = state.world.account_id.clone();
        let meeting = state
            .world
            .meetings
            .get_mut(&number)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such meeting"))?;
        meeting.state = crate::world::MeetingState::Started;
        let event = webhooks::meeting_started(&account, meeting, at);
        state.live.insert(
            number,
            LiveMeeting {
                start: at,
                participants: Vec::new(),
            },
        );
        event
    };
    Ok(ok(json!({"delivery_id": webhooks::send(sim, event)})))
}

fn join(sim: &Arc<Sim>, id: &str, o: &Options) -> Result<Reply, Reply> {
    let number = meeting_number(id)?;
    let at = o.at.unwrap_or_else(Utc::now);
    let field = o.time_field.clone().unwrap_or_else(|| "join_time".into());
    if field != "join_time" && field != "date_time" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "time_field is join_time or date_time",
        ));
    }
    let (event, pid) = {
        let mut state = sim.state();
        let account = state.world.account_id.clone();
        let meeting = state
            .world
            .meetings
            .get(&number)
            .cloned()
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such meeting"))?;
        let live = state
            .live
            .get_mut(&number)
            .ok_or_else(|| error(StatusCode::CONFLICT, "meeting is not started"))?;
        let n = live.participants.len();
        let participant = LiveParticipant {
            id: format!("p{number}x{n}"),
            user_id: format!("{}", 16_778_240 + n),
            user_name: o.name.clone().unwrap_or_else(|| format!("Guest {n}")),
            email: o
                .email
                .clone()
                .unwrap_or_else(|| format!("guest{n}@sim.example.com")),
            participant_uuid: secret_token("").chars().take(22).collect(),
            join_time: at,
            leave_time: None,
        };
        let event =
            webhooks::participant_joined(&account, &meeting, live.start, &participant, &field);
        let pid = participant.id.clone();
        live.participants.push(participant);
        (event, pid)
    };
    Ok(ok(
        json!({"participant_id": pid, "delivery_id": webhooks::send(sim, event)}),
    ))
}

fn leave(sim: &Arc<Sim>, id: &str, pid: &str, o: &Options) -> Result<Reply, Reply> {
    let number = meeting_number(id)?;
    let at = o.at.unwrap_or_else(Utc::now);
    let event = {
        let mut state = sim.state();
        let account = state.world.account_id.clone();
        let meeting = state
            .world
            .meetings
            .get(&number)
            .cloned()
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such meeting"))?;
        let live = state
            .live
            .get_mut(&number)
            .ok_or_else(|| error(StatusCode::CONFLICT, "meeting is not started"))?;
        let start = live.start;
        let participant = live
            .participants
            .iter_mut()
            .find(|p| p.id == pid)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such participant"))?;
        participant.leave_time = Some(at);
        webhooks::participant_left(&account, &meeting, start, participant, at)
    };
    Ok(ok(json!({"delivery_id": webhooks::send(sim, event)})))
}

fn end_meeting(sim: &Arc<Sim>, id: &str, o: &Options) -> Result<Reply, Reply> {
    let number = meeting_number(id)?;
    let at = o.at.unwrap_or_else(Utc::now);
    let mut deliveries = Vec::new();
    let (ended, recording_event) = {
        let mut state = sim.state();
        let live = state
            .live
            .remove(&number)
            .ok_or_else(|| error(StatusCode::CONFLICT, "meeting is not started"))?;
        let account = state.world.account_id.clone();
        let meeting = state
            .world
            .meetings
            .get(&number)
            .cloned()
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such meeting"))?;
        let participants = live
            .participants
            .iter()
            .map(|p| Participant {
                id: p.id.clone(),
                user_id: p.user_id.clone(),
                name: p.user_name.clone(),
                email: p.email.clone(),
                join_time: p.join_time,
                leave_time: p.leave_time.unwrap_or(at),
            })
            .collect();
        let uuid = state
            .world
            .close_instance(number, live.start, at, participants)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such meeting"))?;
        let past = state.world.past[&uuid].clone();
        let ended = webhooks::meeting_ended(&account, &meeting, &past, at);
        let recording_event = if o.record {
            Some(recording_event(sim, &mut state, &uuid, at)?)
        } else {
            None
        };
        (ended, recording_event)
    };
    deliveries.push(webhooks::send(sim, ended));
    if let Some(event) = recording_event {
        deliveries.push(webhooks::send(sim, event));
    }
    Ok(ok(json!({"delivery_ids": deliveries})))
}

fn recording_event(
    sim: &Sim,
    state: &mut State,
    uuid: &str,
    at: DateTime<Utc>,
) -> Result<Value, Reply> {
    let config = state.config.clone();
    let salt = format!("live-{uuid}");
    let account = state.world.account_id.clone();
    let recording = state
        .world
        .record_instance(uuid, &config, &salt)
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such ended meeting"))?;
    let host_email = state
        .world
        .user(&recording.host_id)
        .map(|u| u.email.clone())
        .unwrap_or_default();
    Ok(webhooks::recording_completed(
        &account,
        &recording,
        &host_email,
        &sim.public_url,
        &secret_token("sim-dl."),
        at,
    ))
}

fn complete_recording(sim: &Arc<Sim>, o: &Options) -> Result<Reply, Reply> {
    let uuid = o
        .uuid
        .clone()
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "body needs {\"uuid\": ...}"))?;
    let at = o.at.unwrap_or_else(Utc::now);
    let event = {
        let mut state = sim.state();
        recording_event(sim, &mut state, &uuid, at)?
    };
    Ok(ok(json!({"delivery_id": webhooks::send(sim, event)})))
}

fn delete_meeting(sim: &Arc<Sim>, id: &str, o: &Options) -> Result<Reply, Reply> {
    let number = meeting_number(id)?;
    let at = o.at.unwrap_or_else(Utc::now);
    let event = {
        let mut state = sim.state();
        let account = state.world.account_id.clone();
        let meeting = match &o.occurrence_id {
            // One occurrence: the series stays.
            Some(_) => state.world.meetings.get(&number).cloned(),
            None => state.world.meetings.remove(&number),
        }
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such meeting"))?;
        let operator = state
            .world
            .user(&meeting.host_id)
            .map(|u| u.email.clone())
            .unwrap_or_default();
        webhooks::meeting_deleted(
            &account,
            &meeting,
            &operator,
            at,
            o.occurrence_id.as_deref(),
        )
    };
    Ok(ok(json!({"delivery_id": webhooks::send(sim, event)})))
}

/// Adds `count` scheduled meetings to `user_id` (default: the authorizing user), each with an
/// agenda of `agenda_bytes`, for tests of large list pages. No webhook.
fn bulk_meetings(sim: &Arc<Sim>, o: &Options) -> Result<Reply, Reply> {
    let mut state = sim.state();
    let host = match &o.user_id {
        Some(user) => user.clone(),
        None => {
            let index = state
                .config
                .authorizing_user
                .min(state.world.users.len() - 1);
            state.world.users[index].id.clone()
        }
    };
    let count = o.count.unwrap_or(1).min(2000);
    let agenda = "a".repeat(o.agenda_bytes.unwrap_or(0).min(2000));
    let start = o.at.unwrap_or_else(Utc::now) + chrono::Duration::days(2);
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let at = start + chrono::Duration::minutes(n as i64);
        let id = state
            .world
            .insert_meeting(&host, &format!("Bulk {n}"), 2, at, 30);
        if let Some(m) = state.world.meetings.get_mut(&id) {
            m.agenda = agenda.clone();
        }
        ids.push(id);
    }
    Ok(ok(json!({"ids": ids})))
}

fn deauthorize(sim: &Arc<Sim>, o: &Options) -> Result<Reply, Reply> {
    let at = o.at.unwrap_or_else(Utc::now);
    let event = {
        let mut state = sim.state();
        let user_id = o.user_id.clone().unwrap_or_else(|| {
            state.world.users[state
                .config
                .authorizing_user
                .min(state.world.users.len() - 1)]
            .id
            .clone()
        });
        for t in state.world.access_tokens.values_mut() {
            if t.subject == Subject::User(user_id.clone()) {
                t.revoked = true;
            }
        }
        for t in state.world.refresh_tokens.values_mut() {
            if t.user_id == user_id {
                t.alive = false;
            }
        }
        webhooks::app_deauthorized(
            &state.world.account_id,
            &user_id,
            &state.config.client_id,
            at,
        )
    };
    Ok(ok(json!({"delivery_id": webhooks::send(sim, event)})))
}
