//! The caller-JWT check: arbitrary `Authorization` headers and authorizer claims. Nothing may
//! panic, and only a token signed with the secret (or verified claims) may name a tenant.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use zoom_shared::http::CallerAuth;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let auth = CallerAuth::new(Some(SecretString::from("fuzz-jwt-secret")));
    // As a header, raw and as a bearer token.
    let _ = auth.authenticate_parts(None, Some(text));
    let bearer = format!("Bearer {text}");
    if let Ok(caller) = auth.authenticate_parts(None, Some(&bearer)) {
        // Forging an HS256 signature by chance is not a thing a fuzzer does: a pass is a bug.
        panic!(
            "an unsigned token was accepted for tenant {}",
            caller.tenant_id
        );
    }
    // As verified claims: a hostile `sub` must be refused or kept whole, never reinterpreted.
    let claims: HashMap<String, String> = [("sub".to_owned(), text.to_owned())].into();
    if let Ok(caller) = auth.authenticate_parts(Some(&claims), None) {
        assert_eq!(caller.tenant_id, text);
    }
});
