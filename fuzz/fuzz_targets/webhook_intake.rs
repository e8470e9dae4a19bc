//! Webhook verification and parsing: arbitrary headers and raw bodies through the intake
//! decision, the signature check and the analytics event parser. Nothing may panic; a signed
//! body must verify; an unsigned one must never be published.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoom_shared::webhooks::intake::{Decision, Delivery, IntakeConfig, decide};
use zoom_shared::webhooks::verify::{signature, verify};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    // Layout: [mode][timestamp line \n][signature line \n] body
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().and_then(|t| std::str::from_utf8(t).ok());
    let given = parts.next().and_then(|s| std::str::from_utf8(s).ok());
    let body = parts.next().unwrap_or_default();
    let config = IntakeConfig {
        secret: b"fuzz-secret".to_vec(),
        verification_token: (mode & 1 == 1).then(|| "legacy-token".to_owned()),
    };
    let now_ts = NOW.to_string();
    let (timestamp, sig) = if mode & 2 == 2 {
        // A correctly signed delivery: must pass verification.
        let sig = signature(b"fuzz-secret", &now_ts, body);
        assert!(verify(b"fuzz-secret", Some(&sig), Some(&now_ts), body, NOW).is_ok());
        (Some(now_ts.as_str()), Some(sig))
    } else {
        (timestamp, given.map(str::to_owned))
    };
    let decision = decide(
        &config,
        Delivery {
            signature: sig.as_deref(),
            timestamp,
            authorization: (mode & 4 == 4).then_some("legacy-token"),
        },
        body,
        NOW,
    );
    if mode & 6 == 0 {
        // Neither signed by us nor carrying the legacy token: only a forged HMAC could pass.
        assert!(
            !matches!(decision, Decision::Publish(_))
                || verify(b"fuzz-secret", sig.as_deref(), timestamp, body, NOW).is_ok()
        );
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = zoom_shared::analytics::event::parse(text);
    }
});
