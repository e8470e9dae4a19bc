//! What every DynamoDB-backed store shares: the one storage error ([`StoreError`]), the item
//! helpers ([`item`]) and the table handle with its generic operations ([`Table`]). Each concept
//! (connections, meetings, caches, archive, analytics, purge) owns its own narrow store trait
//! and adapter built over [`Table`]; none reaches into another concept's items.

pub mod item;
pub mod table;

pub use table::Table;

/// A storage failure, described without data: the service's error code or the kind of
/// transport failure, never a key, a value or a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failed: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// A storage error from an SDK error.
    pub fn from_sdk<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
        error: &aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> Self {
        Self(crate::aws::describe_sdk_error(error))
    }
}

impl From<StoreError> for crate::http::ApiError {
    /// Storage trouble is a dependency outage: 503 with `Retry-After`, naming no data.
    fn from(error: StoreError) -> Self {
        crate::http::ApiError::unavailable(error)
    }
}
