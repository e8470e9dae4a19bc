//! Zoom facts the integration relies on, taken from Zoom's published OpenAPI documents in
//! `../shared/zoom/specs/`.

pub mod api;
pub mod http_client;
pub mod oauth;
pub mod scopes;
