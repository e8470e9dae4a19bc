//! What a recording file is, from Zoom's `file_type`: the content type it is stored and served
//! with and the extension of its download name (Zoom's documents: MP4 video, M4A audio,
//! TIMELINE JSON, TRANSCRIPT and CC in VTT, CHAT text, CSV poll data, SUMMARY JSON).

/// The content type and file extension of a Zoom recording file type.
pub fn file_kind(file_type: &str) -> (&'static str, &'static str) {
    match file_type.to_ascii_uppercase().as_str() {
        "MP4" => ("video/mp4", "mp4"),
        "M4A" => ("audio/mp4", "m4a"),
        "TIMELINE" | "SUMMARY" | "CHAT_MESSAGE" => ("application/json", "json"),
        "TRANSCRIPT" | "CC" => ("text/vtt", "vtt"),
        "CHAT" => ("text/plain; charset=utf-8", "txt"),
        "CSV" => ("text/csv", "csv"),
        _ => ("application/octet-stream", "bin"),
    }
}

/// The name a downloaded file gets: `{file id}.{extension}`.
pub fn download_name(file_id: &str, file_type: &str) -> String {
    format!("{file_id}.{}", file_kind(file_type).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_zoom_file_type_has_its_type_and_extension() {
        assert_eq!(file_kind("MP4"), ("video/mp4", "mp4"));
        assert_eq!(file_kind("M4A"), ("audio/mp4", "m4a"));
        assert_eq!(file_kind("TRANSCRIPT"), ("text/vtt", "vtt"));
        assert_eq!(file_kind("CC").1, "vtt");
        assert_eq!(file_kind("CHAT").1, "txt");
        assert_eq!(file_kind("TIMELINE").1, "json");
        assert_eq!(
            file_kind("something-new"),
            ("application/octet-stream", "bin")
        );
        assert_eq!(download_name("f1", "TRANSCRIPT"), "f1.vtt");
    }
}
