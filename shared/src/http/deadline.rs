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
    let left = lambda_left(request).map_or(MAX_BUDGET, |l| l.min(MAX_BUDGET));
    now + left.saturating_sub(MARGIN)
}

/// The API functions' timeout in `template.yaml` (Globals; the webhook intake and the
/// dashboard have 5 s and call neither Zoom nor the token provider), assumed where Lambda gives
/// no deadline (`cargo lambda watch` sends a fixed one long past).
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

tokio::task_local! {
    /// When the invocation that runs this task can be ended by Lambda.
    static FUNCTION_END: Instant;
}

/// When Lambda can end the invocation of `request`: its deadline, or [`FUNCTION_TIMEOUT`] from
/// now when it gives none.
pub fn function_end(request: &Request) -> Instant {
    Instant::now() + lambda_left(request).unwrap_or(FUNCTION_TIMEOUT)
}

/// Runs `work` (a request's handling) with `end` as its invocation's end, for
/// [`invocation_end`] to read anywhere inside it.
pub async fn within_invocation<F: Future>(end: Instant, work: F) -> F::Output {
    FUNCTION_END.scope(end, work).await
}

/// The end of the invocation this task runs in, when [`within_invocation`] set it (not in a
/// spawned task, nor outside the HTTP request loop).
pub fn invocation_end() -> Option<Instant> {
    FUNCTION_END.try_with(|end| *end).ok()
}

/// Time left before Lambda's deadline for `request`, if it gave one in the future.
fn lambda_left(request: &Request) -> Option<Duration> {
    request.lambda_context_ref().and_then(|context| {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as u64;
        context
            .deadline
            .checked_sub(now_ms)
            .filter(|left| *left > 0)
            .map(Duration::from_millis)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_lambda_deadline_the_function_timeout_is_assumed() {
        let request = Request::default();
        let before = Instant::now();
        let end = function_end(&request);
        assert!(end >= before + FUNCTION_TIMEOUT && end <= Instant::now() + FUNCTION_TIMEOUT);
        let soft = budget(&request);
        assert!(
            soft + MARGIN <= end,
            "the budget ends before the function can"
        );
    }

    #[tokio::test]
    async fn a_deadline_in_the_past_is_no_deadline() {
        let mut request = Request::default();
        let mut context = lambda_http::Context::default();
        context.deadline = 600_000;
        request.extensions_mut().insert(context);
        let before = Instant::now();
        assert!(function_end(&request) >= before + FUNCTION_TIMEOUT);
        assert!(budget(&request) >= before + MAX_BUDGET - MARGIN);
    }

    #[tokio::test]
    async fn the_invocation_end_is_seen_only_inside_its_scope() {
        assert_eq!(invocation_end(), None);
        let end = Instant::now() + Duration::from_secs(3);
        assert_eq!(
            within_invocation(end, async { invocation_end() }).await,
            Some(end)
        );
        assert_eq!(invocation_end(), None);
    }
}
