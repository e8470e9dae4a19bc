//! The token vault: AES-256-GCM encryption of tokens at rest.
//!
//! Keys come from `ZOOM_TOKEN_KEYS` as `kid:base64key[,kid:base64key…]` (32-byte keys); the
//! first is used to encrypt, all decrypt, so a key can be rotated without losing connections.
//! Each ciphertext is `v1.{kid}.{base64(nonce ‖ ciphertext ‖ tag)}` and is bound to its owner
//! through the associated data (the tenant id and the field's purpose): a ciphertext copied to
//! another tenant's item does not decrypt.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, Env};

/// The variable that holds the vault's keys.
pub const ZOOM_TOKEN_KEYS: &str = "ZOOM_TOKEN_KEYS";

/// Why a ciphertext could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// Not of the `v1.kid.data` form.
    #[error("ciphertext is malformed")]
    Malformed,
    /// Encrypted under a key id this process does not have.
    #[error("ciphertext uses unknown key id {0}")]
    UnknownKey(String),
    /// Wrong key, wrong owner, or tampered.
    #[error("ciphertext does not authenticate")]
    Unauthentic,
    /// The system random source failed.
    #[error("randomness unavailable")]
    Random,
}

struct Key {
    id: String,
    key: LessSafeKey,
}

/// Encrypts and decrypts tokens. Built once per process.
pub struct Vault {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field(
                "key_ids",
                &self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Vault {
    /// Reads `ZOOM_TOKEN_KEYS` (required).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let spec = env.required(ZOOM_TOKEN_KEYS)?;
        Self::from_spec(&SecretString::from(spec.to_owned()))
    }

    /// Parses `kid:base64key[,…]`.
    pub fn from_spec(spec: &SecretString) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::Invalid {
            name: ZOOM_TOKEN_KEYS,
            reason,
        };
        let mut keys = Vec::new();
        for entry in spec
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| invalid("each entry must be kid:base64key"))?;
            if id.is_empty() || id.contains('.') {
                return Err(invalid("a key id must be non-empty and contain no '.'"));
            }
            let bytes = STANDARD
                .decode(encoded)
                .map_err(|_| invalid("a key is not valid base64"))?;
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| invalid("each key must be 32 bytes"))?;
            if keys.iter().any(|k: &Key| k.id == id) {
                return Err(invalid("key ids must be distinct"));
            }
            keys.push(Key {
                id: id.to_owned(),
                key: LessSafeKey::new(unbound),
            });
        }
        if keys.is_empty() {
            return Err(invalid("at least one key is required"));
        }
        Ok(Self { keys })
    }

    /// The id of the key new ciphertexts use.
    pub fn active_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `plaintext` for `owner` (e.g. `tenant:acme|refresh`).
    pub fn seal(&self, owner: &str, plaintext: &str) -> Result<String, VaultError> {
        let active = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut buffer = plaintext.as_bytes().to_vec();
        active
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| VaultError::Random)?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&buffer);
        Ok(format!("v1.{}.{}", active.id, STANDARD.encode(data)))
    }

    /// Decrypts a ciphertext sealed for `owner`.
    pub fn open(&self, owner: &str, ciphertext: &str) -> Result<SecretString, VaultError> {
        let mut parts = ciphertext.splitn(3, '.');
        let (Some("v1"), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Malformed);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_owned()))?;
        let data = STANDARD
            .decode(encoded)
            .map_err(|_| VaultError::Malformed)?;
        if data.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(VaultError::Malformed);
        }
        let (nonce, sealed) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Malformed)?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buffer)
            .map_err(|_| VaultError::Unauthentic)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Unauthentic)?;
        Ok(SecretString::from(text))
    }

    /// Whether `ciphertext` is sealed under a key other than the active one (to re-seal).
    pub fn needs_rotation(&self, ciphertext: &str) -> bool {
        ciphertext.split('.').nth(1) != Some(self.active_key_id())
    }

    /// The key id a ciphertext names (`None` if it is not one of ours).
    pub fn key_id_of(ciphertext: &str) -> Option<&str> {
        let mut parts = ciphertext.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("v1"), Some(kid), Some(_)) if !kid.is_empty() => Some(kid),
            _ => None,
        }
    }

    /// `ciphertext` opened and sealed again under the active key (for `owner`).
    pub fn reseal(&self, owner: &str, ciphertext: &str) -> Result<String, VaultError> {
        let plain = self.open(owner, ciphertext)?;
        self.seal(owner, secrecy::ExposeSecret::expose_secret(&plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn vault(spec: &str) -> Vault {
        Vault::from_spec(&SecretString::from(spec.to_owned())).expect("valid keys")
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let v = vault(&format!("k1:{}", key(1)));
        let sealed = v
            .seal("tenant:a|access", "sim-at.secret-token")
            .expect("seal");
        assert!(sealed.starts_with("v1.k1.") && !sealed.contains("secret-token"));
        assert_eq!(
            v.open("tenant:a|access", &sealed)
                .expect("open")
                .expose_secret(),
            "sim-at.secret-token"
        );
        assert_ne!(
            sealed,
            v.seal("tenant:a|access", "sim-at.secret-token")
                .expect("seal"),
            "fresh nonce"
        );
    }

    #[test]
    fn another_owner_cannot_open_it() {
        let v = vault(&format!("k1:{}", key(1)));
        let sealed = v.seal("tenant:a|refresh", "rt").expect("seal");
        assert_eq!(
            v.open("tenant:b|refresh", &sealed).map(|_| ()),
            Err(VaultError::Unauthentic)
        );
        assert_eq!(
            v.open("tenant:a|access", &sealed).map(|_| ()),
            Err(VaultError::Unauthentic)
        );
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let old = vault(&format!("k1:{}", key(1)));
        let sealed = old.seal("o", "token").expect("seal");
        let rotated = vault(&format!("k2:{},k1:{}", key(2), key(1)));
        assert_eq!(
            rotated.open("o", &sealed).expect("open").expose_secret(),
            "token"
        );
        assert!(rotated.needs_rotation(&sealed));
        assert!(
            rotated
                .seal("o", "token")
                .expect("seal")
                .starts_with("v1.k2.")
        );
        let without_old = vault(&format!("k2:{}", key(2)));
        assert_eq!(
            without_old.open("o", &sealed).map(|_| ()),
            Err(VaultError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn tampering_and_garbage_fail_cleanly() {
        let v = vault(&format!("k1:{}", key(1)));
        let sealed = v.seal("o", "token").expect("seal");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            v.open("o", &String::from_utf8(tampered).expect("utf8"))
                .is_err()
        );
        for garbage in ["", "v1", "v1.k1", "v1.k1.!!!", "v2.k1.AAAA", "v1.k1.AAAA"] {
            assert!(v.open("o", garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn bad_key_specs_are_config_errors_without_the_key() {
        for spec in [
            "",
            "nokey",
            "k1:not-base64!",
            &format!("k1:{}", STANDARD.encode([1u8; 16])),
            &format!("k.1:{}", key(1)),
            &format!("a:{},a:{}", key(1), key(2)),
        ] {
            let err = Vault::from_spec(&SecretString::from(spec.to_owned())).expect_err(spec);
            assert!(err.to_string().contains(ZOOM_TOKEN_KEYS));
            assert!(!err.to_string().contains(&key(1)));
        }
    }
}
