//! Development caller tokens, for the local stack only.
//!
//! In AWS the platform that embeds the dashboard provides the caller's JWT (the API Gateway
//! authorizer verifies it); nothing here mints one. Locally the functions verify HS256 JWTs with
//! `API_JWT_SECRET` themselves, and `POST /api/zoom/dashboard/dev-token {"tenant": "acme"}`
//! mints one so a person can open the page without a platform. It answers only when **both**
//! `API_JWT_SECRET` is set and [`ZOOM_DASHBOARD_DEV_TOKENS`] is on, a switch only the local
//! stack (`tools/stack/stack.sh`) sets and `template.yaml` never does
//! (`tools/stack/check_template.py` checks that); otherwise the route answers `404`, exactly as
//! a route that does not exist.

use chrono::{TimeZone, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zoom_shared::clock::now_secs;
use zoom_shared::config::{ConfigError, Env, vars};
use zoom_shared::http::caller::{binding_claim, usable_tenant_id};
use zoom_shared::http::{ApiError, CallerAuth, FieldError};

/// The local switch: `1` (or `true`) lets this function mint development tokens when
/// `API_JWT_SECRET` is set too. Set by the local stack only; never by `template.yaml`.
pub const ZOOM_DASHBOARD_DEV_TOKENS: &str = "ZOOM_DASHBOARD_DEV_TOKENS";

/// How long a development token is valid: a working day.
pub const DEV_TOKEN_TTL_SECS: i64 = 8 * 3600;

/// The largest request body accepted.
pub const MAX_BODY: usize = 4096;

/// The longest tenant name minted, in characters (the API document's `maxLength`): any 64
/// characters fit the 256 bytes of UTF-8 a caller JWT's `sub` may have.
pub const MAX_DEV_TENANT_CHARS: usize = 64;

/// Mints development tokens; exists only when the local switch and the secret are both set.
pub struct DevTokens {
    key: EncodingKey,
    check: CallerAuth,
    ttl_secs: i64,
}

impl std::fmt::Debug for DevTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTokens")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// `POST /api/zoom/dashboard/dev-token`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevTokenRequest {
    /// The tenant (the token's `sub`).
    tenant: Option<Value>,
    /// Server-to-Server mode: the Zoom user (id or email) the tenant is bound to.
    zoom_user: Option<Value>,
    /// Server-to-Server mode: `account` for the account-wide role.
    zoom_scope: Option<Value>,
}

/// A minted token and what it says.
#[derive(Debug, Serialize)]
pub struct Minted {
    /// The JWT, for `Authorization: Bearer`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Its `sub`.
    pub tenant: String,
    /// Its `exp`, RFC 3339.
    pub expires_at: String,
    /// Seconds until then.
    pub expires_in: i64,
}

impl DevTokens {
    /// The minter when `ZOOM_DASHBOARD_DEV_TOKENS` is on and `API_JWT_SECRET` is set; `None`
    /// otherwise. A switch that is neither on nor off is a configuration error.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let on = match env.optional(ZOOM_DASHBOARD_DEV_TOKENS) {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: ZOOM_DASHBOARD_DEV_TOKENS,
                    reason: "must be 1 or 0",
                });
            }
        };
        if !on {
            return Ok(None);
        }
        let Some(secret) = env.optional_secret(vars::API_JWT_SECRET) else {
            tracing::warn!(
                "ZOOM_DASHBOARD_DEV_TOKENS is on but API_JWT_SECRET is not set: no development tokens"
            );
            return Ok(None);
        };
        tracing::warn!(
            "development tokens are on (local stack only): POST /api/zoom/dashboard/dev-token mints caller JWTs"
        );
        Ok(Some(Self::new(secret)))
    }

    /// A minter signing with `secret` (HS256, as the functions verify it).
    pub fn new(secret: SecretString) -> Self {
        Self {
            key: EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            check: CallerAuth::new(Some(secret)),
            ttl_secs: DEV_TOKEN_TTL_SECS,
        }
    }

    /// Mints a token for the request's tenant (and binding claims), after checking them by the
    /// rules every function applies to a caller's JWT; `400` naming each bad field.
    pub fn mint(&self, request: &DevTokenRequest) -> Result<Minted, ApiError> {
        let mut errors = Vec::new();
        let tenant = text("tenant", request.tenant.as_ref(), &mut errors);
        if let Some(tenant) = &tenant
            && (!usable_tenant_id(tenant) || tenant.chars().count() > MAX_DEV_TENANT_CHARS)
        {
            errors.push(FieldError::new(
                "tenant",
                format!(
                    "must be 1 to {MAX_DEV_TENANT_CHARS} characters, without '#' or control characters"
                ),
            ));
        }
        let zoom_user = optional_text("zoom_user", request.zoom_user.as_ref(), &mut errors);
        let zoom_scope = optional_text("zoom_scope", request.zoom_scope.as_ref(), &mut errors);
        for (field, result) in [
            ("zoom_user", binding_claim(zoom_user.as_deref(), None)),
            ("zoom_scope", binding_claim(None, zoom_scope.as_deref())),
        ] {
            if let Err(ApiError::Unauthorized(reason)) = result {
                errors.push(FieldError::new(field, reason.replace("the token's ", "")));
            }
        }
        let (Some(tenant), true) = (tenant, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let now = now_secs();
        let exp = now + self.ttl_secs;
        let mut claims =
            json!({"sub": tenant, "iat": now, "exp": exp, "iss": "zoom-dashboard-dev-token"});
        for (name, value) in [("zoom_user", zoom_user), ("zoom_scope", zoom_scope)] {
            if let (Some(value), Some(claims)) = (value, claims.as_object_mut()) {
                claims.insert(name.to_owned(), Value::String(value));
            }
        }
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|e| ApiError::Internal(format!("development token not signed: {e}")))?;
        // What every function will do with it: it must pass, as the same tenant.
        let caller = self
            .check
            .authenticate_parts(None, Some(&format!("Bearer {token}")))?;
        if caller.tenant_id != tenant {
            return Err(ApiError::Internal(
                "a development token did not verify as its tenant".into(),
            ));
        }
        Ok(Minted {
            token,
            token_type: "Bearer",
            tenant,
            expires_at: Utc
                .timestamp_opt(exp, 0)
                .single()
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            expires_in: self.ttl_secs,
        })
    }
}

/// A required string field.
fn text(name: &str, value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        None | Some(Value::Null) => errors.push(FieldError::new(name, "is required")),
        Some(Value::String(s)) => return Some(s.clone()),
        Some(_) => errors.push(FieldError::new(name, "must be a string")),
    }
    None
}

/// An optional string field (empty counts as absent).
fn optional_text(
    name: &str,
    value: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::new(name, "must be a string"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    fn request(body: Value) -> DevTokenRequest {
        serde_json::from_value(body).expect("request shape")
    }

    fn minter() -> DevTokens {
        DevTokens::new(SecretString::from("dev-secret-of-some-length".to_owned()))
    }

    #[test]
    fn on_only_with_both_the_switch_and_the_secret() {
        let secret = (vars::API_JWT_SECRET, "s3cret");
        assert!(DevTokens::from_env(&env(&[])).expect("ok").is_none());
        assert!(DevTokens::from_env(&env(&[secret])).expect("ok").is_none());
        assert!(
            DevTokens::from_env(&env(&[(ZOOM_DASHBOARD_DEV_TOKENS, "1")]))
                .expect("ok")
                .is_none()
        );
        assert!(
            DevTokens::from_env(&env(&[secret, (ZOOM_DASHBOARD_DEV_TOKENS, "0")]))
                .expect("ok")
                .is_none()
        );
        for on in ["1", "true"] {
            assert!(
                DevTokens::from_env(&env(&[secret, (ZOOM_DASHBOARD_DEV_TOKENS, on)]))
                    .expect("ok")
                    .is_some()
            );
        }
        assert!(matches!(
            DevTokens::from_env(&env(&[secret, (ZOOM_DASHBOARD_DEV_TOKENS, "yes")])),
            Err(ConfigError::Invalid {
                name: ZOOM_DASHBOARD_DEV_TOKENS,
                ..
            })
        ));
    }

    #[test]
    fn a_minted_token_is_the_tenants_for_every_function() {
        let minted = minter()
            .mint(&request(json!({"tenant": "acme"})))
            .expect("minted");
        assert_eq!(
            (minted.tenant.as_str(), minted.token_type),
            ("acme", "Bearer")
        );
        assert_eq!(minted.expires_in, DEV_TOKEN_TTL_SECS);
        let check = CallerAuth::new(Some(SecretString::from(
            "dev-secret-of-some-length".to_owned(),
        )));
        let caller = check
            .authenticate_parts(None, Some(&format!("Bearer {}", minted.token)))
            .expect("verifies");
        assert_eq!(caller.tenant_id, "acme");
        assert_eq!(caller.binding, None);
        // Another secret (another stack) refuses it.
        let other = CallerAuth::new(Some(SecretString::from("another".to_owned())));
        assert!(
            other
                .authenticate_parts(None, Some(&format!("Bearer {}", minted.token)))
                .is_err()
        );
    }

    #[test]
    fn binding_claims_are_carried_and_checked() {
        let minted = minter()
            .mint(&request(
                json!({"tenant": "acme", "zoom_user": "jill@example.com"}),
            ))
            .expect("minted");
        let check = CallerAuth::new(Some(SecretString::from(
            "dev-secret-of-some-length".to_owned(),
        )));
        let caller = check
            .authenticate_parts(None, Some(&format!("Bearer {}", minted.token)))
            .expect("verifies");
        assert_eq!(
            caller.binding,
            Some(zoom_shared::http::BindingClaim::User(
                "jill@example.com".into()
            ))
        );
        for (body, field) in [
            (json!({"tenant": "a", "zoom_user": "me"}), "zoom_user"),
            (json!({"tenant": "a", "zoom_user": "a b"}), "zoom_user"),
            (
                json!({"tenant": "a", "zoom_scope": "everything"}),
                "zoom_scope",
            ),
            (json!({"tenant": "a", "zoom_scope": 1}), "zoom_scope"),
        ] {
            match minter().mint(&request(body)) {
                Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, field),
                other => panic!("expected 400 on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn tenant_names_follow_the_caller_rules() {
        let long = "x".repeat(MAX_DEV_TENANT_CHARS + 1);
        for bad in [
            json!({}),
            json!({"tenant": null}),
            json!({"tenant": ""}),
            json!({"tenant": 7}),
            json!({"tenant": "a#b"}),
            json!({"tenant": "line\nbreak"}),
            json!({"tenant": "tab\there"}),
            json!({"tenant": long}),
            json!({"tenant": "\u{8d}\u{9e}"}),
        ] {
            match minter().mint(&request(bad.clone())) {
                Err(ApiError::Validation(errors)) => {
                    assert_eq!(errors.len(), 1, "{bad}");
                    assert_eq!(errors[0].field, "tenant", "{bad}");
                }
                other => panic!("{bad}: expected 400, got {other:?}"),
            }
        }
        let longest = "x".repeat(MAX_DEV_TENANT_CHARS);
        // The longest name of the widest characters still fits a caller JWT's `sub`.
        let widest = "😀".repeat(MAX_DEV_TENANT_CHARS);
        for good in [
            "acme",
            "Tenant With Spaces",
            "ünïcödé",
            longest.as_str(),
            widest.as_str(),
        ] {
            assert!(
                minter().mint(&request(json!({"tenant": good}))).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(
            serde_json::from_value::<DevTokenRequest>(json!({"tenant": "a", "admin": true}))
                .is_err()
        );
    }
}
