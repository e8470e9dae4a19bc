//! The request loop every API function runs: resolve the route, call the handler, turn an
//! [`ApiError`] into problem+json, and record latency and status per route as EMF metrics.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response, service_fn};

use super::{ApiError, Matched, Router, deadline};
use crate::metrics::Metrics;

/// A function's request handler: one method that receives the resolved route.
pub trait Handler<R>: Send + Sync + 'static {
    /// Handles one routed request.
    fn handle(
        &self,
        matched: Matched<R>,
        request: Request,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}

/// Routes and handles one request; never fails (errors become problem+json responses).
pub async fn dispatch<R, H>(
    router: &Router<R>,
    handler: &H,
    metrics: &Metrics,
    request: Request,
) -> Response<Body>
where
    R: Copy,
    H: Handler<R>,
{
    let started = Instant::now();
    let method = request.method().clone();
    // The raw path without the stage; requests built outside Lambda (tests) only have a URI.
    let path = match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    };
    let resolved = router.resolve(&method, path).map(|mut matched| {
        matched.params.merge_gateway(
            request
                .path_parameters()
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        matched
    });
    let (label, result) = match resolved {
        Ok(matched) => {
            let label = format!("{method} {}", matched.pattern);
            let end = deadline::function_end(&request);
            let handled = deadline::within_invocation(end, handler.handle(matched, request));
            (label, handled.await)
        }
        Err(error) => ("unmatched".to_owned(), Err(error)),
    };
    let response = result.unwrap_or_else(ApiError::into_response);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics.request(&label, status, elapsed);
    tracing::info!(route = %label, status, latency_ms = elapsed.as_millis() as u64, "request");
    response
}

/// Runs the Lambda HTTP loop for `handler` behind `router`.
pub async fn run<R, H>(
    function: &'static str,
    router: Router<R>,
    handler: H,
) -> Result<(), lambda_http::Error>
where
    R: Copy + Send + Sync + 'static,
    H: Handler<R>,
{
    let state = Arc::new((router, handler, Metrics::new(function)));
    lambda_http::run(service_fn(move |request: Request| {
        let state = state.clone();
        async move {
            let (router, handler, metrics) = &*state;
            Ok::<_, std::convert::Infallible>(dispatch(router, handler, metrics, request).await)
        }
    }))
    .await
}
