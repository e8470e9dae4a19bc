//! Caller identity: who is calling, as the contract defines it.
//!
//! 1. API Gateway's JWT authorizer verified the token: its claims are in the request context.
//! 2. No authorizer claims and `API_JWT_SECRET` set: we verify the bearer ourselves (HS256,
//!    `exp` required).
//! 3. Otherwise 401. No header or query parameter ever names the tenant directly.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ApiError;
use crate::config::{Env, vars};

/// Longest tenant id we accept (the JWT `sub`).
pub const MAX_TENANT_ID_LEN: usize = 256;

/// The authenticated caller. The tenant is the JWT's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant every read and write of this request is scoped to.
    pub tenant_id: String,
    /// Server-to-Server mode: what the platform's JWT says the tenant is bound to, from the
    /// `zoom_user` (a Zoom user id or email of the account) or `zoom_scope: "account"` claims.
    pub binding: Option<BindingClaim>,
}

/// The Zoom binding a caller's JWT claims (Server-to-Server mode; ignored in user OAuth, where
/// the tenant's own authorization decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingClaim {
    /// `zoom_user`: this Zoom user (id or email).
    User(String),
    /// `zoom_scope: "account"`: the account-wide role.
    Account,
}

impl BindingClaim {
    /// How it is recorded on the binding: `user:{id or email}` or `account`.
    pub fn as_text(&self) -> String {
        match self {
            Self::User(user) => format!("user:{}", user.to_ascii_lowercase()),
            Self::Account => "account".to_owned(),
        }
    }
}

/// Longest `zoom_user` claim we accept.
pub const MAX_ZOOM_USER_CLAIM_LEN: usize = 128;

/// Reads the binding claims (`zoom_scope` wins when it says `account`); a claim that breaks
/// the rules is a 401 saying which.
pub fn binding_claim(
    zoom_user: Option<&str>,
    zoom_scope: Option<&str>,
) -> Result<Option<BindingClaim>, ApiError> {
    match zoom_scope {
        None | Some("" | "user") => {}
        Some("account") => return Ok(Some(BindingClaim::Account)),
        Some(_) => {
            return Err(ApiError::Unauthorized(
                "the token's zoom_scope claim must be \"account\" or \"user\"".into(),
            ));
        }
    }
    match zoom_user {
        None | Some("") => Ok(None),
        Some(user) if user.eq_ignore_ascii_case("me") => Err(ApiError::Unauthorized(
            "the token's zoom_user claim must name a Zoom user (id or email), not me".into(),
        )),
        Some(user)
            if user.len() <= MAX_ZOOM_USER_CLAIM_LEN
                && user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c)) =>
        {
            Ok(Some(BindingClaim::User(user.to_owned())))
        }
        Some(_) => Err(ApiError::Unauthorized(
            "the token's zoom_user claim is not a Zoom user id or email".into(),
        )),
    }
}

/// Verifies callers; built once per process.
#[derive(Clone)]
pub struct CallerAuth {
    key: Option<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for CallerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerAuth")
            .field("self_verification", &self.key.is_some())
            .finish()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    #[serde(default)]
    zoom_user: Option<String>,
    #[serde(default)]
    zoom_scope: Option<String>,
}

impl CallerAuth {
    /// Reads `API_JWT_SECRET` (optional).
    pub fn from_env(env: &Env) -> Self {
        Self::new(env.optional_secret(vars::API_JWT_SECRET))
    }

    /// Self-verification with `secret`, or authorizer claims only when `None`.
    pub fn new(secret: Option<SecretString>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        Self {
            key: secret.map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes())),
            validation,
        }
    }

    /// Authenticates a Lambda HTTP request.
    pub fn authenticate(&self, request: &Request) -> Result<Caller, ApiError> {
        let claims = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        };
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| {
                v.to_str().map_err(|_| {
                    ApiError::Unauthorized("the Authorization header is not valid text".into())
                })
            })
            .transpose()?;
        self.authenticate_parts(claims, header)
    }

    /// The identity rules over their two inputs: authorizer claims and the `Authorization`
    /// header.
    pub fn authenticate_parts(
        &self,
        authorizer_claims: Option<&HashMap<String, String>>,
        authorization: Option<&str>,
    ) -> Result<Caller, ApiError> {
        if let Some(claims) = authorizer_claims.filter(|c| !c.is_empty()) {
            let sub = claims.get("sub").ok_or_else(|| {
                ApiError::Unauthorized("the verified token has no sub claim".into())
            })?;
            let binding = binding_claim(
                claims.get("zoom_user").map(String::as_str),
                claims.get("zoom_scope").map(String::as_str),
            )?;
            return tenant_from_sub(sub, binding);
        }
        let Some(key) = &self.key else {
            return Err(ApiError::Unauthorized(
                "no verified identity: this deployment expects API Gateway's JWT authorizer".into(),
            ));
        };
        let header = authorization.ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization: Bearer <JWT> header".into())
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header is not a Bearer token".into())
            })?;
        let data = decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidSignature => "the token's signature is invalid",
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    "the token's algorithm is not HS256"
                }
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, sub)",
                _ => "the token is malformed",
            };
            ApiError::Unauthorized(reason.into())
        })?;
        let sub = data.claims.sub.ok_or_else(|| {
            ApiError::Unauthorized("the token lacks a required claim (exp, sub)".into())
        })?;
        let binding = binding_claim(
            data.claims.zoom_user.as_deref(),
            data.claims.zoom_scope.as_deref(),
        )?;
        tenant_from_sub(&sub, binding)
    }
}

/// Whether `sub` can safely name a tenant in storage keys: 1 to [`MAX_TENANT_ID_LEN`] bytes,
/// no `#` and no control characters.
pub fn usable_tenant_id(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_TENANT_ID_LEN
        && !sub.chars().any(|c| c.is_control() || c == '#')
}

/// Checks that `sub` can safely name a tenant in storage keys.
fn tenant_from_sub(sub: &str, binding: Option<BindingClaim>) -> Result<Caller, ApiError> {
    if !usable_tenant_id(sub) {
        return Err(ApiError::Unauthorized(
            "the token's sub is not a usable tenant id (1-256 characters, no '#' or control characters)".into(),
        ));
    }
    Ok(Caller {
        tenant_id: sub.to_owned(),
        binding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "test-secret-of-reasonable-length";

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    }

    fn token(claims: serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encode")
    }

    fn auth() -> CallerAuth {
        CallerAuth::new(Some(SecretString::from(SECRET.to_owned())))
    }

    fn bearer(t: &str) -> String {
        format!("Bearer {t}")
    }

    fn reason(result: Result<Caller, ApiError>) -> String {
        match result {
            Err(ApiError::Unauthorized(reason)) => reason,
            other => panic!("expected 401, got {other:?}"),
        }
    }

    #[test]
    fn good_token_names_the_tenant() {
        let t = token(json!({"sub": "tenant-a", "exp": now() + 600}), SECRET);
        let caller = auth()
            .authenticate_parts(None, Some(&bearer(&t)))
            .expect("valid");
        assert_eq!(caller.tenant_id, "tenant-a");
    }

    #[test]
    fn binding_claims_are_read_and_checked() {
        let t = token(
            json!({"sub": "t", "exp": now() + 600, "zoom_user": "Jill@Example.com"}),
            SECRET,
        );
        let caller = auth()
            .authenticate_parts(None, Some(&bearer(&t)))
            .expect("valid");
        assert_eq!(
            caller.binding,
            Some(BindingClaim::User("Jill@Example.com".into()))
        );
        assert_eq!(
            caller.binding.map(|b| b.as_text()).as_deref(),
            Some("user:jill@example.com")
        );
        let t = token(
            json!({"sub": "t", "exp": now() + 600, "zoom_user": "x", "zoom_scope": "account"}),
            SECRET,
        );
        assert_eq!(
            auth()
                .authenticate_parts(None, Some(&bearer(&t)))
                .expect("valid")
                .binding,
            Some(BindingClaim::Account)
        );
        for bad in [
            json!({"sub": "t", "exp": now() + 600, "zoom_user": "a b"}),
            json!({"sub": "t", "exp": now() + 600, "zoom_user": "x".repeat(129)}),
            json!({"sub": "t", "exp": now() + 600, "zoom_scope": "everything"}),
            json!({"sub": "t", "exp": now() + 600, "zoom_user": "me"}),
        ] {
            reason(auth().authenticate_parts(None, Some(&bearer(&token(bad, SECRET)))));
        }
        let claims = HashMap::from([
            ("sub".to_owned(), "t".to_owned()),
            ("zoom_scope".to_owned(), "account".to_owned()),
        ]);
        assert_eq!(
            auth()
                .authenticate_parts(Some(&claims), None)
                .expect("authorizer claims")
                .binding,
            Some(BindingClaim::Account)
        );
    }

    #[test]
    fn no_jwt_is_401() {
        assert!(reason(auth().authenticate_parts(None, None)).contains("missing"));
        assert!(reason(auth().authenticate_parts(None, Some("Basic abc"))).contains("Bearer"));
        assert!(reason(auth().authenticate_parts(None, Some("Bearer "))).contains("Bearer"));
    }

    #[test]
    fn bad_signature_is_401() {
        let t = token(
            json!({"sub": "tenant-a", "exp": now() + 600}),
            "another-secret",
        );
        assert!(reason(auth().authenticate_parts(None, Some(&bearer(&t)))).contains("signature"));
    }

    #[test]
    fn alg_none_is_401() {
        // {"alg":"none","typ":"JWT"} . {"sub":"tenant-a","exp":<future>} . (empty signature)
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64(format!(r#"{{"sub":"tenant-a","exp":{}}}"#, now() + 600).as_bytes());
        let t = format!("{header}.{payload}.");
        reason(auth().authenticate_parts(None, Some(&bearer(&t))));
    }

    #[test]
    fn other_algorithm_is_401() {
        let claims = json!({"sub": "tenant-a", "exp": now() + 600});
        let t = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("encode");
        assert!(reason(auth().authenticate_parts(None, Some(&bearer(&t)))).contains("HS256"));
    }

    #[test]
    fn expired_token_is_401() {
        let t = token(json!({"sub": "tenant-a", "exp": now() - 3600}), SECRET);
        assert!(reason(auth().authenticate_parts(None, Some(&bearer(&t)))).contains("expired"));
    }

    #[test]
    fn missing_exp_or_sub_is_401() {
        let t = token(json!({"sub": "tenant-a"}), SECRET);
        assert!(reason(auth().authenticate_parts(None, Some(&bearer(&t)))).contains("claim"));
        let t = token(json!({"exp": now() + 600}), SECRET);
        assert!(reason(auth().authenticate_parts(None, Some(&bearer(&t)))).contains("claim"));
    }

    #[test]
    fn hostile_sub_is_401() {
        for sub in [
            "",
            "a#MEETING",
            "line\nbreak",
            &"x".repeat(MAX_TENANT_ID_LEN + 1),
        ] {
            let t = token(json!({"sub": sub, "exp": now() + 600}), SECRET);
            assert!(
                reason(auth().authenticate_parts(None, Some(&bearer(&t)))).contains("tenant id")
            );
        }
    }

    #[test]
    fn garbage_token_is_401() {
        for t in ["abc", "a.b.c", "....", &"A".repeat(10_000)] {
            reason(auth().authenticate_parts(None, Some(&bearer(t))));
        }
    }

    #[test]
    fn authorizer_claims_win_over_the_header() {
        let claims = HashMap::from([("sub".to_owned(), "tenant-from-authorizer".to_owned())]);
        let without_secret = CallerAuth::new(None);
        let caller = without_secret
            .authenticate_parts(Some(&claims), Some("Bearer not-even-a-jwt"))
            .expect("authorizer claims are trusted");
        assert_eq!(caller.tenant_id, "tenant-from-authorizer");

        let no_sub = HashMap::from([("scope".to_owned(), "x".to_owned())]);
        assert!(reason(without_secret.authenticate_parts(Some(&no_sub), None)).contains("sub"));
    }

    #[test]
    fn no_claims_and_no_secret_is_401() {
        let t = token(json!({"sub": "tenant-a", "exp": now() + 600}), SECRET);
        assert!(
            reason(CallerAuth::new(None).authenticate_parts(None, Some(&bearer(&t))))
                .contains("authorizer")
        );
    }

    #[test]
    fn reads_claims_from_a_gateway_request() {
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/api/zoom/meetings", "rawQueryString": "",
            "headers": {"authorization": "Bearer whatever"},
            "requestContext": {
                "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d", "requestId": "r",
                "routeKey": "$default", "stage": "$default", "time": "27/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
                "http": {"method": "GET", "path": "/api/zoom/meetings", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
                "authorizer": {"jwt": {"claims": {"sub": "tenant-z"}, "scopes": null}}
            },
            "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).expect("event parses");
        let caller = CallerAuth::new(None)
            .authenticate(&request)
            .expect("claims");
        assert_eq!(caller.tenant_id, "tenant-z");
    }
}
