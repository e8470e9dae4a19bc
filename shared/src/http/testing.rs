//! Requests and answers for handler unit tests (feature `fakes`): a request as API Gateway
//! would hand it over (caller JWT, query parameters, JSON body) and the routed answer.

use std::collections::HashMap;

use http::Method;
use jsonwebtoken::{EncodingKey, Header, encode};
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Value, json};

use super::serve::{Handler, dispatch};
use super::{CallerAuth, Router};
use crate::metrics::Metrics;

/// The JWT secret the test requests are signed with.
pub const SECRET: &str = "unit-test-jwt-secret";

/// A caller check that accepts [`request`]'s JWTs.
pub fn caller_auth() -> CallerAuth {
    CallerAuth::new(Some(secrecy::SecretString::from(SECRET.to_owned())))
}

/// A request from `tenant` (extra JWT claims in `claims`), with the query of `uri` parsed as
/// API Gateway does and `body` as JSON.
pub fn request(
    tenant: &str,
    claims: Value,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Request {
    request_with(tenant, claims, method, uri, body, &[])
}

/// As [`request`], with extra headers.
pub fn request_with(
    tenant: &str,
    claims: Value,
    method: Method,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Request {
    let mut all = json!({"sub": tenant, "exp": crate::clock::now_secs() + 600});
    if let (Some(all), Some(extra)) = (all.as_object_mut(), claims.as_object()) {
        all.extend(extra.clone());
    }
    let jwt = encode(
        &Header::default(),
        &all,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap_or_default();
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {jwt}"));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
        .unwrap_or_default();
    let query: HashMap<String, String> = uri
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| {
                    let decode = |s: &str| {
                        percent_encoding::percent_decode_str(s)
                            .decode_utf8_lossy()
                            .into_owned()
                    };
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    request.with_query_string_parameters(query)
}

/// The answer to `request` through `router` and `handler`: status, JSON body (or null) and
/// headers.
pub async fn call<R: Copy, H: Handler<R>>(
    router: &Router<R>,
    handler: &H,
    request: Request,
) -> (u16, Value, http::HeaderMap) {
    let metrics = Metrics::in_memory("unit").0;
    let response = dispatch(router, handler, &metrics, request).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body, response.headers().clone())
}
