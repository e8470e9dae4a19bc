//! Zoom tokens: encrypted at rest ([`vault`]), stored with the tenant's connection
//! ([`crate::connections`]), handed out fresh and refreshed once under a lease across every
//! Lambda ([`provider`]), or as one shared Server-to-Server token ([`account`], cached through
//! [`cache`]); [`modes`] picks by configuration.

pub mod account;
pub mod cache;
pub mod modes;
pub mod provider;
pub mod vault;

pub use modes::{REAUTH_URL, Tokens};
