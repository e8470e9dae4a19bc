//! Zoom webhooks: signature and replay checks ([`verify`]) and the intake decision for one
//! delivery ([`intake`]): answer the URL validation, reject, ignore, or enqueue.

pub mod intake;
pub mod verify;
