//! The Zoom events the processor handles, parsed from the webhook body. Meeting ids arrive as
//! strings in some webhooks and numbers in others; a participant's time is `join_time` in
//! Zoom's document and `date_time` in its published example: both are accepted.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The meeting instance an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Zoom meeting number.
    pub meeting_id: i64,
    /// Instance UUID.
    pub uuid: String,
    /// Host's Zoom user id.
    pub host_id: String,
    /// Topic.
    pub topic: String,
    /// Start (the instance's UTC day is the analytics day).
    pub start_time: DateTime<Utc>,
}

/// A participant of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Stable key: the participant UUID, else the participant id, else user id and name.
    pub key: String,
}

/// A parsed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoomEvent {
    /// `meeting.started`.
    Started(Instance),
    /// `meeting.ended`.
    Ended(Instance, DateTime<Utc>),
    /// `meeting.participant_joined`.
    Joined(Instance, Participant, DateTime<Utc>),
    /// `meeting.participant_left`.
    Left(Instance, Participant, DateTime<Utc>),
    /// `meeting.deleted`.
    Deleted {
        /// Meeting number.
        meeting_id: i64,
        /// Host's Zoom user id.
        host_id: String,
        /// Only some occurrences of a recurring meeting were deleted (`operation: "single"`
        /// with `occurrences`): the series stays.
        single_occurrence: bool,
    },
    /// `meeting.updated`: the stored copy is stale.
    Updated {
        /// Meeting number.
        meeting_id: i64,
        /// Host's Zoom user id (from the object, else the old object).
        host_id: String,
    },
    /// `recording.completed`.
    RecordingCompleted {
        /// Instance UUID.
        uuid: String,
        /// Host.
        host_id: String,
        /// Recording files: (id, Zoom's `file_type`, e.g. `MP4`, `TRANSCRIPT`; empty when
        /// the payload has none), so an archived file keeps its content type and name.
        files: Vec<(String, String)>,
    },
    /// `app_deauthorized`.
    Deauthorized {
        /// The Zoom user who removed the app.
        user_id: String,
        /// When, as Zoom wrote it.
        at: String,
        /// When, parsed (`None` if Zoom's value is not a time).
        at_time: Option<DateTime<Utc>>,
    },
}

/// A parsed delivery: the account it belongs to and the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Zoom account id.
    pub account_id: String,
    /// The event.
    pub event: ZoomEvent,
    /// When Zoom says it happened (`event_ts`, epoch milliseconds; 0 when absent).
    pub event_ts: i64,
}

impl Parsed {
    /// When the event's change happened, epoch milliseconds: the meeting's start or end for
    /// those events, else Zoom's `event_ts`. Status changes apply in this order, whatever the
    /// order of delivery. Zoom's times are whole seconds, so an end is placed one millisecond
    /// after its second: a meeting that starts and ends within one second ends after it
    /// started.
    pub fn happened_at_ms(&self) -> i64 {
        match &self.event {
            ZoomEvent::Started(i) => i.start_time.timestamp_millis(),
            ZoomEvent::Ended(_, end) => end.timestamp_millis() + 1,
            _ => self.event_ts,
        }
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn meeting_id(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn instance(object: &Value) -> Result<Instance, String> {
    Ok(Instance {
        meeting_id: meeting_id(&object["id"]).ok_or("the event has no meeting id")?,
        uuid: object["uuid"]
            .as_str()
            .filter(|u| !u.is_empty())
            .ok_or("the event has no meeting uuid")?
            .to_owned(),
        host_id: text(&object["host_id"]),
        topic: text(&object["topic"]),
        start_time: time(&object["start_time"]).ok_or("the event has no start_time")?,
    })
}

/// The longest participant key kept as it is (bytes); a longer one is replaced by its digest.
pub const MAX_PARTICIPANT_KEY_BYTES: usize = 200;

/// A participant with the join and leave times its event carries.
type Sighting = (Participant, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn participant(object: &Value) -> Result<Sighting, String> {
    let p = &object["participant"];
    if !p.is_object() {
        return Err("the event has no participant".into());
    }
    let key = [&p["participant_uuid"], &p["id"]]
        .iter()
        .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
        .unwrap_or_else(|| format!("{}|{}", text(&p["user_id"]), text(&p["user_name"])));
    // Bounded, so a point stays small whatever a payload carries: a longer key is known by
    // its digest (the same key always gives the same digest, so its join and leave still pair).
    let key = if key.len() > MAX_PARTICIPANT_KEY_BYTES {
        format!("sha256:{}", crate::store::item::digest(&key))
    } else {
        key
    };
    let joined = time(&p["join_time"]).or_else(|| time(&p["date_time"]));
    let left = time(&p["leave_time"]).or_else(|| time(&p["date_time"]));
    Ok((Participant { key }, joined, left))
}

/// Parses a webhook body.
pub fn parse(body: &str) -> Result<Parsed, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let payload = &value["payload"];
    let object = &payload["object"];
    let event = match value["event"].as_str().unwrap_or_default() {
        "meeting.started" => ZoomEvent::Started(instance(object)?),
        "meeting.ended" => {
            let end = time(&object["end_time"]).ok_or("meeting.ended has no end_time")?;
            ZoomEvent::Ended(instance(object)?, end)
        }
        "meeting.participant_joined" => {
            let (p, joined, _) = participant(object)?;
            ZoomEvent::Joined(
                instance(object)?,
                p,
                joined.ok_or("the participant has no join time")?,
            )
        }
        "meeting.participant_left" => {
            let (p, _, left) = participant(object)?;
            ZoomEvent::Left(
                instance(object)?,
                p,
                left.ok_or("the participant has no leave time")?,
            )
        }
        "meeting.deleted" => ZoomEvent::Deleted {
            meeting_id: meeting_id(&object["id"]).ok_or("meeting.deleted has no id")?,
            host_id: text(&object["host_id"]),
            single_occurrence: payload["operation"].as_str() == Some("single")
                && object["occurrences"]
                    .as_array()
                    .is_some_and(|o| !o.is_empty()),
        },
        "meeting.updated" => ZoomEvent::Updated {
            meeting_id: meeting_id(&object["id"]).ok_or("meeting.updated has no id")?,
            host_id: [&object["host_id"], &payload["old_object"]["host_id"]]
                .iter()
                .find_map(|v| v.as_str().filter(|h| !h.is_empty()).map(str::to_owned))
                .unwrap_or_default(),
        },
        "recording.completed" => ZoomEvent::RecordingCompleted {
            uuid: object["uuid"]
                .as_str()
                .ok_or("recording.completed has no uuid")?
                .to_owned(),
            host_id: text(&object["host_id"]),
            files: object["recording_files"]
                .as_array()
                .map(|files| {
                    files
                        .iter()
                        .filter_map(|f| {
                            let id = f["id"].as_str()?.to_owned();
                            Some((id, text(&f["file_type"])))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        "app_deauthorized" => ZoomEvent::Deauthorized {
            user_id: payload["user_id"]
                .as_str()
                .ok_or("app_deauthorized has no user_id")?
                .to_owned(),
            at: text(&payload["deauthorization_time"]),
            at_time: time(&payload["deauthorization_time"]),
        },
        other => return Err(format!("unhandled event {other}")),
    };
    Ok(Parsed {
        account_id: payload["account_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        event,
        event_ts: value["event_ts"].as_i64().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> String {
        let dir = std::env::var("ZOOM_SHARED_DIR")
            .unwrap_or_else(|_| format!("{}/../../shared", env!("CARGO_MANIFEST_DIR")));
        std::fs::read_to_string(format!("{dir}/zoom/webhook-examples/{name}.json"))
            .expect("example")
    }

    #[test]
    fn zoom_examples_parse() {
        for name in [
            "meeting.started",
            "meeting.ended",
            "meeting.participant_joined",
            "meeting.participant_left",
            "recording.completed",
            "app_deauthorized",
        ] {
            let parsed = parse(&example(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.account_id, "AAAAAABBBB", "{name}");
        }
        match parse(&example("meeting.participant_joined"))
            .expect("joined")
            .event
        {
            ZoomEvent::Joined(i, p, at) => {
                assert_eq!(i.meeting_id, 1_234_567_890, "string ids are accepted");
                assert_eq!(p.key, "55555AAAiAAAAAiAiAiiAii");
                assert_eq!(
                    at.to_rfc3339(),
                    "2021-07-13T21:44:51+00:00",
                    "date_time is accepted"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// A participant key longer than the bound is known by its digest: points stay small, and
    /// the same participant's join and leave still pair.
    #[test]
    fn a_long_participant_key_is_known_by_its_digest() {
        let body = |event: &str, name: &str| {
            serde_json::json!({"event": event, "payload": {"account_id": "a", "object": {
                "id": 1, "uuid": "u", "host_id": "h", "start_time": "2026-12-01T10:00:00Z",
                "participant": {"user_id": "1", "user_name": name,
                    "join_time": "2026-12-01T10:01:00Z", "leave_time": "2026-12-01T10:02:00Z"}}}})
            .to_string()
        };
        let key = |event: &str, name: &str| match parse(&body(event, name)).expect("parses").event {
            ZoomEvent::Joined(_, p, _) | ZoomEvent::Left(_, p, _) => p.key,
            other => panic!("{other:?}"),
        };
        let long = "ü".repeat(5_000);
        let joined = key("meeting.participant_joined", &long);
        assert!(joined.starts_with("sha256:") && joined.len() <= MAX_PARTICIPANT_KEY_BYTES);
        assert_eq!(joined, key("meeting.participant_left", &long), "pairs");
        assert_ne!(
            joined,
            key("meeting.participant_joined", &"ü".repeat(5_001))
        );
        assert_eq!(
            key("meeting.participant_joined", "Ann"),
            "1|Ann",
            "short keys kept"
        );
    }

    /// `recording.completed` carries each file's type, so a file archived from the webhook is
    /// served with its content type and extension (not `.bin`).
    #[test]
    fn recording_files_keep_their_file_type() {
        let ZoomEvent::RecordingCompleted { files, .. } = parse(&example("recording.completed"))
            .expect("recording")
            .event
        else {
            panic!("not a recording");
        };
        assert!(!files.is_empty());
        assert!(
            files
                .iter()
                .all(|(id, kind)| !id.is_empty() && !kind.is_empty()),
            "{files:?}"
        );
        let body = r#"{"event":"recording.completed","payload":{"account_id":"a","object":{"uuid":"u","host_id":"h","recording_files":[{"id":"f1","file_type":"TRANSCRIPT"},{"id":"f2"}]}}}"#;
        let ZoomEvent::RecordingCompleted { files, .. } = parse(body).expect("parses").event else {
            panic!("not a recording");
        };
        assert_eq!(
            files,
            vec![
                ("f1".to_owned(), "TRANSCRIPT".to_owned()),
                ("f2".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn an_end_in_the_second_of_its_start_comes_after_it() {
        let object = r#""object":{"id":1,"uuid":"u","host_id":"h","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}"#;
        let started = parse(&format!(
            r#"{{"event":"meeting.started","payload":{{"account_id":"a",{object}}}}}"#
        ))
        .expect("started");
        let ended = parse(&format!(
            r#"{{"event":"meeting.ended","payload":{{"account_id":"a",{object}}}}}"#
        ))
        .expect("ended");
        assert!(ended.happened_at_ms() > started.happened_at_ms());
    }

    #[test]
    fn incomplete_events_are_errors() {
        for body in [
            "{",
            r#"{"event":"meeting.started","payload":{"object":{}}}"#,
            r#"{"event":"meeting.ended","payload":{"object":{"id":1,"uuid":"u","start_time":"2026-01-01T00:00:00Z"}}}"#,
            r#"{"event":"x.y","payload":{}}"#,
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
    }
}
