//! The non-secret configuration `GET /api/zoom/config` reports: whether each secret is
//! configured, never its value.

use serde::Serialize;
use zoom_shared::config::{Env, OAuthMode, ZoomApp, vars};
use zoom_shared::zoom::scopes;

/// What `GET /api/zoom/config` answers.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSettings {
    version: &'static str,
    oauth_mode: OAuthMode,
    client_id_configured: bool,
    client_secret_configured: bool,
    webhook_secret_configured: bool,
    verification_token_configured: bool,
    redirect_uri: String,
    api_base_url: String,
    oauth_base_url: String,
    caller_auth: &'static str,
    required_scopes: RequiredScopes,
}

#[derive(Debug, Clone, Serialize)]
struct RequiredScopes {
    classic: Vec<&'static str>,
    granular: Vec<&'static str>,
}

impl PublicSettings {
    /// Summarises `zoom` and the caller-auth mode without any secret value.
    pub fn new(zoom: &ZoomApp, env: &Env) -> Self {
        let (classic, granular) = scopes::required_scopes();
        Self {
            version: zoom_shared::VERSION,
            oauth_mode: zoom.oauth_mode(),
            client_id_configured: zoom.client_id.is_some(),
            client_secret_configured: zoom.client_secret.is_some(),
            webhook_secret_configured: zoom.webhook_secret.is_some(),
            verification_token_configured: zoom.verification_token.is_some(),
            redirect_uri: zoom.redirect_uri.clone(),
            api_base_url: zoom.api_base_url.clone(),
            oauth_base_url: zoom.oauth_base_url.clone(),
            caller_auth: if env.optional(vars::API_JWT_SECRET).is_some() {
                "api_gateway_jwt_authorizer_or_hs256_self_verified"
            } else {
                "api_gateway_jwt_authorizer"
            },
            required_scopes: RequiredScopes { classic, granular },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_presence_never_values() {
        let env = Env::from_pairs([
            (vars::ZOOM_CLIENT_ID, "client-id-value"),
            (vars::ZOOM_CLIENT_SECRET, "client-secret-value"),
            (vars::ZOOM_WEBHOOK_SECRET_TOKEN, "webhook-secret-value"),
            (vars::API_JWT_SECRET, "jwt-secret-value"),
        ]);
        let zoom = ZoomApp::from_env(&env).expect("valid");
        let json = serde_json::to_value(PublicSettings::new(&zoom, &env)).expect("json");
        let text = json.to_string();
        for secret in [
            "client-secret-value",
            "webhook-secret-value",
            "jwt-secret-value",
            "client-id-value",
        ] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
        assert_eq!(json["client_secret_configured"], true);
        assert_eq!(json["verification_token_configured"], false);
        assert_eq!(json["oauth_mode"], "user");
        assert!(
            json["required_scopes"]["granular"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
    }
}
