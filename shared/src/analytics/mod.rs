//! Analytics: Zoom events parsed ([`event`]), participant timelines folded into per-meeting
//! figures ([`timeline`]), a meeting's settle into its day ([`settle`]; several of an owner's
//! at once: [`settlement`]), and the
//! per-connection, per-day aggregates: the ports in [`store`], the DynamoDB adapter in
//! [`dynamo`], a reader fake in [`memory`].

pub mod chunks;
pub mod dynamo;
pub mod event;
pub mod jobs;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;
pub mod settle;
pub mod settlement;
pub mod store;
pub mod timeline;

pub use dynamo::DynamoAnalytics;
