//! The simulator's settings: from the same variables the functions read (`ZOOM_CLIENT_ID`,
//! `ZOOM_CLIENT_SECRET`, `ZOOM_REDIRECT_URI`, `ZOOM_WEBHOOK_SECRET_TOKEN`) plus its own
//! `ZOOM_SIM_*` variables. Most can be changed at run time through `POST /_sim/config`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A Zoom plan, which sets the per-second rate limits of each label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Free: Light 4/s, Medium 2/s, Heavy 1/s, Resource-intensive 1/min.
    Free,
    /// Pro: Light 30/s, Medium 20/s, Heavy 10/s, Resource-intensive 10/min.
    Pro,
    /// Business and up: Light 80/s, Medium 60/s, Heavy 40/s, Resource-intensive 20/min.
    Business,
}

/// Everything configurable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Address to listen on (`127.0.0.1:9100`; port 0 picks a free one).
    pub listen: String,
    /// The base URL this simulator is reached at, used in `api_url`, join and download URLs
    /// (filled from the bound address when empty).
    pub public_url: String,
    /// Host name used for the download redirect hop (a different host than `public_url`'s,
    /// like Zoom's CDN), so a client can be checked not to send the token there.
    pub cdn_host: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// The one redirect URI the app registered.
    pub redirect_uri: String,
    /// Webhook signing secret.
    pub webhook_secret: String,
    /// Where webhooks go.
    pub webhook_url: String,
    /// Delays before each webhook retry, in milliseconds (Zoom: 5 min, 30 min, 90 min).
    pub webhook_retry_delays_ms: Vec<u64>,
    /// How long Zoom waits for a webhook answer before it counts as failed, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// Access token lifetime, in seconds.
    pub access_token_ttl_secs: u64,
    /// Authorization code lifetime, in seconds.
    pub code_ttl_secs: u64,
    /// The rate-limit plan.
    pub plan: Plan,
    /// Meeting create/update calls allowed per host per day.
    pub daily_meeting_writes: u32,
    /// Seeded users in the account.
    pub users: usize,
    /// Index of the user who approves `/oauth/authorize`.
    pub authorizing_user: usize,
    /// Size in bytes of each seeded recording file.
    pub recording_file_size: u64,
    /// Seed of the deterministic data.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9100".into(),
            public_url: String::new(),
            cdn_host: "localhost".into(),
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            redirect_uri: "http://localhost:9000/api/auth/zoom/callback".into(),
            webhook_secret: "sim-webhook-secret".into(),
            webhook_url: "http://127.0.0.1:9000/api/zoom/webhooks".into(),
            webhook_retry_delays_ms: vec![300_000, 1_800_000, 5_400_000],
            webhook_timeout_ms: 3_000,
            access_token_ttl_secs: 3_600,
            code_ttl_secs: 300,
            plan: Plan::Pro,
            daily_meeting_writes: 100,
            users: 25,
            authorizing_user: 0,
            recording_file_size: 1_048_576,
            seed: 42,
        }
    }
}

impl SimConfig {
    /// Defaults overridden by the environment.
    pub fn from_env() -> Result<Self, String> {
        let mut config = Self::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var("ZOOM_SIM_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = var("ZOOM_SIM_PUBLIC_URL") {
            config.public_url = v;
        }
        if let Some(v) = var("ZOOM_CLIENT_ID") {
            config.client_id = v;
        }
        if let Some(v) = var("ZOOM_CLIENT_SECRET") {
            config.client_secret = v;
        }
        if let Some(v) = var("ZOOM_REDIRECT_URI") {
            config.redirect_uri = v;
        }
        if let Some(v) = var("ZOOM_WEBHOOK_SECRET_TOKEN") {
            config.webhook_secret = v;
        }
        if let Some(v) = var("ZOOM_SIM_WEBHOOK_URL") {
            config.webhook_url = v;
        }
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{name} must be a whole number"))
                })
                .transpose()
        };
        if let Some(v) = number("ZOOM_SIM_USERS")? {
            config.users = v as usize;
        }
        if let Some(v) = number("ZOOM_SIM_ACCESS_TOKEN_TTL_SECS")? {
            config.access_token_ttl_secs = v;
        }
        if let Some(v) = number("ZOOM_SIM_RECORDING_FILE_SIZE")? {
            config.recording_file_size = v;
        }
        if let Some(v) = number("ZOOM_SIM_SEED")? {
            config.seed = v;
        }
        if let Some(v) = var("ZOOM_SIM_WEBHOOK_RETRY_DELAYS_MS") {
            config.webhook_retry_delays_ms = v
                .split(',')
                .map(|d| {
                    d.trim().parse::<u64>().map_err(|_| {
                        "ZOOM_SIM_WEBHOOK_RETRY_DELAYS_MS must be comma-separated numbers"
                            .to_owned()
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = var("ZOOM_SIM_PLAN") {
            config.plan = serde_json::from_value(serde_json::Value::from(v))
                .map_err(|_| "ZOOM_SIM_PLAN must be free, pro or business".to_owned())?;
        }
        if config.users == 0 {
            return Err("ZOOM_SIM_USERS must be at least 1".into());
        }
        Ok(config)
    }

    /// The webhook answer timeout.
    pub fn webhook_timeout(&self) -> Duration {
        Duration::from_millis(self.webhook_timeout_ms)
    }
}
