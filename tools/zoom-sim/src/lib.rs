//! `zoom-sim`: a stateful stand-in for Zoom, for local work and end-to-end tests.
//!
//! - OAuth: `/oauth/authorize`, `/oauth/token` (authorization_code with PKCE, rotating
//!   refresh_token, account_credentials), `/oauth/revoke` ([`oauth`]).
//! - REST v2 under `/v2` with Bearer auth, Zoom's error bodies and rate limits ([`rest`]).
//! - Recording downloads with a redirect hop to a CDN-like host ([`files`]).
//! - Signed webhooks with Zoom's retry behaviour ([`webhooks`]).
//! - The admin API under `/_sim/` ([`admin`]): faults, token expiry/revocation, meeting life,
//!   deliveries, counters, reset, configuration.

// Handlers answer early with a ready HTTP reply as their error value; boxing it would only add noise
// to a test tool that is not on any hot path.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod config;
pub mod faults;
pub mod files;
pub mod http;
pub mod ids;
pub mod oauth;
pub mod ratelimit;
pub mod rest;
pub mod webhooks;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::SimConfig;
use crate::faults::{FaultKind, Faults};
use crate::http::{Reply, Req, zoom_error};
use crate::ratelimit::RateLimiter;
use crate::webhooks::Delivery;
use crate::world::World;

/// Everything mutable, behind one lock (the simulator favours simplicity over throughput).
#[derive(Debug)]
pub struct State {
    /// Settings.
    pub config: SimConfig,
    /// The account.
    pub world: World,
    /// Rate-limit windows.
    pub limiter: RateLimiter,
    /// Injected faults.
    pub faults: Faults,
    /// Webhook delivery attempts.
    pub deliveries: Vec<Delivery>,
    /// Requests that reached the CDN host carrying an `Authorization` header (must stay 0).
    pub cdn_requests_with_token: u64,
    /// Downloads served by the CDN host.
    pub cdn_downloads: u64,
    /// The body of each delivery, to resend it (`POST /_sim/webhooks/resend`).
    pub delivery_bodies: std::collections::HashMap<u64, String>,
    /// Meetings in progress (started through the admin API), by meeting number.
    pub live: std::collections::HashMap<i64, admin::LiveMeeting>,
}

/// The shared simulator.
#[derive(Debug)]
pub struct Sim {
    state: Mutex<State>,
    /// The base URL clients reach this simulator at.
    pub public_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// Client for webhook deliveries.
    pub http: reqwest::Client,
    /// The last delivery id handed out.
    pub next_delivery: std::sync::atomic::AtomicU64,
}

impl Sim {
    /// Locks the state (a poisoned lock is still usable: every update is a whole value).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resets the account to its seeded state under the current configuration.
    pub fn reset(&self) {
        let mut state = self.state();
        state.world = World::seeded(&state.config, chrono::Utc::now());
        state.limiter = RateLimiter::default();
        state.faults.clear();
        state.deliveries.clear();
        state.cdn_requests_with_token = 0;
        state.cdn_downloads = 0;
        state.live.clear();
        state.delivery_bodies.clear();
    }
}

/// Signals that the connection must be dropped without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection closed by an injected fault")]
pub struct CloseConnection;

/// A running simulator.
#[derive(Debug, Clone)]
pub struct Running {
    /// The shared state.
    pub sim: Arc<Sim>,
}

impl Running {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.sim.public_url
    }
}

/// Binds `config.listen` and serves until the process ends.
pub async fn start(mut config: SimConfig) -> std::io::Result<Running> {
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    if config.public_url.is_empty() {
        config.public_url = format!("http://{addr}");
    }
    let public_url = config.public_url.trim_end_matches('/').to_owned();
    let world = World::seeded(&config, chrono::Utc::now());
    let sim = Arc::new(Sim {
        state: Mutex::new(State {
            config,
            world,
            limiter: RateLimiter::default(),
            faults: Faults::default(),
            deliveries: Vec::new(),
            cdn_requests_with_token: 0,
            cdn_downloads: 0,
            live: Default::default(),
            delivery_bodies: Default::default(),
        }),
        public_url,
        addr,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?,
        next_delivery: std::sync::atomic::AtomicU64::new(0),
    });
    let serving = sim.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sim = serving.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let sim = sim.clone();
                    async move { handle(sim, request).await }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Running { sim })
}

/// Reads a request whole (bodies over 1 MiB are refused).
async fn read(request: hyper::Request<hyper::body::Incoming>) -> Result<Req, Reply> {
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, 1024 * 1024);
    let body: Bytes = limited.collect().await.map(|c| c.to_bytes()).map_err(|_| {
        zoom_error(
            ::http::StatusCode::PAYLOAD_TOO_LARGE,
            300,
            "Request body too large.",
        )
    })?;
    let query = parts
        .uri
        .query()
        .map(crate::http::parse_pairs)
        .unwrap_or_default();
    Ok(Req {
        method: parts.method,
        raw_path: parts.uri.path().to_owned(),
        query,
        headers: parts.headers,
        body,
    })
}

async fn handle(
    sim: Arc<Sim>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Reply, CloseConnection> {
    let req = match read(request).await {
        Ok(req) => req,
        Err(reply) => return Ok(reply),
    };
    if req.raw_path.starts_with("/_sim/") || req.raw_path == "/_sim" {
        return Ok(admin::handle(&sim, req).await);
    }
    if req.raw_path.starts_with("/_cdn/") {
        return Ok(files::cdn(&sim, &req));
    }
    let fault = {
        let mut state = sim.state();
        let fault = state
            .faults
            .take(req.method.as_str(), &crate::http::decode(&req.raw_path));
        if fault.is_some() {
            state.world.stats.faults_injected += 1;
        }
        fault
    };
    let mut drop_answer = false;
    if let Some(fault) = fault {
        match fault.kind {
            FaultKind::Close => return Err(CloseConnection),
            FaultKind::DropAnswer => drop_answer = true,
            FaultKind::Hang => {
                tokio::time::sleep(Duration::from_millis(fault.hang_ms.unwrap_or(60_000))).await;
                return Ok(zoom_error(
                    ::http::StatusCode::GATEWAY_TIMEOUT,
                    504,
                    "Gateway timeout.",
                ));
            }
            // Never taken for an API request (`Faults::take` skips it): downloads only.
            FaultKind::Truncate => {}
            FaultKind::Latency => {
                tokio::time::sleep(Duration::from_millis(fault.latency_ms.unwrap_or(1_000))).await;
            }
            FaultKind::InternalError => {
                return Ok(zoom_error(
                    ::http::StatusCode::INTERNAL_SERVER_ERROR,
                    500,
                    "Internal server error.",
                ));
            }
            FaultKind::Unavailable => {
                return Ok(zoom_error(
                    ::http::StatusCode::SERVICE_UNAVAILABLE,
                    503,
                    "Service unavailable.",
                ));
            }
            FaultKind::TooManyRequests => {
                sim.state().world.stats.rate_limited += 1;
                let label = ratelimit::Label::Light;
                return Ok(if fault.daily {
                    ratelimit::daily_limited(label, 100, chrono::Utc::now())
                } else {
                    ratelimit::qps_limited(label, 30, fault.retry_after.unwrap_or(1))
                });
            }
        }
    }
    let reply = if req.raw_path.starts_with("/oauth/") {
        oauth::handle(&sim, &req)
    } else if req.raw_path.starts_with("/v2/") {
        rest::handle(&sim, &req)
    } else if req.raw_path.starts_with("/rec/download/") {
        files::download(&sim, &req)
    } else {
        zoom_error(
            ::http::StatusCode::NOT_FOUND,
            2300,
            "This API endpoint is not recognized.",
        )
    };
    if drop_answer {
        return Err(CloseConnection);
    }
    Ok(reply)
}
