//! Zoom tokens: encrypted at rest ([`vault`]), stored per tenant ([`store`]), and handed out
//! fresh, refreshed once under a lease across every Lambda ([`provider`]).

pub mod provider;
pub mod store;
pub mod vault;
