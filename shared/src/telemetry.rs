//! Logging setup: `tracing` to stdout, JSON when Lambda's log format is JSON
//! (`AWS_LAMBDA_LOG_FORMAT=JSON`, set by the template), readable text otherwise.
//! The level comes from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then `INFO`.

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
