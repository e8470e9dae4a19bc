//! Meetings: our view of a Zoom meeting ([`view`]), its validation before Zoom is called
//! ([`validate`]) and its per-tenant storage ([`store`]).

pub mod store;
pub mod validate;
pub mod view;
