//! The time budget of a request: Lambda's deadline less a margin to answer, and never more
//! than [`MAX_BUDGET`], so a slow upstream becomes our 504 before the function times out.

use std::time::Duration;

use lambda_http::{Request, RequestExt};
use tokio::time::Instant;

/// Time kept back to write the answer.
pub const MARGIN: Duration = Duration::from_millis(700);
/// The most any request spends on upstream calls.
pub const MAX_BUDGET: Duration = Duration::from_secs(8);

/// The instant by which upstream work must be done.
pub fn budget(request: &Request) -> Instant {
    let now = Instant::now();
    let lambda_left = request.lambda_context_ref().and_then(|context| {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as u64;
        context
            .deadline
            .checked_sub(now_ms)
            .map(Duration::from_millis)
    });
    let left = lambda_left.map_or(MAX_BUDGET, |l| l.min(MAX_BUDGET));
    now + left.saturating_sub(MARGIN)
}
