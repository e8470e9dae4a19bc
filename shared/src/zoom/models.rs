//! Types of the Zoom REST answers the integration reads, taken from Zoom's documents in
//! `../shared/zoom/specs/` (only the fields we use; unknown fields are ignored). Meeting ids
//! are int64 in REST answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user (`GET /users`, `GET /users/{userId}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoomUser {
    /// User id.
    pub id: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// 1 basic, 2 licensed, 4 unassigned without Meetings Basic, 99 none.
    #[serde(default, rename = "type")]
    pub user_type: i64,
    /// active, inactive, pending.
    #[serde(default)]
    pub status: String,
    /// Account id (`GET /users/{userId}` only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_id: String,
    /// Timezone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timezone: String,
}

/// `GET /users`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ZoomUserPage {
    /// The next page's token; empty on the last page.
    #[serde(default)]
    pub next_page_token: String,
    /// Page size.
    #[serde(default)]
    pub page_size: i64,
    /// Total.
    #[serde(default)]
    pub total_records: i64,
    /// Users.
    #[serde(default)]
    pub users: Vec<ZoomUser>,
}

/// A meeting (`GET /meetings/{id}`, `POST /users/{userId}/meetings`, list items).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoomMeeting {
    /// Meeting number (int64).
    pub id: i64,
    /// Instance UUID.
    #[serde(default)]
    pub uuid: String,
    /// Host.
    #[serde(default)]
    pub host_id: String,
    /// Topic.
    #[serde(default)]
    pub topic: String,
    /// Meeting type.
    #[serde(default, rename = "type")]
    pub meeting_type: i64,
    /// Start time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Minutes.
    #[serde(default)]
    pub duration: Option<i64>,
    /// Timezone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Agenda.
    #[serde(default)]
    pub agenda: Option<String>,
    /// Passcode.
    #[serde(default)]
    pub password: Option<String>,
    /// Join URL.
    #[serde(default)]
    pub join_url: Option<String>,
    /// Start URL: a host credential; never stored.
    #[serde(default, skip_serializing)]
    pub start_url: Option<String>,
    /// `waiting` or `started`.
    #[serde(default)]
    pub status: Option<String>,
    /// Created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// Recurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Value>,
}

/// `GET /users/{userId}/meetings`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ZoomMeetingPage {
    /// Next page.
    #[serde(default)]
    pub next_page_token: String,
    /// Page size.
    #[serde(default)]
    pub page_size: i64,
    /// Total.
    #[serde(default)]
    pub total_records: i64,
    /// Meetings.
    #[serde(default)]
    pub meetings: Vec<ZoomMeeting>,
}

/// A recording file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoomRecordingFile {
    /// File id.
    #[serde(default)]
    pub id: String,
    /// Instance UUID.
    #[serde(default)]
    pub meeting_id: String,
    /// Start.
    #[serde(default)]
    pub recording_start: Option<String>,
    /// End.
    #[serde(default)]
    pub recording_end: Option<String>,
    /// MP4, M4A, …
    #[serde(default)]
    pub file_type: String,
    /// Extension.
    #[serde(default)]
    pub file_extension: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub file_size: u64,
    /// Zoom's download URL (needs the Bearer token): never shown to our callers.
    #[serde(default, skip_serializing)]
    pub download_url: Option<String>,
    /// completed, processing.
    #[serde(default)]
    pub status: Option<String>,
    /// shared_screen_with_speaker_view, audio_only, …
    #[serde(default)]
    pub recording_type: Option<String>,
}

/// The recording of one meeting instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoomRecording {
    /// Instance UUID.
    #[serde(default)]
    pub uuid: String,
    /// Meeting number.
    #[serde(default)]
    pub id: i64,
    /// Host.
    #[serde(default)]
    pub host_id: String,
    /// Topic.
    #[serde(default)]
    pub topic: String,
    /// Start.
    #[serde(default)]
    pub start_time: String,
    /// Minutes.
    #[serde(default)]
    pub duration: i64,
    /// Bytes.
    #[serde(default)]
    pub total_size: u64,
    /// Files.
    #[serde(default)]
    pub recording_files: Vec<ZoomRecordingFile>,
}

/// `GET /users/{userId}/recordings`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ZoomRecordingPage {
    /// Next page.
    #[serde(default)]
    pub next_page_token: String,
    /// Recordings.
    #[serde(default)]
    pub meetings: Vec<ZoomRecording>,
}
