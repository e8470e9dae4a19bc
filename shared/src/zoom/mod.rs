//! Zoom facts the integration relies on, taken from Zoom's published OpenAPI documents in
//! `../shared/zoom/specs/`.

pub mod access;
pub mod api;
pub mod client;
pub mod http_client;
pub mod models;
pub mod oauth;
pub mod retry;
pub mod scopes;
