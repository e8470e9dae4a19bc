//! The simulated Zoom account: users, meetings, past meetings with participants, cloud
//! recordings, and the OAuth grants. Seeded deterministically from [`SimConfig`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::SimConfig;
use crate::ids::{stable_id, stable_meeting_number, stable_uuid};

/// Formats a time as Zoom does (`2021-07-13T21:44:51Z`).
pub fn zoom_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A user of the account.
#[derive(Debug, Clone)]
pub struct User {
    /// Zoom user id.
    pub id: String,
    /// Email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// 1 basic, 2 licensed.
    pub user_type: i64,
    /// active, inactive or pending.
    pub status: &'static str,
    /// Personal meeting id.
    pub pmi: i64,
    /// IANA timezone.
    pub timezone: String,
    /// Department.
    pub dept: String,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Role id ("0" owner, "2" member).
    pub role_id: String,
}

impl User {
    /// The user as `GET /users` lists it.
    pub fn list_json(&self) -> Value {
        json!({
            "id": self.id, "email": self.email, "first_name": self.first_name, "last_name": self.last_name,
            "display_name": format!("{} {}", self.first_name, self.last_name),
            "type": self.user_type, "pmi": self.pmi, "timezone": self.timezone, "verified": 1,
            "dept": self.dept, "created_at": zoom_time(self.created_at), "user_created_at": zoom_time(self.created_at),
            "last_login_time": zoom_time(self.created_at + Duration::days(1)), "status": self.status,
            "role_id": self.role_id, "language": "en-US",
        })
    }

    /// The user as `GET /users/{userId}` answers.
    pub fn detail_json(&self, account_id: &str) -> Value {
        let mut value = self.list_json();
        if let Some(object) = value.as_object_mut() {
            object.insert("account_id".into(), json!(account_id));
            object.insert("account_number".into(), json!(10_000_001));
            object.insert(
                "role_name".into(),
                json!(if self.role_id == "0" {
                    "Owner"
                } else {
                    "Member"
                }),
            );
            object.insert("use_pmi".into(), json!(false));
            object.insert(
                "personal_meeting_url".into(),
                json!(format!("https://zoom.us/j/{}", self.pmi)),
            );
            object.insert("cluster".into(), json!("us06"));
            object.insert("login_types".into(), json!([100]));
            object.insert("group_ids".into(), json!([]));
            object.insert("im_group_ids".into(), json!([]));
            object.insert(
                "jid".into(),
                json!(format!("{}@xmpp.zoom.us", self.id.to_lowercase())),
            );
        }
        value
    }
}

/// The state of a scheduled meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingState {
    /// Not started.
    Waiting,
    /// In progress.
    Started,
}

/// A meeting (scheduled, live, or the template of past instances).
#[derive(Debug, Clone)]
pub struct Meeting {
    /// Meeting number.
    pub id: i64,
    /// UUID of the current instance.
    pub uuid: String,
    /// Host user id.
    pub host_id: String,
    /// Topic.
    pub topic: String,
    /// 1 instant, 2 scheduled, 3 recurring no fixed time, 8 recurring fixed time, 10 screen share.
    pub meeting_type: i64,
    /// Start time.
    pub start_time: DateTime<Utc>,
    /// Scheduled duration, minutes.
    pub duration: i64,
    /// Timezone.
    pub timezone: String,
    /// Agenda.
    pub agenda: String,
    /// Passcode.
    pub password: String,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Waiting or started.
    pub state: MeetingState,
    /// Settings as given.
    pub settings: Value,
    /// Recurrence as given.
    pub recurrence: Option<Value>,
}

impl Meeting {
    /// The meeting as `GET /meetings/{id}` and `POST /users/{id}/meetings` answer.
    pub fn detail_json(&self, host_email: &str, base_url: &str) -> Value {
        let mut settings = json!({
            "host_video": false, "participant_video": false, "join_before_host": false, "mute_upon_entry": true,
            "waiting_room": true, "approval_type": 2, "audio": "voip", "auto_recording": "none",
        });
        if let (Some(target), Some(given)) = (settings.as_object_mut(), self.settings.as_object()) {
            for (k, v) in given {
                target.insert(k.clone(), v.clone());
            }
        }
        let mut value = json!({
            "id": self.id, "uuid": self.uuid, "host_id": self.host_id, "host_email": host_email,
            "topic": self.topic, "type": self.meeting_type, "status": match self.state { MeetingState::Waiting => "waiting", MeetingState::Started => "started" },
            "start_time": zoom_time(self.start_time), "duration": self.duration, "timezone": self.timezone,
            "agenda": self.agenda, "created_at": zoom_time(self.created_at),
            "start_url": format!("{base_url}/s/{}?zak=sim-start-{}", self.id, self.id),
            "join_url": format!("{base_url}/j/{}?pwd=sim{}", self.id, self.id % 100_000),
            "password": self.password, "h323_password": "123456", "pstn_password": "123456",
            "encrypted_password": format!("sim{}", self.id % 100_000), "pre_schedule": false,
            "settings": settings,
        });
        if let (Some(object), Some(recurrence)) = (value.as_object_mut(), &self.recurrence) {
            object.insert("recurrence".into(), recurrence.clone());
        }
        value
    }

    /// The meeting as `GET /users/{id}/meetings` lists it.
    pub fn list_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id, "uuid": self.uuid, "host_id": self.host_id, "topic": self.topic, "type": self.meeting_type,
            "start_time": zoom_time(self.start_time), "duration": self.duration, "timezone": self.timezone,
            "agenda": self.agenda, "created_at": zoom_time(self.created_at),
            "join_url": format!("{base_url}/j/{}?pwd=sim{}", self.id, self.id % 100_000),
        })
    }
}

/// One participant session of a past meeting.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Participant id within the meeting.
    pub id: String,
    /// The participant's Zoom user id (empty for guests).
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Joined.
    pub join_time: DateTime<Utc>,
    /// Left.
    pub leave_time: DateTime<Utc>,
}

/// An ended meeting instance.
#[derive(Debug, Clone)]
pub struct PastMeeting {
    /// Meeting number.
    pub id: i64,
    /// Instance UUID.
    pub uuid: String,
    /// Host user id.
    pub host_id: String,
    /// Topic.
    pub topic: String,
    /// Meeting type.
    pub meeting_type: i64,
    /// Started.
    pub start_time: DateTime<Utc>,
    /// Ended.
    pub end_time: DateTime<Utc>,
    /// Participant sessions.
    pub participants: Vec<Participant>,
}

impl PastMeeting {
    /// Duration in whole minutes.
    pub fn minutes(&self) -> i64 {
        (self.end_time - self.start_time).num_minutes()
    }

    /// As `GET /past_meetings/{id}` answers.
    pub fn json(&self, host: Option<&User>) -> Value {
        let total: i64 = self
            .participants
            .iter()
            .map(|p| (p.leave_time - p.join_time).num_minutes())
            .sum();
        json!({
            "id": self.id, "uuid": self.uuid, "host_id": self.host_id, "topic": self.topic, "type": self.meeting_type,
            "start_time": zoom_time(self.start_time), "end_time": zoom_time(self.end_time), "duration": self.minutes(),
            "participants_count": self.participants.len(), "total_minutes": total, "source": "Zoom",
            "user_email": host.map(|h| h.email.clone()).unwrap_or_default(),
            "user_name": host.map(|h| format!("{} {}", h.first_name, h.last_name)).unwrap_or_default(),
            "dept": host.map(|h| h.dept.clone()).unwrap_or_default(), "has_meeting_summary": false,
        })
    }
}

/// One cloud recording file.
#[derive(Debug, Clone)]
pub struct RecordingFile {
    /// File id.
    pub id: String,
    /// MP4, M4A, …
    pub file_type: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// shared_screen_with_speaker_view, audio_only, …
    pub recording_type: &'static str,
    /// Recording start.
    pub start: DateTime<Utc>,
    /// Recording end.
    pub end: DateTime<Utc>,
}

/// The cloud recording of one meeting instance.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Meeting number.
    pub meeting_id: i64,
    /// Instance UUID.
    pub uuid: String,
    /// Host.
    pub host_id: String,
    /// Topic.
    pub topic: String,
    /// Started.
    pub start_time: DateTime<Utc>,
    /// Minutes.
    pub duration: i64,
    /// Files.
    pub files: Vec<RecordingFile>,
}

impl Recording {
    /// As the recordings endpoints answer.
    pub fn json(&self, account_id: &str, base_url: &str) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                json!({
                    "id": f.id, "meeting_id": self.uuid, "recording_start": zoom_time(f.start), "recording_end": zoom_time(f.end),
                    "file_type": f.file_type, "file_extension": f.file_type, "file_size": f.size,
                    "play_url": format!("{base_url}/rec/play/{}", f.id),
                    "download_url": format!("{base_url}/rec/download/{}", f.id),
                    "status": "completed", "recording_type": f.recording_type,
                })
            })
            .collect();
        json!({
            "uuid": self.uuid, "id": self.meeting_id, "account_id": account_id, "host_id": self.host_id,
            "topic": self.topic, "type": "2", "start_time": zoom_time(self.start_time), "duration": self.duration,
            "total_size": self.files.iter().map(|f| f.size).sum::<u64>(), "recording_count": self.files.len(),
            "share_url": format!("{base_url}/rec/share/{}", self.meeting_id), "recording_files": files,
        })
    }
}

/// Who an access token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user who approved the app.
    User(String),
    /// The whole account (Server-to-Server OAuth).
    Account,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// For whom.
    pub subject: Subject,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Revoked.
    pub revoked: bool,
}

/// An issued refresh token. Each refresh kills it and issues a new one.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// For whom.
    pub user_id: String,
    /// Still usable.
    pub alive: bool,
}

/// An authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// Who approved.
    pub user_id: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// PKCE S256 challenge, if any.
    pub code_challenge: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Used once already.
    pub used: bool,
}

/// Counters the admin API reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Calls per `METHOD /path-template`.
    pub calls: BTreeMap<String, u64>,
    /// Access tokens issued (any grant).
    pub tokens_issued: u64,
    /// Successful refresh_token grants.
    pub tokens_refreshed: u64,
    /// Authorization code grants.
    pub codes_exchanged: u64,
    /// `invalid_grant` answers.
    pub invalid_grant: u64,
    /// Revocations.
    pub revocations: u64,
    /// 429 answers (rate limits and injected).
    pub rate_limited: u64,
    /// Faults injected.
    pub faults_injected: u64,
}

/// The whole simulated account.
#[derive(Debug)]
pub struct World {
    /// The account id.
    pub account_id: String,
    /// Users, in creation order.
    pub users: Vec<User>,
    /// Meetings by number.
    pub meetings: BTreeMap<i64, Meeting>,
    /// Ended instances by UUID.
    pub past: BTreeMap<String, PastMeeting>,
    /// Recordings by instance UUID.
    pub recordings: BTreeMap<String, Recording>,
    /// Access tokens.
    pub access_tokens: HashMap<String, AccessToken>,
    /// Refresh tokens.
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Authorization codes.
    pub codes: HashMap<String, AuthCode>,
    /// Meeting create/update calls per (host, UTC day).
    pub meeting_writes: HashMap<(String, String), u32>,
    /// Counters.
    pub stats: Stats,
    next_meeting: u64,
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Alan", "Radia",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen",
    "Turing", "Perlman",
];

impl World {
    /// The seeded account for `config`, with times relative to `now`.
    pub fn seeded(config: &SimConfig, now: DateTime<Utc>) -> Self {
        let seed = config.seed;
        let users: Vec<User> = (0..config.users as u64)
            .map(|n| {
                let first = FIRST_NAMES[(n % 10) as usize];
                let last = LAST_NAMES[((n / 10) % 10) as usize];
                User {
                    id: stable_id(seed, "user", n),
                    email: format!(
                        "{}.{}{}@sim.example.com",
                        first.to_lowercase(),
                        last.to_lowercase(),
                        n
                    ),
                    first_name: first.into(),
                    last_name: last.into(),
                    user_type: if n % 4 == 3 { 1 } else { 2 },
                    status: match n {
                        n if n > 0 && n % 15 == 0 => "pending",
                        n if n > 0 && n % 10 == 0 => "inactive",
                        _ => "active",
                    },
                    pmi: 5_000_000_000 + n as i64,
                    timezone: "America/New_York".into(),
                    dept: ["Engineering", "Sales", "Support"][(n % 3) as usize].into(),
                    created_at: now - Duration::days(400 - (n % 300) as i64),
                    role_id: if n == 0 { "0".into() } else { "2".into() },
                }
            })
            .collect();
        let mut world = World {
            account_id: stable_id(seed, "account", 0),
            users,
            meetings: BTreeMap::new(),
            past: BTreeMap::new(),
            recordings: BTreeMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            codes: HashMap::new(),
            meeting_writes: HashMap::new(),
            stats: Stats::default(),
            next_meeting: 0,
        };
        let hosts: Vec<String> = world.users.iter().take(3).map(|u| u.id.clone()).collect();
        for (h, host) in hosts.iter().enumerate() {
            for k in 0..3 {
                let start = now + Duration::days(1 + k) + Duration::hours(h as i64);
                world.insert_meeting(host, &format!("Planning {} #{k}", h + 1), 2, start, 45);
            }
            // Past meetings spread over ~75 days so month splitting has work to do.
            for (k, days_ago) in [2i64, 20, 40, 55, 70].iter().enumerate() {
                let start = now - Duration::days(*days_ago) - Duration::hours(h as i64 + 1);
                let id = world.insert_meeting(host, &format!("Retro {} #{k}", h + 1), 2, start, 60);
                world.end_meeting_instance(
                    id,
                    start,
                    start + Duration::minutes(50),
                    config,
                    &format!("{h}-{k}"),
                );
            }
        }
        world
    }

    /// Adds a meeting and returns its number.
    pub fn insert_meeting(
        &mut self,
        host: &str,
        topic: &str,
        meeting_type: i64,
        start: DateTime<Utc>,
        duration: i64,
    ) -> i64 {
        let seed = self.account_id.len() as u64;
        let n = self.next_meeting;
        self.next_meeting += 1;
        let id = stable_meeting_number(seed, n);
        let meeting = Meeting {
            id,
            uuid: stable_uuid(seed, n),
            host_id: host.into(),
            topic: topic.into(),
            meeting_type,
            start_time: start,
            duration,
            timezone: "UTC".into(),
            agenda: String::new(),
            password: format!("{:06}", id % 1_000_000),
            created_at: start - Duration::days(7),
            state: MeetingState::Waiting,
            settings: json!({}),
            recurrence: None,
        };
        self.meetings.insert(id, meeting);
        id
    }

    /// Ends the current instance of meeting `id` with seeded participants and a recording;
    /// the meeting gets a fresh UUID for its next instance.
    pub fn end_meeting_instance(
        &mut self,
        id: i64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        config: &SimConfig,
        salt: &str,
    ) {
        let participants: Vec<Participant> = (0..4)
            .map(|p| {
                let user = &self.users[(p + 1) % self.users.len()];
                Participant {
                    id: stable_id(config.seed, &format!("participant-{salt}"), p as u64),
                    user_id: format!("{}", 16_778_240 + p),
                    name: format!("{} {}", user.first_name, user.last_name),
                    email: user.email.clone(),
                    join_time: start + Duration::minutes(p as i64 * 2),
                    leave_time: end - Duration::minutes(p as i64),
                }
            })
            .collect();
        if let Some(uuid) = self.close_instance(id, start, end, participants) {
            self.record_instance(&uuid, config, salt);
        }
    }

    /// Ends the current instance of meeting `id`: keeps it as a past meeting with
    /// `participants`, gives the meeting a fresh UUID, and returns the ended instance's UUID.
    pub fn close_instance(
        &mut self,
        id: i64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        participants: Vec<Participant>,
    ) -> Option<String> {
        let meeting = self.meetings.get(&id)?.clone();
        let past = PastMeeting {
            id,
            uuid: meeting.uuid.clone(),
            host_id: meeting.host_id.clone(),
            topic: meeting.topic.clone(),
            meeting_type: meeting.meeting_type,
            start_time: start,
            end_time: end,
            participants,
        };
        self.past.insert(meeting.uuid.clone(), past);
        let next = self.next_meeting;
        self.next_meeting += 1;
        if let Some(m) = self.meetings.get_mut(&id) {
            m.uuid = stable_uuid(self.account_id.len() as u64, next);
            m.state = MeetingState::Waiting;
        }
        Some(meeting.uuid)
    }

    /// Adds a cloud recording (an MP4 and an M4A) for the ended instance `uuid`.
    pub fn record_instance(
        &mut self,
        uuid: &str,
        config: &SimConfig,
        salt: &str,
    ) -> Option<&Recording> {
        let past = self.past.get(uuid)?;
        let (start, end) = (past.start_time, past.end_time);
        let recording = Recording {
            meeting_id: past.id,
            uuid: uuid.to_owned(),
            host_id: past.host_id.clone(),
            topic: past.topic.clone(),
            start_time: start,
            duration: (end - start).num_minutes(),
            files: vec![
                RecordingFile {
                    id: stable_id(config.seed, &format!("file-{salt}"), 0),
                    file_type: "MP4",
                    size: config.recording_file_size,
                    recording_type: "shared_screen_with_speaker_view",
                    start,
                    end,
                },
                RecordingFile {
                    id: stable_id(config.seed, &format!("file-{salt}"), 1),
                    file_type: "M4A",
                    size: config.recording_file_size / 4 + 1,
                    recording_type: "audio_only",
                    start,
                    end,
                },
            ],
        };
        self.recordings.insert(uuid.to_owned(), recording);
        self.recordings.get(uuid)
    }

    /// A user by id, or `me` for the token's user.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.id == id || u.email.eq_ignore_ascii_case(id))
    }

    /// A recording file and its recording, by file id.
    pub fn recording_file(&self, file_id: &str) -> Option<(&Recording, &RecordingFile)> {
        self.recordings
            .values()
            .find_map(|r| r.files.iter().find(|f| f.id == file_id).map(|f| (r, f)))
    }
}
