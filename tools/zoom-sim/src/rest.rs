//! Zoom REST v2: Bearer authentication, rate limits, and the operations the integration uses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, Utc};
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::Sim;
use crate::http::{Reply, Req, decode, empty, json_reply, zoom_error};
use crate::ratelimit::{self, Label, Verdict};
use crate::world::{Meeting, MeetingState, Subject, World, zoom_time};

/// One REST operation, with its path parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op<'a> {
    ListUsers,
    GetUser(&'a str),
    ListMeetings(&'a str),
    CreateMeeting(&'a str),
    ListUserRecordings(&'a str),
    GetMeeting(&'a str),
    UpdateMeeting(&'a str),
    DeleteMeeting(&'a str),
    MeetingRecordings(&'a str),
    PastMeeting(&'a str),
    ReportParticipants(&'a str),
}

impl Op<'_> {
    /// The operation's path template (the stats key) and Zoom's rate-limit label.
    fn describe(&self) -> (&'static str, Label) {
        match self {
            Op::ListUsers => ("GET /v2/users", Label::Medium),
            Op::GetUser(_) => ("GET /v2/users/{userId}", Label::Light),
            Op::ListMeetings(_) => ("GET /v2/users/{userId}/meetings", Label::Medium),
            Op::CreateMeeting(_) => ("POST /v2/users/{userId}/meetings", Label::Light),
            Op::ListUserRecordings(_) => ("GET /v2/users/{userId}/recordings", Label::Medium),
            Op::GetMeeting(_) => ("GET /v2/meetings/{meetingId}", Label::Light),
            Op::UpdateMeeting(_) => ("PATCH /v2/meetings/{meetingId}", Label::Light),
            Op::DeleteMeeting(_) => ("DELETE /v2/meetings/{meetingId}", Label::Light),
            Op::MeetingRecordings(_) => ("GET /v2/meetings/{meetingId}/recordings", Label::Light),
            Op::PastMeeting(_) => ("GET /v2/past_meetings/{meetingId}", Label::Light),
            Op::ReportParticipants(_) => (
                "GET /v2/report/meetings/{meetingId}/participants",
                Label::Heavy,
            ),
        }
    }
}

fn route<'a>(method: &Method, segments: &[&'a str]) -> Option<Op<'a>> {
    Some(match (method, segments) {
        (&Method::GET, ["users"]) => Op::ListUsers,
        (&Method::GET, ["users", id]) => Op::GetUser(id),
        (&Method::GET, ["users", id, "meetings"]) => Op::ListMeetings(id),
        (&Method::POST, ["users", id, "meetings"]) => Op::CreateMeeting(id),
        (&Method::GET, ["users", id, "recordings"]) => Op::ListUserRecordings(id),
        (&Method::GET, ["meetings", id]) => Op::GetMeeting(id),
        (&Method::PATCH, ["meetings", id]) => Op::UpdateMeeting(id),
        (&Method::DELETE, ["meetings", id]) => Op::DeleteMeeting(id),
        (&Method::GET, ["meetings", id, "recordings"]) => Op::MeetingRecordings(id),
        (&Method::GET, ["past_meetings", id]) => Op::PastMeeting(id),
        (&Method::GET, ["report", "meetings", id, "participants"]) => Op::ReportParticipants(id),
        _ => return None,
    })
}

/// Handles `/v2/*`.
pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let segments = req.segments();
    let Some(op) = route(&req.method, &segments[1..]) else {
        return zoom_error(
            StatusCode::NOT_FOUND,
            2300,
            "This API endpoint is not recognized.",
        );
    };
    let (template, label) = op.describe();
    let mut state = sim.state();
    *state
        .world
        .stats
        .calls
        .entry(template.to_owned())
        .or_default() += 1;

    let subject = match authenticate(&state.world, req) {
        Ok(subject) => subject,
        Err(reply) => return reply,
    };
    let plan = state.config.plan;
    let (limit, remaining) = match state.limiter.check(label, plan, std::time::Instant::now()) {
        Verdict::Allowed { limit, remaining } => (limit, remaining),
        Verdict::Limited { limit, retry_after } => {
            state.world.stats.rate_limited += 1;
            return ratelimit::qps_limited(label, limit, retry_after);
        }
    };
    let daily_limit = state.config.daily_meeting_writes;
    let me = match &subject {
        Subject::User(id) => id.clone(),
        Subject::Account => state.world.users[0].id.clone(),
    };
    let ctx = Ctx {
        world: &mut state.world,
        me,
        base: &sim.public_url,
        daily_limit,
    };
    let mut reply = match ctx.run(op, req) {
        Ok(reply) | Err(reply) => reply,
    };
    if reply.status() != StatusCode::TOO_MANY_REQUESTS {
        ratelimit::add_headers(&mut reply, label, "QPS", limit, remaining);
    }
    reply
}

/// Zoom's 401 (code 124) for a missing, unknown, revoked or expired token.
pub(crate) fn authenticate(world: &World, req: &Req) -> Result<Subject, Reply> {
    let unauthorized = |message: &str| zoom_error(StatusCode::UNAUTHORIZED, 124, message);
    let Some(token) = req.bearer() else {
        return Err(unauthorized("Requires an access token."));
    };
    match world.access_tokens.get(token) {
        None => Err(unauthorized("Invalid access token.")),
        Some(t) if t.revoked => Err(unauthorized("Invalid access token.")),
        Some(t) if t.expires_at <= Utc::now() => Err(unauthorized("Access token is expired.")),
        Some(t) => Ok(t.subject.clone()),
    }
}

fn validation(errors: Vec<(&str, String)>) -> Reply {
    json_reply(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": 300,
            "message": "Validation Failed.",
            "errors": errors.into_iter().map(|(f, m)| json!({"field": f, "message": m})).collect::<Vec<_>>(),
        }),
    )
}

struct Ctx<'a> {
    world: &'a mut World,
    me: String,
    base: &'a str,
    daily_limit: u32,
}

type Answer = Result<Reply, Reply>;

impl Ctx<'_> {
    fn run(mut self, op: Op<'_>, req: &Req) -> Answer {
        match op {
            Op::ListUsers => self.list_users(req),
            Op::GetUser(id) => {
                let user = self.user(id)?;
                Ok(json_reply(
                    StatusCode::OK,
                    &user.detail_json(&self.world.account_id),
                ))
            }
            Op::ListMeetings(id) => self.list_meetings(id, req),
            Op::CreateMeeting(id) => self.create_meeting(id, req),
            Op::ListUserRecordings(id) => self.list_user_recordings(id, req),
            Op::GetMeeting(id) => {
                let meeting = self.meeting(id)?;
                let host_email = self
                    .world
                    .user(&meeting.host_id)
                    .map(|u| u.email.clone())
                    .unwrap_or_default();
                Ok(json_reply(
                    StatusCode::OK,
                    &meeting.detail_json(&host_email, self.base),
                ))
            }
            Op::UpdateMeeting(id) => self.update_meeting(id, req),
            Op::DeleteMeeting(id) => {
                let number = self.meeting(id)?.id;
                // With `occurrence_id`, one occurrence of a series goes; the series stays.
                if !req.query.contains_key("occurrence_id") {
                    self.world.meetings.remove(&number);
                }
                Ok(empty(StatusCode::NO_CONTENT))
            }
            Op::MeetingRecordings(id) => {
                let uuid = self.instance(id, |w, n| {
                    w.recordings
                        .values()
                        .filter(|r| r.meeting_id == n)
                        .max_by_key(|r| r.start_time)
                        .map(|r| r.uuid.clone())
                });
                let recording = uuid
                    .and_then(|u| self.world.recordings.get(&u))
                    .ok_or_else(|| {
                        zoom_error(
                            StatusCode::NOT_FOUND,
                            3301,
                            "There is no recording for this meeting.",
                        )
                    })?;
                Ok(json_reply(
                    StatusCode::OK,
                    &recording.json(&self.world.account_id, self.base),
                ))
            }
            Op::PastMeeting(id) => {
                let past = self.past(id)?;
                let host = self.world.user(&past.host_id);
                Ok(json_reply(StatusCode::OK, &past.json(host)))
            }
            Op::ReportParticipants(id) => {
                let past = self.past(id)?;
                let rows: Vec<Value> = past
                    .participants
                    .iter()
                    .map(|p| {
                        json!({
                            "id": p.id, "user_id": p.user_id, "participant_user_id": p.id, "name": p.name,
                            "user_email": p.email, "join_time": zoom_time(p.join_time), "leave_time": zoom_time(p.leave_time),
                            "duration": (p.leave_time - p.join_time).num_seconds(), "failover": false,
                            "status": "in_meeting", "customer_key": "", "internal_user": true,
                        })
                    })
                    .collect();
                let (items, meta) = paginate(&rows, req, "participants", 300)?;
                Ok(json_reply(
                    StatusCode::OK,
                    &with(meta, "participants", items),
                ))
            }
        }
    }

    fn user(&self, id: &str) -> Result<&crate::world::User, Reply> {
        let id = decode(id);
        let id = if id == "me" { self.me.clone() } else { id };
        self.world.user(&id).ok_or_else(|| {
            zoom_error(
                StatusCode::NOT_FOUND,
                1001,
                &format!("User does not exist: {id}."),
            )
        })
    }

    /// Whether the token's user administers the account (the owner sees every meeting; a
    /// member only their own, as with Zoom's user-level scopes).
    fn is_admin(&self) -> bool {
        self.world.user(&self.me).is_some_and(|u| u.role_id == "0")
    }

    fn meeting(&self, id: &str) -> Result<&Meeting, Reply> {
        let raw = decode(id);
        let admin = self.is_admin();
        raw.parse::<i64>()
            .ok()
            .and_then(|n| self.world.meetings.get(&n))
            .filter(|m| admin || m.host_id == self.me)
            .ok_or_else(|| {
                zoom_error(
                    StatusCode::NOT_FOUND,
                    3001,
                    &format!("Meeting does not exist: {raw}."),
                )
            })
    }

    /// Resolves a meeting id or instance UUID as Zoom does: a UUID that begins with `/` or
    /// contains `//` must arrive double-encoded; single-encoded, it is not found.
    fn instance(
        &self,
        raw: &str,
        latest: impl Fn(&World, i64) -> Option<String>,
    ) -> Option<String> {
        let once = decode(raw);
        let uuid = if once.contains('%') {
            decode(&once)
        } else if once.starts_with('/') || once.contains("//") {
            return None;
        } else {
            once
        };
        match uuid.parse::<i64>() {
            Ok(number) => latest(self.world, number),
            Err(_) => Some(uuid),
        }
    }

    fn past(&self, raw: &str) -> Result<&crate::world::PastMeeting, Reply> {
        let uuid = self.instance(raw, |w, n| {
            w.past
                .values()
                .filter(|p| p.id == n)
                .max_by_key(|p| p.start_time)
                .map(|p| p.uuid.clone())
        });
        uuid.and_then(|u| self.world.past.get(&u)).ok_or_else(|| {
            zoom_error(
                StatusCode::NOT_FOUND,
                3001,
                &format!("Meeting does not exist: {}.", decode(raw)),
            )
        })
    }

    fn list_users(&self, req: &Req) -> Answer {
        let status = req
            .query
            .get("status")
            .map(String::as_str)
            .unwrap_or("active");
        if !["active", "inactive", "pending"].contains(&status) {
            return Err(zoom_error(
                StatusCode::BAD_REQUEST,
                300,
                "Invalid field: status.",
            ));
        }
        let rows: Vec<Value> = self
            .world
            .users
            .iter()
            .filter(|u| u.status == status)
            .map(|u| u.list_json())
            .collect();
        let (items, meta) = paginate(&rows, req, &format!("users:{status}"), 300)?;
        Ok(json_reply(StatusCode::OK, &with(meta, "users", items)))
    }

    fn list_meetings(&self, user_id: &str, req: &Req) -> Answer {
        let host = self.user(user_id)?.id.clone();
        let kind = req
            .query
            .get("type")
            .map(String::as_str)
            .unwrap_or("scheduled");
        let now = Utc::now();
        let rows: Vec<Value> = match kind {
            "scheduled" | "live" | "upcoming" | "upcoming_meetings" => self
                .world
                .meetings
                .values()
                .filter(|m| m.host_id == host)
                .filter(|m| match kind {
                    "live" => m.state == MeetingState::Started,
                    "upcoming" | "upcoming_meetings" => m.start_time > now,
                    _ => true,
                })
                .map(|m| m.list_json(self.base))
                .collect(),
            "previous_meetings" => {
                let mut past: Vec<_> = self
                    .world
                    .past
                    .values()
                    .filter(|p| p.host_id == host)
                    .collect();
                past.sort_by_key(|p| std::cmp::Reverse(p.start_time));
                past.iter()
                    .map(|p| {
                        json!({
                            "id": p.id, "uuid": p.uuid, "host_id": p.host_id, "topic": p.topic, "type": p.meeting_type,
                            "start_time": zoom_time(p.start_time), "duration": p.minutes(), "timezone": "UTC",
                            "created_at": zoom_time(p.start_time), "join_url": format!("{}/j/{}", self.base, p.id),
                        })
                    })
                    .collect()
            }
            _ => {
                return Err(zoom_error(
                    StatusCode::BAD_REQUEST,
                    300,
                    "Invalid field: type.",
                ));
            }
        };
        let (items, meta) = paginate(&rows, req, &format!("meetings:{host}:{kind}"), 300)?;
        Ok(json_reply(StatusCode::OK, &with(meta, "meetings", items)))
    }

    fn count_write(&mut self, host: &str) -> Result<(), Reply> {
        let now = Utc::now();
        let key = (host.to_owned(), now.format("%Y-%m-%d").to_string());
        let count = self.world.meeting_writes.entry(key).or_default();
        if *count >= self.daily_limit {
            self.world.stats.rate_limited += 1;
            return Err(ratelimit::daily_limited(
                Label::Light,
                self.daily_limit,
                now,
            ));
        }
        *count += 1;
        Ok(())
    }

    fn create_meeting(&mut self, user_id: &str, req: &Req) -> Answer {
        let host = self.user(user_id)?.clone();
        let body = parse_object(req)?;
        let fields = validate_meeting(&body, true)?;
        self.count_write(&host.id)?;
        let start = fields.start_time.unwrap_or_else(Utc::now);
        let id = self.world.insert_meeting(
            &host.id,
            fields.topic.as_deref().unwrap_or("Zoom Meeting"),
            fields.meeting_type.unwrap_or(2),
            start,
            fields.duration.unwrap_or(60),
        );
        if let Some(meeting) = self.world.meetings.get_mut(&id) {
            meeting.created_at = Utc::now();
            fields.apply(meeting);
        }
        let meeting = &self.world.meetings[&id];
        Ok(json_reply(
            StatusCode::CREATED,
            &meeting.detail_json(&host.email, self.base),
        ))
    }

    fn update_meeting(&mut self, id: &str, req: &Req) -> Answer {
        let (number, host) = {
            let m = self.meeting(id)?;
            (m.id, m.host_id.clone())
        };
        let body = parse_object(req)?;
        let fields = validate_meeting(&body, false)?;
        self.count_write(&host)?;
        if let Some(meeting) = self.world.meetings.get_mut(&number) {
            fields.apply(meeting);
        }
        Ok(empty(StatusCode::NO_CONTENT))
    }

    fn list_user_recordings(&self, user_id: &str, req: &Req) -> Answer {
        let host = self.user(user_id)?.id.clone();
        let parse = |name: &str| -> Result<Option<NaiveDate>, Reply> {
            req.query
                .get(name)
                .map(|v| {
                    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                        zoom_error(
                            StatusCode::BAD_REQUEST,
                            300,
                            &format!("Invalid field: {name}. Use yyyy-mm-dd."),
                        )
                    })
                })
                .transpose()
        };
        let today = Utc::now().date_naive();
        let to = parse("to")?.unwrap_or(today);
        let from = parse("from")?.unwrap_or(today - chrono::Duration::days(1));
        if from > to {
            return Err(zoom_error(
                StatusCode::BAD_REQUEST,
                300,
                "The from date must be on or before the to date.",
            ));
        }
        if from
            .checked_add_months(Months::new(1))
            .is_some_and(|limit| to > limit)
        {
            return Err(zoom_error(
                StatusCode::BAD_REQUEST,
                300,
                "The date range cannot exceed one month.",
            ));
        }
        let mut recordings: Vec<_> = self
            .world
            .recordings
            .values()
            .filter(|r| r.host_id == host)
            .filter(|r| (from..=to).contains(&r.start_time.date_naive()))
            .collect();
        recordings.sort_by_key(|r| std::cmp::Reverse(r.start_time));
        let rows: Vec<Value> = recordings
            .iter()
            .map(|r| r.json(&self.world.account_id, self.base))
            .collect();
        let (items, meta) = paginate(&rows, req, &format!("recordings:{host}:{from}:{to}"), 300)?;
        let mut body = with(meta, "meetings", items);
        body["from"] = json!(from.to_string());
        body["to"] = json!(to.to_string());
        Ok(json_reply(StatusCode::OK, &body))
    }
}

fn parse_object(req: &Req) -> Result<Map<String, Value>, Reply> {
    match req.json() {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(zoom_error(
            StatusCode::BAD_REQUEST,
            300,
            "Request Body should be a valid JSON object.",
        )),
    }
}

/// Meeting fields that passed Zoom's checks.
#[derive(Debug, Default)]
struct MeetingFields {
    topic: Option<String>,
    meeting_type: Option<i64>,
    duration: Option<i64>,
    start_time: Option<DateTime<Utc>>,
    timezone: Option<String>,
    agenda: Option<String>,
    password: Option<String>,
    settings: Option<Value>,
    recurrence: Option<Value>,
}

impl MeetingFields {
    fn apply(self, meeting: &mut Meeting) {
        if let Some(v) = self.topic {
            meeting.topic = v;
        }
        if let Some(v) = self.meeting_type {
            meeting.meeting_type = v;
        }
        if let Some(v) = self.duration {
            meeting.duration = v;
        }
        if let Some(v) = self.start_time {
            meeting.start_time = v;
        }
        if let Some(v) = self.timezone {
            meeting.timezone = v;
        }
        if let Some(v) = self.agenda {
            meeting.agenda = v;
        }
        if let Some(v) = self.password {
            meeting.password = v;
        }
        if let Some(v) = self.settings {
            meeting.settings = v;
        }
        if let Some(v) = self.recurrence {
            meeting.recurrence = Some(v);
        }
    }
}

/// Zoom's validation of a meeting body (create, or partial update).
fn validate_meeting(body: &Map<String, Value>, _create: bool) -> Result<MeetingFields, Reply> {
    let mut errors = Vec::new();
    let mut fields = MeetingFields::default();
    let text = |name: &str, max: usize, errors: &mut Vec<(&str, String)>| -> Option<String> {
        match body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
            Some(Value::String(_)) => {
                errors.push((
                    leak(name),
                    format!("{name} must be at most {max} characters"),
                ));
                None
            }
            Some(_) => {
                errors.push((leak(name), format!("{name} must be a string")));
                None
            }
        }
    };
    fields.topic = text("topic", 200, &mut errors);
    fields.agenda = text("agenda", 2000, &mut errors);
    fields.timezone = text("timezone", 64, &mut errors);
    fields.password = text("password", 10, &mut errors);
    if let Some(password) = &fields.password
        && !password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@-_*".contains(c))
    {
        errors.push((
            "password",
            "password may only contain a-z A-Z 0-9 @ - _ *".into(),
        ));
    }
    match body.get("type") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64().filter(|t| [1, 2, 3, 8, 10].contains(t)) {
            Some(t) => fields.meeting_type = Some(t),
            None => errors.push(("type", "type must be one of 1, 2, 3, 8, 10".into())),
        },
    }
    match body.get("duration") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64().filter(|d| (1..=1440).contains(d)) {
            Some(d) => fields.duration = Some(d),
            None => errors.push(("duration", "duration must be 1 to 1440 minutes".into())),
        },
    }
    match body.get("start_time") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => match parse_start(s) {
            Some(t) => fields.start_time = Some(t),
            None => errors.push((
                "start_time",
                "start_time must be yyyy-MM-ddTHH:mm:ssZ".into(),
            )),
        },
        Some(_) => errors.push(("start_time", "start_time must be a string".into())),
    }
    for (name, slot) in [
        ("settings", &mut fields.settings),
        ("recurrence", &mut fields.recurrence),
    ] {
        match body.get(name) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) => *slot = Some(v.clone()),
            Some(_) => errors.push((leak(name), format!("{name} must be an object"))),
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(validation(errors))
    }
}

/// Field names are one of a few literals; map them back to `'static` strings.
fn leak(name: &str) -> &'static str {
    match name {
        "topic" => "topic",
        "agenda" => "agenda",
        "timezone" => "timezone",
        "password" => "password",
        "settings" => "settings",
        "recurrence" => "recurrence",
        _ => "body",
    }
}

fn parse_start(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// Pages `rows` by `page_size` (1..=max, default 30) and an opaque `next_page_token` bound to
/// `scope`; a token from another listing or a made-up one is Zoom's 300 error.
fn paginate(
    rows: &[Value],
    req: &Req,
    scope: &str,
    max: usize,
) -> Result<(Vec<Value>, Value), Reply> {
    let page_size = match req.query.get("page_size") {
        None => 30,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(max),
            _ => {
                return Err(zoom_error(
                    StatusCode::BAD_REQUEST,
                    300,
                    "Invalid field: page_size.",
                ));
            }
        },
    };
    let offset = match req.query.get("next_page_token").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| {
                t.strip_prefix(&format!("{scope}|"))
                    .and_then(|o| o.parse::<usize>().ok())
            })
            .filter(|o| *o <= rows.len())
            .ok_or_else(|| {
                zoom_error(
                    StatusCode::BAD_REQUEST,
                    300,
                    "The next page token is invalid or expired.",
                )
            })?,
    };
    let end = (offset + page_size).min(rows.len());
    let next = if end < rows.len() {
        URL_SAFE_NO_PAD.encode(format!("{scope}|{end}"))
    } else {
        String::new()
    };
    let meta = json!({
        "page_size": page_size, "total_records": rows.len(), "next_page_token": next,
        "page_count": rows.len().div_ceil(page_size),
    });
    Ok((rows[offset..end].to_vec(), meta))
}

fn with(mut meta: Value, key: &str, items: Vec<Value>) -> Value {
    meta[key] = Value::Array(items);
    meta
}

#[cfg(test)]
mod pagination_properties {
    use super::*;
    use proptest::prelude::*;

    fn request(page_size: usize, token: &str) -> Req {
        let mut query = std::collections::HashMap::new();
        query.insert("page_size".to_owned(), page_size.to_string());
        if !token.is_empty() {
            query.insert("next_page_token".to_owned(), token.to_owned());
        }
        Req {
            method: http::Method::GET,
            raw_path: "/v2/users".into(),
            query,
            headers: Default::default(),
            body: Default::default(),
        }
    }

    proptest! {
        /// Walking `next_page_token` from the first page visits every row exactly once, in
        /// order, in pages of at most `page_size` (capped at `max`), and ends with an empty token.
        #[test]
        fn pages_cover_every_row_once(rows in 0usize..700, page_size in 1usize..400, max in 1usize..300) {
            let all: Vec<Value> = (0..rows).map(|i| json!(i)).collect();
            let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
            loop {
                let (page, meta) = paginate(&all, &request(page_size, &token), "users:all", max)
                    .map_err(|_| TestCaseError::fail("a token we issued was refused"))?;
                prop_assert!(page.len() <= page_size.min(max));
                seen.extend(page);
                pages += 1;
                token = meta["next_page_token"].as_str().unwrap_or_default().to_owned();
                if token.is_empty() {
                    break;
                }
                prop_assert!(pages <= rows + 1, "pagination does not end");
            }
            prop_assert_eq!(seen, all);
        }

        /// A token from another listing is refused, never served as an offset.
        #[test]
        fn tokens_are_bound_to_their_listing(offset in 0usize..50) {
            let all: Vec<Value> = (0..60).map(|i| json!(i)).collect();
            let foreign = URL_SAFE_NO_PAD.encode(format!("meetings:x|{offset}"));
            prop_assert!(paginate(&all, &request(10, &foreign), "users:all", 300).is_err());
        }
    }
}
