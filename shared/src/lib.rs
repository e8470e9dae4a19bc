//! Shared building blocks of the Zoom integration's Lambda functions.
//!
//! Organised by concept: [`config`] (environment, read once), [`http`] (routing, caller
//! identity, problem+json errors, responses), [`aws`] (the DynamoDB and SQS adapters behind
//! small ports), [`probe`] (dependency health checks), [`metrics`] (CloudWatch EMF lines) and
//! [`telemetry`] (tracing setup).

pub mod analytics;
pub mod archive;
pub mod aws;
pub mod batch;
pub mod caches;
pub mod clock;
pub mod config;
pub mod connections;
pub mod http;
pub mod idempotency;
pub mod meetings;
pub mod metrics;
pub mod owner;
pub mod probe;
pub mod purge;
pub mod recordings;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
pub mod zoom;

/// The version of this build, reported by `GET /api/zoom/config`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
