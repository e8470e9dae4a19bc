//! Cloud recordings: our view of them ([`view`]), the date windows Zoom's one-month limit
//! forces ([`windows`]), the archive records and jobs ([`archive`]) and the streaming copy
//! from Zoom into S3 ([`transfer`]).

pub mod archive;
pub mod transfer;
pub mod view;
pub mod windows;
