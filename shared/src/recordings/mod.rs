//! Cloud recordings: our view of them ([`view`]), the date windows Zoom's one-month limit
//! forces ([`windows`]), what each file type is ([`files`]) and the streaming copy from Zoom
//! into S3 ([`transfer`]). The archive records and jobs are their own concept,
//! [`crate::archive`].

pub mod files;
pub mod transfer;
pub mod view;
pub mod windows;
