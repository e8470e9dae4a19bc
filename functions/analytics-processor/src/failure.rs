//! Why a message was not processed, and what a storage error means for it.

/// Why a message was not processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another delivery (an outage, contention, another worker holding it).
    Retry(String),
    /// A request DynamoDB refused as invalid: a bug, straight to the dead-letter queue.
    Invalid(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Retry(reason) | Failure::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Retry(reason)
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        Failure::Retry(reason.to_owned())
    }
}

/// A storage failure, as the failure of a message: invalid requests are bugs, the rest
/// transient.
pub fn store(e: zoom_shared::store::StoreError) -> Failure {
    let text = e.to_string();
    if text.contains("ValidationException") {
        Failure::Invalid(text)
    } else {
        Failure::Retry(text)
    }
}
