//! Validation of meeting requests before Zoom is called, with Zoom's own limits (from the
//! `POST /users/{userId}/meetings` schema): topic 1..200, duration 1..1440, an IANA timezone,
//! an RFC 3339 start time, Zoom's passcode rules, agenda up to 2000.
//!
//! `docs/openapi.yaml` states each rule here as a schema (`MeetingCreate`, `MeetingUpdate`,
//! `Timezone`, the path and query parameters); Schemathesis's negative and positive data
//! checks hold the two equal. A field sent as `null` is the same as one left out.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::http::FieldError;

/// Largest accepted meeting body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The first local date a `start_time` may not have.
const LAST_START_DAY: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => chrono::NaiveDate::MAX,
};

/// Fields a meeting body may carry.
const KNOWN: &[&str] = &[
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "agenda",
    "password",
    "settings",
    "recurrence",
    "default_password",
    "pre_schedule",
];

/// The IANA timezone names `timezone` accepts (chrono-tz's, the `Timezone` enum of the API
/// document).
pub fn timezone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// A JSON number that is a whole number, as JSON Schema's `integer` means it (`60` and `60.0`).
fn whole(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// Validates a create (`partial = false`: topic required) or update body and returns the body
/// to send to Zoom (start time normalised to UTC `Z`).
pub fn meeting_body(body: &Value, partial: bool) -> Result<Value, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("body", "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    let mut out = Map::new();
    for key in object.keys() {
        if !KNOWN.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "is not a meeting field"));
        }
    }
    if partial && object.is_empty() {
        errors.push(FieldError::new("body", "must change at least one field"));
    }
    let text =
        |name: &str, min: usize, max: usize, errors: &mut Vec<FieldError>| -> Option<String> {
            match object.get(name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => {
                    let len = s.chars().count();
                    if len < min || len > max {
                        errors.push(FieldError::new(
                            name,
                            format!("must be {min} to {max} characters"),
                        ));
                        None
                    } else if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                        errors.push(FieldError::new(name, "must not contain control characters"));
                        None
                    } else {
                        Some(s.clone())
                    }
                }
                Some(_) => {
                    errors.push(FieldError::new(name, "must be a string"));
                    None
                }
            }
        };
    match text("topic", 1, 200, &mut errors) {
        Some(topic) => {
            if topic.trim().is_empty() {
                errors.push(FieldError::new("topic", "must not be blank"));
            }
            out.insert("topic".into(), Value::from(topic));
        }
        // Absent or null (null is the same as leaving a field out); a wrong value is already
        // named.
        None if !partial && object.get("topic").is_none_or(Value::is_null) => {
            errors.push(FieldError::new("topic", "is required"))
        }
        None => {}
    }
    if let Some(agenda) = text("agenda", 0, 2000, &mut errors) {
        out.insert("agenda".into(), Value::from(agenda));
    }
    if let Some(timezone) = text("timezone", 1, 64, &mut errors) {
        if timezone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA timezone such as Europe/Paris",
            ));
        } else {
            out.insert("timezone".into(), Value::from(timezone));
        }
    }
    if let Some(password) = text("password", 1, 10, &mut errors) {
        if password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@-_*".contains(c))
        {
            out.insert("password".into(), Value::from(password));
        } else {
            errors.push(FieldError::new(
                "password",
                "may only contain letters, digits and @ - _ *",
            ));
        }
    }
    if let Some(start) = text("start_time", 1, 64, &mut errors) {
        match DateTime::parse_from_rfc3339(&start) {
            // Its UTC form must keep a four-digit year (9999-12-31 with a negative offset
            // would not), so the last day is refused whatever the offset.
            Ok(t) if t.date_naive() >= LAST_START_DAY => {
                errors.push(FieldError::new("start_time", "must be before 9999-12-31"))
            }
            Ok(t) => {
                out.insert(
                    "start_time".into(),
                    Value::from(
                        t.with_timezone(&Utc)
                            .to_rfc3339_opts(SecondsFormat::Secs, true),
                    ),
                );
            }
            Err(_) => errors.push(FieldError::new(
                "start_time",
                "must be an RFC 3339 date-time, e.g. 2026-12-01T15:00:00Z",
            )),
        }
    }
    let integer = |name: &str,
                   allowed: &dyn Fn(i64) -> bool,
                   message: &str,
                   errors: &mut Vec<FieldError>|
     -> Option<i64> {
        match object.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => match whole(v).filter(|n| allowed(*n)) {
                Some(n) => Some(n),
                None => {
                    errors.push(FieldError::new(name, message));
                    None
                }
            },
        }
    };
    if let Some(duration) = integer(
        "duration",
        &|d| (1..=1440).contains(&d),
        "must be a whole number of minutes from 1 to 1440",
        &mut errors,
    ) {
        out.insert("duration".into(), Value::from(duration));
    }
    let meeting_type = integer(
        "type",
        &|t| [1, 2, 3, 8].contains(&t),
        "must be 1 (instant), 2 (scheduled), 3 or 8 (recurring)",
        &mut errors,
    );
    if let Some(t) = meeting_type {
        out.insert("type".into(), Value::from(t));
    }
    for name in ["default_password", "pre_schedule"] {
        match object.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => {
                out.insert(name.into(), Value::from(*b));
            }
            Some(_) => errors.push(FieldError::new(name, "must be true or false")),
        }
    }
    match object.get("settings") {
        None | Some(Value::Null) => {}
        Some(Value::Object(settings)) => {
            out.insert("settings".into(), Value::Object(settings.clone()));
        }
        Some(_) => errors.push(FieldError::new("settings", "must be an object")),
    }
    match object.get("recurrence") {
        None | Some(Value::Null) => {
            if meeting_type == Some(8) && !partial {
                errors.push(FieldError::new(
                    "recurrence",
                    "is required for a recurring meeting with a fixed time (type 8)",
                ));
            }
        }
        Some(Value::Object(recurrence)) => match recurrence.get("type").and_then(whole) {
            Some(1..=3) => {
                out.insert("recurrence".into(), Value::Object(recurrence.clone()));
            }
            _ => errors.push(FieldError::new(
                "recurrence.type",
                "must be 1 (daily), 2 (weekly) or 3 (monthly)",
            )),
        },
        Some(_) => errors.push(FieldError::new("recurrence", "must be an object")),
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

/// A Zoom meeting number from a path parameter: 1 to 18 digits, no leading zero (the
/// document's `^[1-9][0-9]{0,17}$`).
pub fn meeting_id(raw: &str) -> Result<i64, FieldError> {
    Some(raw)
        .filter(|r| {
            (1..=18).contains(&r.len())
                && !r.starts_with('0')
                && r.chars().all(|c| c.is_ascii_digit())
        })
        .and_then(|r| r.parse::<i64>().ok())
        .ok_or_else(|| FieldError::new("meetingId", "must be a numeric Zoom meeting id"))
}

/// A page size (1..=300, default 30).
pub fn page_size(raw: Option<&str>) -> Result<u32, FieldError> {
    match raw {
        None => Ok(30),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=300).contains(n))
            .ok_or_else(|| FieldError::new("page_size", "must be a whole number from 1 to 300")),
    }
}

/// A Zoom `next_page_token` passed through (opaque, bounded, URL-safe characters only).
pub fn page_token(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw {
        None | Some("") => Ok(None),
        Some(t)
            if t.len() <= 512
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=.+/".contains(c)) =>
        {
            Ok(Some(t.to_owned()))
        }
        Some(_) => Err(FieldError::new(
            "next_page_token",
            "is not a valid page token",
        )),
    }
}

/// A Zoom user id or `me`.
pub fn user_id(raw: Option<&str>) -> Result<String, FieldError> {
    match raw {
        None | Some("") => Ok("me".into()),
        Some(u)
            if u.len() <= 128
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c)) =>
        {
            Ok(u.to_owned())
        }
        Some(_) => Err(FieldError::new(
            "user_id",
            "must be a Zoom user id, an email or me",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(result: Result<Value, Vec<FieldError>>) -> Vec<String> {
        result
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn the_minimal_body_works_as_is() {
        let body = meeting_body(&json!({"topic": "Standup", "duration": 15, "timezone": "Europe/Paris", "agenda": "daily"}), false)
            .expect("valid");
        assert_eq!(body["topic"], "Standup");
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (json!({}), "topic"),
            (json!({"topic": ""}), "topic"),
            (json!({"topic": "x".repeat(201)}), "topic"),
            (json!({"topic": "   "}), "topic"),
            (json!({"topic": 5}), "topic"),
            (json!({"topic": "t", "duration": 0}), "duration"),
            (json!({"topic": "t", "duration": 1441}), "duration"),
            (json!({"topic": "t", "duration": "60"}), "duration"),
            (
                json!({"topic": "t", "timezone": "Mars/Olympus"}),
                "timezone",
            ),
            (
                json!({"topic": "t", "start_time": "tomorrow at 3"}),
                "start_time",
            ),
            (
                json!({"topic": "t", "start_time": "2026-12-01 15:00"}),
                "start_time",
            ),
            (json!({"topic": "t", "password": "12345678901"}), "password"),
            (json!({"topic": "t", "password": "no spaces"}), "password"),
            (json!({"topic": "t", "agenda": "a".repeat(2001)}), "agenda"),
            (json!({"topic": "t", "type": 5}), "type"),
            (json!({"topic": "t", "type": 8}), "recurrence"),
            (
                json!({"topic": "t", "recurrence": {"type": 9}}),
                "recurrence.type",
            ),
            (json!({"topic": "t", "settings": []}), "settings"),
            (json!({"topic": "t", "host": "someone"}), "host"),
            (json!("a string"), "body"),
        ];
        for (body, field) in cases {
            assert_eq!(
                fields(meeting_body(&body, false)),
                vec![field.to_owned()],
                "{body}"
            );
        }
    }

    /// What the API document allows and the code used to refuse or let through: a null topic
    /// on a create is a missing topic, whole numbers may be written as `60.0`, the last day of
    /// year 9999 is refused (its UTC form may not fit four digits), and a null field is left
    /// out.
    #[test]
    fn the_documented_rules_hold_at_their_edges() {
        assert_eq!(
            fields(meeting_body(&json!({"topic": null}), false)),
            vec!["topic".to_owned()]
        );
        assert!(meeting_body(&json!({"topic": null}), true).is_ok());
        let body = meeting_body(
            &json!({"topic": "t", "duration": 641.0, "type": 8.0, "recurrence": {"type": 2.0}}),
            false,
        )
        .expect("whole numbers");
        assert_eq!(
            (body["duration"].as_i64(), body["type"].as_i64()),
            (Some(641), Some(8))
        );
        assert_eq!(
            fields(meeting_body(
                &json!({"topic": "t", "duration": 60.5}),
                false
            )),
            vec!["duration".to_owned()]
        );
        for start in ["9999-12-31T00:00:00Z", "9999-12-31T23:59:59-23:59"] {
            assert_eq!(
                fields(meeting_body(
                    &json!({"topic": "t", "start_time": start}),
                    false
                )),
                vec!["start_time".to_owned()],
                "{start}"
            );
        }
        let edge = meeting_body(
            &json!({"topic": "t", "start_time": "9999-12-30T23:59:59-23:59"}),
            false,
        )
        .expect("fits");
        assert_eq!(edge["start_time"], "9999-12-31T23:58:59Z");
        let nulls = meeting_body(
            &json!({"topic": "t", "agenda": null, "duration": null, "settings": null, "type": null}),
            false,
        )
        .expect("nulls are left out");
        assert_eq!(nulls, json!({"topic": "t"}));
        assert_eq!(
            fields(meeting_body(
                &json!({"topic": "t", "type": 8, "recurrence": null}),
                false
            )),
            vec!["recurrence".to_owned()]
        );
        for blank in ["\u{3000}", " \t\n", "\u{a0}"] {
            assert_eq!(
                fields(meeting_body(&json!({"topic": blank}), false)),
                vec!["topic".to_owned()],
                "{blank:?}"
            );
        }
        assert!(meeting_body(&json!({"topic": "a\tb\nc"}), false).is_ok());
        assert!(meeting_body(&json!({"topic": "t", "timezone": ""}), false).is_err());
        assert!(timezone_names().all(|name| name.parse::<chrono_tz::Tz>().is_ok()));
    }

    #[test]
    fn start_time_is_normalised_to_utc() {
        let body = meeting_body(
            &json!({"topic": "t", "start_time": "2026-12-01T15:00:00+01:00"}),
            false,
        )
        .expect("valid");
        assert_eq!(body["start_time"], "2026-12-01T14:00:00Z");
    }

    #[test]
    fn updates_are_partial_but_not_empty() {
        assert!(meeting_body(&json!({"duration": 30}), true).is_ok());
        assert_eq!(
            fields(meeting_body(&json!({}), true)),
            vec!["body".to_owned()]
        );
    }

    #[test]
    fn path_and_query_values() {
        assert_eq!(meeting_id("85746065432").ok(), Some(85746065432));
        assert_eq!(
            meeting_id("999999999999999999").ok(),
            Some(999_999_999_999_999_999)
        );
        for bad in [
            "abc",
            "-1",
            "0",
            "1e5",
            "99999999999999999999",
            " 1",
            "+1",
            "0123",
            "1000000000000000000",
        ] {
            assert!(meeting_id(bad).is_err(), "{bad}");
        }
        assert_eq!(page_size(None).ok(), Some(30));
        assert!(
            page_size(Some("301")).is_err()
                && page_size(Some("0")).is_err()
                && page_size(Some("x")).is_err()
        );
        assert!(page_token(Some("abc DEF")).is_err());
        assert_eq!(user_id(None).ok().as_deref(), Some("me"));
        assert!(user_id(Some("../admin")).is_err());
    }
}
