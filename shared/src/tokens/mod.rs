//! Zoom tokens: encrypted at rest ([`vault`]), stored per tenant ([`store`]), handed out fresh
//! and refreshed once under a lease across every Lambda ([`provider`]), or as one shared
//! Server-to-Server token ([`account`]); [`modes`] picks by configuration.

pub mod account;
pub mod modes;
pub mod provider;
pub mod store;
pub mod vault;

pub use modes::{REAUTH_URL, Tokens};
