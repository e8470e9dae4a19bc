//! Configuration: every environment variable is read once, at start, and validated there.
//!
//! A function that lacks a required variable stops at init with one line naming it
//! (see [`exit_on_error`]); nothing reads the environment per request.

use std::collections::HashMap;

use secrecy::SecretString;

/// Names of every environment variable the project reads.
pub mod vars {
    /// The Zoom OAuth app's client id.
    pub const ZOOM_CLIENT_ID: &str = "ZOOM_CLIENT_ID";
    /// The Zoom OAuth app's client secret.
    pub const ZOOM_CLIENT_SECRET: &str = "ZOOM_CLIENT_SECRET";
    /// The OAuth redirect URI registered with Zoom.
    pub const ZOOM_REDIRECT_URI: &str = "ZOOM_REDIRECT_URI";
    /// The webhook signing secret.
    pub const ZOOM_WEBHOOK_SECRET_TOKEN: &str = "ZOOM_WEBHOOK_SECRET_TOKEN";
    /// The legacy webhook verification token (optional).
    pub const ZOOM_VERIFICATION_TOKEN: &str = "ZOOM_VERIFICATION_TOKEN";
    /// Set: Server-to-Server OAuth for that account; unset: user OAuth.
    pub const ZOOM_ACCOUNT_ID: &str = "ZOOM_ACCOUNT_ID";
    /// Zoom REST base URL.
    pub const ZOOM_API_BASE_URL: &str = "ZOOM_API_BASE_URL";
    /// Zoom OAuth base URL.
    pub const ZOOM_OAUTH_BASE_URL: &str = "ZOOM_OAUTH_BASE_URL";
    /// HS256 secret for self-verified caller JWTs.
    pub const API_JWT_SECRET: &str = "API_JWT_SECRET";
    /// The DynamoDB table that holds every item of the integration.
    pub const ZOOM_TABLE_NAME: &str = "ZOOM_TABLE_NAME";
    /// The SQS queue URL that webhook events are published to.
    pub const ZOOM_EVENTS_QUEUE_URL: &str = "ZOOM_EVENTS_QUEUE_URL";
    /// The SQS queue URL of recording archive jobs.
    pub const ZOOM_ARCHIVE_QUEUE_URL: &str = "ZOOM_ARCHIVE_QUEUE_URL";
    /// The events queue's dead-letter queue (the analytics processor sends invalid messages
    /// there at once).
    pub const ZOOM_EVENTS_DLQ_URL: &str = "ZOOM_EVENTS_DLQ_URL";
    /// The S3 bucket that holds archived recordings.
    pub const ZOOM_RECORDINGS_BUCKET: &str = "ZOOM_RECORDINGS_BUCKET";
    /// The SQS queue URL of purge jobs (a connection's data to delete).
    pub const ZOOM_PURGE_QUEUE_URL: &str = "ZOOM_PURGE_QUEUE_URL";
}

/// Default Zoom REST base URL.
pub const DEFAULT_API_BASE_URL: &str = "https://api.zoom.us/v2";
/// Default Zoom OAuth base URL.
pub const DEFAULT_OAUTH_BASE_URL: &str = "https://zoom.us";
/// Default OAuth redirect URI (the local stack's callback route).
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:9000/api/auth/zoom/callback";

/// A configuration problem found at start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// Why it is unusable (never the value itself: it may be a secret).
        reason: &'static str,
    },
}

/// A snapshot of the environment, taken once. Empty values count as unset.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Snapshots the process environment.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// Builds an environment from pairs (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        Self { vars }
    }

    /// The value of `name`, if set and not empty.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of `name`, or [`ConfigError::Missing`].
    pub fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// The value of `name` as a secret, if set.
    pub fn optional_secret(&self, name: &str) -> Option<SecretString> {
        self.optional(name)
            .map(|v| SecretString::from(v.to_owned()))
    }

    /// An `http(s)` URL from `name`, or `default` when unset; trailing slashes are trimmed.
    pub fn url_or(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let value = self.optional(name).unwrap_or(default);
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be an http:// or https:// URL",
            });
        }
        Ok(value.trim_end_matches('/').to_owned())
    }
}

/// How the app authenticates to Zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthMode {
    /// Each tenant connects its own Zoom user (authorization code flow).
    User,
    /// One account, `account_credentials` grant (`ZOOM_ACCOUNT_ID` set).
    ServerToServer,
}

/// The Zoom app's settings. Secrets stay wrapped; [`ZoomApp::summary`] says only whether
/// each is configured.
#[derive(Debug, Clone)]
pub struct ZoomApp {
    /// OAuth client id.
    pub client_id: Option<String>,
    /// OAuth client secret.
    pub client_secret: Option<SecretString>,
    /// OAuth redirect URI.
    pub redirect_uri: String,
    /// Webhook signing secret.
    pub webhook_secret: Option<SecretString>,
    /// Legacy verification token.
    pub verification_token: Option<SecretString>,
    /// Server-to-Server account id, when that mode is on.
    pub account_id: Option<String>,
    /// Zoom REST base URL.
    pub api_base_url: String,
    /// Zoom OAuth base URL.
    pub oauth_base_url: String,
}

impl ZoomApp {
    /// Reads the Zoom app settings; none is required here (each function asks for what it
    /// needs with [`Env::required`]).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            client_id: env.optional(vars::ZOOM_CLIENT_ID).map(str::to_owned),
            client_secret: env.optional_secret(vars::ZOOM_CLIENT_SECRET),
            redirect_uri: env.url_or(vars::ZOOM_REDIRECT_URI, DEFAULT_REDIRECT_URI)?,
            webhook_secret: env.optional_secret(vars::ZOOM_WEBHOOK_SECRET_TOKEN),
            verification_token: env.optional_secret(vars::ZOOM_VERIFICATION_TOKEN),
            account_id: env.optional(vars::ZOOM_ACCOUNT_ID).map(str::to_owned),
            api_base_url: env.url_or(vars::ZOOM_API_BASE_URL, DEFAULT_API_BASE_URL)?,
            oauth_base_url: env.url_or(vars::ZOOM_OAUTH_BASE_URL, DEFAULT_OAUTH_BASE_URL)?,
        })
    }

    /// The OAuth mode these settings select.
    pub fn oauth_mode(&self) -> OAuthMode {
        if self.account_id.is_some() {
            OAuthMode::ServerToServer
        } else {
            OAuthMode::User
        }
    }
}

/// Prints `error` as one line naming the function and exits with status 1.
///
/// Used by every `main.rs` so that a missing variable fails the function at init.
pub fn exit_on_error<T, E: std::fmt::Display>(function: &str, result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            eprintln!("{function}: configuration error: {error}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_missing() {
        let env = Env::from_pairs([(vars::ZOOM_TABLE_NAME, "  ")]);
        assert_eq!(
            env.required(vars::ZOOM_TABLE_NAME),
            Err(ConfigError::Missing(vars::ZOOM_TABLE_NAME))
        );
        assert_eq!(
            ConfigError::Missing(vars::ZOOM_TABLE_NAME).to_string(),
            "missing required environment variable ZOOM_TABLE_NAME"
        );
    }

    #[test]
    fn zoom_app_defaults_and_mode() {
        let app = ZoomApp::from_env(&Env::default()).expect("defaults are valid");
        assert_eq!(app.api_base_url, DEFAULT_API_BASE_URL);
        assert_eq!(app.oauth_base_url, DEFAULT_OAUTH_BASE_URL);
        assert_eq!(app.redirect_uri, DEFAULT_REDIRECT_URI);
        assert_eq!(app.oauth_mode(), OAuthMode::User);

        let app = ZoomApp::from_env(&Env::from_pairs([
            (vars::ZOOM_ACCOUNT_ID, "acc"),
            (vars::ZOOM_API_BASE_URL, "http://127.0.0.1:9100/v2/"),
        ]))
        .expect("valid");
        assert_eq!(app.oauth_mode(), OAuthMode::ServerToServer);
        assert_eq!(app.api_base_url, "http://127.0.0.1:9100/v2");
    }

    #[test]
    fn non_url_base_is_rejected_without_echoing_the_value() {
        let err = ZoomApp::from_env(&Env::from_pairs([(vars::ZOOM_OAUTH_BASE_URL, "ftp://x")]))
            .expect_err("invalid");
        assert!(err.to_string().contains("ZOOM_OAUTH_BASE_URL"));
        assert!(!err.to_string().contains("ftp://x"));
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let app = ZoomApp::from_env(&Env::from_pairs([(
            vars::ZOOM_CLIENT_SECRET,
            "s3cr3t-value",
        )]))
        .expect("valid");
        assert!(!format!("{app:?}").contains("s3cr3t-value"));
    }
}
