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

/// Whether a Zoom meeting type is a series that goes on after one occurrence ends: recurring
/// with no fixed time (3), recurring with a fixed time (8), and personal meeting rooms (4).
pub fn is_series(meeting_type: i64) -> bool {
    matches!(meeting_type, 3 | 4 | 8)
}

/// A meeting's status from Zoom's copy and what webhooks said since (`event`): Zoom's
/// `started` is live; a webhook's `cancelled` stands; its `completed` stands for a single
/// meeting, while a series is `scheduled` again (its next occurrence); its `live` stands until
/// the meeting ends.
pub fn effective_status(
    from_zoom: MeetingStatus,
    event: Option<MeetingStatus>,
    meeting_type: i64,
) -> MeetingStatus {
    match event {
        Some(MeetingStatus::Cancelled) => MeetingStatus::Cancelled,
        Some(MeetingStatus::Live) => MeetingStatus::Live,
        _ if from_zoom == MeetingStatus::Live => MeetingStatus::Live,
        Some(MeetingStatus::Completed) if !is_series(meeting_type) => MeetingStatus::Completed,
        _ => MeetingStatus::Scheduled,
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

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn a_series_is_scheduled_again_after_one_occurrence_ends() {
        use MeetingStatus::*;
        assert_eq!(effective_status(Scheduled, Some(Completed), 2), Completed);
        assert_eq!(effective_status(Scheduled, Some(Completed), 8), Scheduled);
        assert_eq!(effective_status(Scheduled, Some(Completed), 3), Scheduled);
        assert_eq!(effective_status(Scheduled, Some(Cancelled), 8), Cancelled);
        assert_eq!(effective_status(Live, Some(Completed), 8), Live);
        assert_eq!(effective_status(Scheduled, Some(Live), 2), Live);
        assert_eq!(effective_status(Scheduled, None, 2), Scheduled);
    }
}
