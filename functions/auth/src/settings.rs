//! Settings of `zoom-auth` beyond the shared ones.

use zoom_shared::config::{ConfigError, Env, OAuthMode, ZoomApp};

/// Where the browser goes after the OAuth callback.
pub const ZOOM_APP_RETURN_URL: &str = "ZOOM_APP_RETURN_URL";
/// How long an OAuth state is valid, in seconds.
pub const ZOOM_OAUTH_STATE_TTL_SECS: &str = "ZOOM_OAUTH_STATE_TTL_SECS";

/// `zoom-auth`'s own settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The app page the browser returns to, with `?zoom=connected` or `?zoom=error&reason=…`.
    pub app_return_url: String,
    /// State lifetime (default 600 s).
    pub state_ttl_secs: i64,
    /// User OAuth or Server-to-Server.
    pub mode: OAuthMode,
}

impl AuthSettings {
    /// Reads the settings.
    pub fn from_env(env: &Env, app: &ZoomApp) -> Result<Self, ConfigError> {
        let state_ttl_secs = match env.optional(ZOOM_OAUTH_STATE_TTL_SECS) {
            None => 600,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|t| (1..=3600).contains(t))
                .ok_or(ConfigError::Invalid {
                    name: ZOOM_OAUTH_STATE_TTL_SECS,
                    reason: "must be a number of seconds from 1 to 3600",
                })?,
        };
        Ok(Self {
            app_return_url: env.url_or(
                ZOOM_APP_RETURN_URL,
                "http://localhost:3000/integrations/zoom",
            )?,
            state_ttl_secs,
            mode: app.oauth_mode(),
        })
    }
}
