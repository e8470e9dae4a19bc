//! Recordings as our API shows them: our own download URLs, never Zoom's.

use serde::Serialize;

use crate::zoom::client::meeting_segment;
use crate::zoom::models::{ZoomRecording, ZoomRecordingFile};

/// A recording file.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingFileView {
    /// Zoom file id.
    pub id: String,
    /// MP4, M4A, …
    pub file_type: String,
    /// Bytes.
    pub file_size: u64,
    /// shared_screen_with_speaker_view, audio_only, …
    pub recording_type: Option<String>,
    /// Start.
    pub recording_start: Option<String>,
    /// End.
    pub recording_end: Option<String>,
    /// Our download route for it.
    pub download_url: String,
}

/// The recording of one meeting instance.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingView {
    /// The instance UUID.
    pub id: String,
    /// The Zoom meeting number.
    pub meeting_id: i64,
    /// Topic.
    pub topic: String,
    /// Start.
    pub start_time: String,
    /// Minutes.
    pub duration: i64,
    /// Total bytes.
    pub file_size: u64,
    /// Our download route for the main file (the first video, else the first file).
    pub download_url: Option<String>,
    /// Every file.
    pub files: Vec<RecordingFileView>,
}

/// Our download route for a file of an instance.
pub fn download_url(instance_uuid: &str, file_id: &str) -> String {
    format!(
        "/api/zoom/recordings/{}/files/{}/download",
        percent_encoding::utf8_percent_encode(instance_uuid, percent_encoding::NON_ALPHANUMERIC),
        meeting_segment(file_id)
    )
}

fn file_view(uuid: &str, file: &ZoomRecordingFile) -> RecordingFileView {
    RecordingFileView {
        id: file.id.clone(),
        file_type: file.file_type.clone(),
        file_size: file.file_size,
        recording_type: file.recording_type.clone(),
        recording_start: file.recording_start.clone(),
        recording_end: file.recording_end.clone(),
        download_url: download_url(uuid, &file.id),
    }
}

impl RecordingView {
    /// Our view of Zoom's recording.
    pub fn from_zoom(recording: &ZoomRecording) -> Self {
        let files: Vec<RecordingFileView> = recording
            .recording_files
            .iter()
            .map(|f| file_view(&recording.uuid, f))
            .collect();
        let main = files
            .iter()
            .find(|f| f.file_type == "MP4")
            .or_else(|| files.first())
            .map(|f| f.download_url.clone());
        Self {
            id: recording.uuid.clone(),
            meeting_id: recording.id,
            topic: recording.topic.clone(),
            start_time: recording.start_time.clone(),
            duration: recording.duration,
            file_size: if recording.total_size > 0 {
                recording.total_size
            } else {
                files.iter().map(|f| f.file_size).sum()
            },
            download_url: main,
            files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_urls_are_ours_and_encode_the_uuid() {
        assert_eq!(
            download_url("/ab//cd==", "f1"),
            "/api/zoom/recordings/%2Fab%2F%2Fcd%3D%3D/files/f1/download"
        );
    }
}
