//! The running stack: its addresses and secrets, the caller JWT, the OAuth connect flow, the
//! simulator's admin API and the AWS endpoint's proxy.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;

/// What `tools/stack/stack.sh load` exports.
pub struct Stack {
    /// Our API (cargo lambda watch).
    pub api: String,
    /// The Zoom simulator.
    pub sim: String,
    jwt_secret: String,
    webhook_secret: String,
    proxy_pid: Option<String>,
    /// A client that follows no redirects.
    pub http: reqwest::Client,
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set: run through tools/stack/stack.sh load"))
}

impl Stack {
    /// Reads the stack from the environment.
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            api: var("ZOOM_E2E_API")?,
            sim: var("ZOOM_SIM_URL")?,
            jwt_secret: var("API_JWT_SECRET")?,
            webhook_secret: var("ZOOM_WEBHOOK_SECRET_TOKEN")?,
            proxy_pid: std::env::var("ZOOM_LOAD_PROXY_PID").ok(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(256)
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| e.to_string())?,
        })
    }

    /// A caller JWT for `tenant` (HS256, one hour).
    pub fn jwt(&self, tenant: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"sub": tenant, "iat": now, "exp": now + 3600});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.jwt_secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    /// Signs deliveries as Zoom does.
    pub fn signer(&self) -> Signer {
        Signer(self.webhook_secret.clone())
    }

    /// Connects `tenant` to the simulator's Zoom account through the browser flow (the flow is
    /// bound to the browser that started it: its cookie goes back with the callback).
    pub async fn connect(&self, tenant: &str) -> Result<(), String> {
        let authorize = self
            .http
            .get(format!("{}/api/zoom/auth/authorize", self.api))
            .bearer_auth(self.jwt(tenant))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let cookies: Vec<String> = authorize
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_owned)
            .collect();
        let started: Value = authorize.json().await.map_err(|e| e.to_string())?;
        let url = started["authorize_url"]
            .as_str()
            .ok_or("no authorize_url")?;
        let location = |r: reqwest::Response| {
            r.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or("no redirect".to_owned())
        };
        let at_zoom = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let callback = location(at_zoom)?;
        let landed = self
            .http
            .get(&callback)
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let app = location(landed)?;
        if !app.ends_with("zoom=connected") {
            return Err(format!("connect failed: {app}"));
        }
        Ok(())
    }

    /// GET on our API as the caller of `token`, as JSON.
    pub async fn api_get(&self, path: &str, token: &str) -> Result<Value, String> {
        json_of(
            self.http
                .get(format!("{}{path}", self.api))
                .bearer_auth(token),
        )
        .await
    }

    /// GET on the simulator's admin API.
    pub async fn sim_get(&self, path: &str) -> Result<Value, String> {
        json_of(self.http.get(format!("{}/_sim/{path}", self.sim))).await
    }

    /// POST on the simulator's admin API.
    pub async fn sim_post(&self, path: &str, body: Value) -> Result<(), String> {
        self.http
            .post(format!("{}/_sim/{path}", self.sim))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// DELETE on the simulator's admin API.
    pub async fn sim_delete(&self, path: &str) -> Result<(), String> {
        self.http
            .delete(format!("{}/_sim/{path}", self.sim))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The switch of the AWS endpoint's proxy.
    pub fn aws_switch(&self) -> AwsSwitch {
        AwsSwitch(self.proxy_pid.clone())
    }

    /// Zoom REST calls the simulator served so far (every `/v2` label).
    pub async fn zoom_calls(&self) -> Result<u64, String> {
        let stats = self.sim_get("stats").await?;
        Ok(stats["calls"]
            .as_object()
            .map(|calls| {
                calls
                    .iter()
                    .filter(|(k, _)| k.contains(" /v2/"))
                    .filter_map(|(_, v)| v.as_u64())
                    .sum()
            })
            .unwrap_or(0))
    }
}

/// Sends `request` and reads its body as JSON.
async fn json_of(request: reqwest::RequestBuilder) -> Result<Value, String> {
    request
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// The `q`-quantile (0..=1) of sorted `values`, in milliseconds.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Zoom's webhook signature with the stack's secret.
#[derive(Clone)]
pub struct Signer(String);

impl Signer {
    /// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
    pub fn sign(&self, timestamp: &str, body: &str) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// Takes the AWS endpoint (its proxy) down and up again.
#[derive(Clone)]
pub struct AwsSwitch(Option<String>);

impl AwsSwitch {
    /// Down (`true`) or up; an error when the stack runs without the proxy.
    pub fn set_down(&self, down: bool) -> Result<(), String> {
        let pid = self
            .0
            .as_deref()
            .ok_or("ZOOM_LOAD_PROXY_PID is not set: the AWS endpoint has no proxy")?;
        let signal = if down { "-USR1" } else { "-USR2" };
        let status = std::process::Command::new("kill")
            .args([signal, pid])
            .status()
            .map_err(|e| e.to_string())?;
        status.success().then_some(()).ok_or("kill failed".into())
    }
}
