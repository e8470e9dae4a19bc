//! The meeting as our API shows it.

use serde::{Deserialize, Serialize};

use crate::zoom::models::ZoomMeeting;

/// Where a meeting is in its life: Zoom's `waiting`/`started`, then webhooks' ended/deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    /// Not started.
    Scheduled,
    /// In progress.
    Live,
    /// Ended.
    Completed,
    /// Deleted.
    Cancelled,
}

impl MeetingStatus {
    /// Whether webhooks have settled it (a stored copy is then served without asking Zoom).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// A meeting in our responses and in storage (never the host's `start_url`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meeting {
    /// Zoom meeting number.
    pub id: i64,
    /// Current instance UUID.
    pub uuid: String,
    /// Topic.
    pub topic: String,
    /// Start time (RFC 3339, UTC), if scheduled.
    pub start_time: Option<String>,
    /// Minutes.
    pub duration: Option<i64>,
    /// IANA timezone.
    pub timezone: Option<String>,
    /// Join URL.
    pub join_url: Option<String>,
    /// Passcode.
    pub password: Option<String>,
    /// Agenda.
    pub agenda: Option<String>,
    /// scheduled, live, completed, cancelled.
    pub status: MeetingStatus,
    /// Zoom meeting type.
    #[serde(rename = "type")]
    pub meeting_type: i64,
    /// Host's Zoom user id.
    pub host_id: String,
    /// When Zoom created it.
    pub created_at: Option<String>,
}

impl Meeting {
    /// Our view of a Zoom answer.
    pub fn from_zoom(m: &ZoomMeeting) -> Self {
        Self {
            id: m.id,
            uuid: m.uuid.clone(),
            topic: m.topic.clone(),
            start_time: m.start_time.clone(),
            duration: m.duration,
            timezone: m.timezone.clone(),
            join_url: m.join_url.clone(),
            password: m.password.clone(),
            agenda: m.agenda.clone(),
            status: match m.status.as_deref() {
                Some("started") => MeetingStatus::Live,
                _ => MeetingStatus::Scheduled,
            },
            meeting_type: m.meeting_type,
            host_id: m.host_id.clone(),
            created_at: m.created_at.clone(),
        }
    }
}
