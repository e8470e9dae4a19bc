//! AWS adapters: the one SDK configuration, the SQS queue and the S3 bucket (the DynamoDB
//! table handle lives with the stores, in [`crate::store`]).
//!
//! Clients are built once per process (in `main.rs`) and shared by every request.
//! `AWS_ENDPOINT_URL` (the SDK's standard override) points them at moto server locally.

pub mod bucket;
pub mod queue;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;

pub use bucket::Bucket;
pub use queue::Queue;

/// Loads the shared SDK configuration with bounded timeouts, so no AWS call can hang a request.
pub async fn load_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}

/// Describes an SDK error in words safe for a caller: the service's error code when there is
/// one, else the kind of transport failure. Never a URL, a header or a credential.
pub fn describe_sdk_error<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::SdkError;
    match error {
        SdkError::ServiceError(service) => {
            service.err().code().unwrap_or("service error").to_owned()
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "timed out".to_owned(),
        SdkError::DispatchFailure(_) => "unreachable".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_owned(),
        _ => "unknown error".to_owned(),
    }
}

/// Whether an SDK error is DynamoDB's `ConditionalCheckFailedException` (a conditional write
/// that found the item in another state: an expected outcome, not a failure).
pub fn is_condition_failure<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}
