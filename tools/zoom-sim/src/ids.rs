//! Deterministic identifiers for seeded data, and unpredictable ones for credentials.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// A stable, Zoom-looking id (22 url-safe characters) for `kind` number `n` under `seed`.
pub fn stable_id(seed: u64, kind: &str, n: u64) -> String {
    let digest = Sha256::digest(format!("{seed}:{kind}:{n}"));
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// A stable meeting UUID (24 characters of standard base64, like Zoom's, `==` padded).
/// Every seventh one starts with `/` and contains `//`, so clients must double-encode them.
pub fn stable_uuid(seed: u64, n: u64) -> String {
    let digest = Sha256::digest(format!("{seed}:uuid:{n}"));
    let encoded = STANDARD.encode(&digest[..16]);
    if n % 7 == 3 {
        format!("/{}//{}", &encoded[2..12], &encoded[14..])
    } else {
        encoded
    }
}

/// A stable meeting number (11 digits).
pub fn stable_meeting_number(seed: u64, n: u64) -> i64 {
    let digest = Sha256::digest(format!("{seed}:meeting:{n}"));
    let value = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    80_000_000_000 + (value % 9_999_999_999) as i64
}

/// A credential nobody can guess: 32 random bytes from the OS, url-safe.
pub fn secret_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // Fall back to time-derived bytes only if the OS has no randomness (never in practice).
    if getrandom(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes.copy_from_slice(&Sha256::digest(now.to_le_bytes()));
    }
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn getrandom(buffer: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_stable_and_distinct() {
        assert_eq!(stable_id(1, "user", 5), stable_id(1, "user", 5));
        assert_ne!(stable_id(1, "user", 5), stable_id(1, "user", 6));
        assert_eq!(stable_id(1, "user", 5).len(), 22);
        assert!(stable_uuid(1, 3).starts_with('/') && stable_uuid(1, 3).contains("//"));
        assert!(!stable_uuid(1, 4).starts_with('/'));
        let n = stable_meeting_number(1, 1);
        assert!((80_000_000_000..90_000_000_000).contains(&n));
    }

    #[test]
    fn secret_tokens_differ() {
        assert_ne!(secret_token("a."), secret_token("a."));
    }
}
