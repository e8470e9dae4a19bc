//! Analytics: Zoom events parsed ([`event`]), participant timelines folded into per-meeting
//! figures ([`timeline`]), and the per-tenant, per-day aggregates ([`store`]).

pub mod event;
pub mod store;
pub mod timeline;
