//! HTTP plumbing shared by every API function: routing ([`router`]), caller identity
//! ([`caller`]), the one error type and its problem+json form ([`problem`]), JSON responses
//! ([`response`]) and the request loop that ties them together with metrics ([`serve`]).

pub mod caller;
pub mod deadline;
pub mod input;
#[cfg(feature = "openapi-check")]
pub mod openapi;
pub mod problem;
pub mod response;
pub mod router;
pub mod samples;
pub mod serve;
#[cfg(any(test, feature = "fakes"))]
pub mod testing;

pub use caller::{BindingClaim, Caller, CallerAuth};
pub use problem::{ApiError, FieldError};
pub use response::json;
pub use router::{Matched, PathParams, Router};
