//! Meetings: our view of a Zoom meeting ([`view`]), its validation before Zoom is called
//! ([`validate`]), its per-tenant storage ([`store`]) and the cache of list pages
//! ([`list_cache`]).

pub mod list_cache;
pub mod store;
pub mod validate;
pub mod view;
