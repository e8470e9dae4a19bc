//! Meetings: our view of a Zoom meeting ([`view`]), its validation before Zoom is called
//! ([`validate`]), and a connection's stored meetings ([`store`] port, [`dynamo`] adapter,
//! [`memory`] fake). Cached list pages are a [`crate::caches`] family.

pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;
pub mod store;
pub mod validate;
pub mod view;

pub use dynamo::DynamoMeetings;
pub use store::{MeetingStore, StoredMeeting};
