//! Request validation: arbitrary JSON bodies for meeting create/update and arbitrary query
//! values for every validated parameter. Nothing may panic; what validation accepts must be
//! within Zoom's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoom_shared::meetings::validate;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        for partial in [false, true] {
            if let Ok(out) = validate::meeting_body(&body, partial) {
                if let Some(topic) = out.get("topic").and_then(|t| t.as_str()) {
                    assert!((1..=200).contains(&topic.chars().count()));
                }
                if let Some(d) = out.get("duration").and_then(|d| d.as_i64()) {
                    assert!((1..=1440).contains(&d));
                }
            }
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate::meeting_id(text);
    if let Ok(size) = validate::page_size(Some(text)) {
        assert!((1..=300).contains(&size));
    }
    if let Ok(Some(token)) = validate::page_token(Some(text)) {
        assert!(token.len() <= 512 && !token.contains('&'));
    }
    if let Ok(user) = validate::user_id(Some(text)) {
        assert!(!user.contains('/') && !user.contains('?'));
    }
});
