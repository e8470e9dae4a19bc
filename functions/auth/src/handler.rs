//! Routes of `zoom-auth` and their handlers.
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/zoom/auth/authorize` | [`AuthHandler::authorize`] |
//! | `GET /api/auth/zoom/callback` | [`AuthHandler::browser_callback`] |
//! | `POST /api/zoom/auth/callback` | [`AuthHandler::api_callback`] |
//! | `POST /api/zoom/auth/disconnect` | [`AuthHandler::disconnect`] |
//! | `GET /api/zoom/connection-status` | [`AuthHandler::status`] |

use chrono::{TimeZone, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use zoom_shared::aws::Table;
use zoom_shared::config::OAuthMode;
use zoom_shared::http::input::{flag, json_body, query};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Caller, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::metrics::Metrics;
use zoom_shared::tokens::Tokens;
use zoom_shared::tokens::provider::owner;
use zoom_shared::tokens::store::{ConnectionStatus, ConnectionStore};
use zoom_shared::zoom::client::with_token;
use zoom_shared::zoom::models::ZoomUser;

use crate::flow::{CallbackError, ConnectFlow};
use crate::settings::AuthSettings;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest accepted `code` or `state`.
pub const MAX_PARAM_LEN: usize = 2048;

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/auth/authorize`
    Authorize,
    /// `GET /api/auth/zoom/callback`
    BrowserCallback,
    /// `POST /api/zoom/auth/callback`
    ApiCallback,
    /// `POST /api/zoom/auth/disconnect`
    Disconnect,
    /// `GET /api/zoom/connection-status`
    Status,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([
        (Method::GET, "/api/zoom/auth/authorize", Route::Authorize),
        (
            Method::GET,
            "/api/auth/zoom/callback",
            Route::BrowserCallback,
        ),
        (Method::POST, "/api/zoom/auth/callback", Route::ApiCallback),
        (Method::POST, "/api/zoom/auth/disconnect", Route::Disconnect),
        (Method::GET, "/api/zoom/connection-status", Route::Status),
    ])
}

/// The handler's dependencies.
pub struct AuthHandler {
    /// The connect flow.
    pub flow: ConnectFlow,
    /// Fresh tokens.
    pub tokens: Tokens,
    /// The table.
    pub table: Table,
    /// Caller identity.
    pub caller_auth: CallerAuth,
    /// Settings.
    pub settings: AuthSettings,
    /// Metrics.
    pub metrics: Metrics,
}

impl Handler<Route> for AuthHandler {
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        if matched.route == Route::BrowserCallback {
            return Ok(self.browser_callback(&request).await);
        }
        let caller = self.caller(&request)?;
        match matched.route {
            Route::Authorize => self.authorize(&caller, &request).await,
            Route::ApiCallback => self.api_callback(&caller, &request).await,
            Route::Disconnect => self.disconnect(&caller).await,
            Route::Status => self.status(&caller, &request).await,
            Route::BrowserCallback => Err(ApiError::Internal("unreachable route".into())),
        }
    }
}

fn redirect(location: &str) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn rfc3339(epoch: i64) -> Value {
    Utc.timestamp_opt(epoch, 0)
        .single()
        .map(|t| json!(t.to_rfc3339()))
        .unwrap_or(Value::Null)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackBody {
    code: Option<Value>,
    state: Option<Value>,
}

/// Checks a `code` or `state` value.
fn param(name: &str, value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        None | Some(Value::Null) => errors.push(FieldError::new(name, "is required")),
        Some(Value::String(s)) if s.is_empty() => {
            errors.push(FieldError::new(name, "must not be empty"))
        }
        Some(Value::String(s)) if s.len() > MAX_PARAM_LEN => errors.push(FieldError::new(
            name,
            format!("must be at most {MAX_PARAM_LEN} characters"),
        )),
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            errors.push(FieldError::new(name, "must not contain control characters"))
        }
        Some(Value::String(s)) => return Some(s.clone()),
        Some(_) => errors.push(FieldError::new(name, "must be a string")),
    }
    None
}

impl AuthHandler {
    fn caller(&self, request: &Request) -> Result<Caller, ApiError> {
        let result = self.caller_auth.authenticate(request);
        let outcome = if result.is_ok() { "success" } else { "failure" };
        self.metrics
            .count("CallerAuth", 1.0, &[("Outcome", outcome)]);
        result
    }

    fn require_user_mode(&self) -> Result<(), ApiError> {
        if self.settings.mode == OAuthMode::ServerToServer {
            return Err(ApiError::Conflict(
                "this deployment uses Server-to-Server OAuth: there is no user authorization to run".into(),
            ));
        }
        Ok(())
    }

    /// Starts the OAuth flow: `{"authorize_url", "expires_in"}`, or a 302 to it with
    /// `?redirect=true`.
    async fn authorize(
        &self,
        caller: &Caller,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let redirect_wanted = flag(request, "redirect")?;
        self.require_user_mode()?;
        let started = self
            .flow
            .start(&caller.tenant_id)
            .await
            .map_err(callback_problem)?;
        if redirect_wanted {
            return Ok(redirect(&started.authorize_url));
        }
        json(StatusCode::OK, &started)
    }

    /// Zoom sends the browser here; it goes on to the app with `?zoom=connected` or
    /// `?zoom=error&reason=…`. Never a token or code in the URL.
    async fn browser_callback(&self, request: &Request) -> Response<Body> {
        let back = |outcome: &str| {
            let separator = if self.settings.app_return_url.contains('?') {
                '&'
            } else {
                '?'
            };
            redirect(&format!(
                "{}{separator}{outcome}",
                self.settings.app_return_url
            ))
        };
        if let Some(error) = query(request, "error") {
            // The user declined (or Zoom failed): clean up the state, tell the app.
            if let Some(state) = query(request, "state").filter(|s| s.len() <= MAX_PARAM_LEN) {
                let _ = self
                    .table
                    .consume_oauth_state(&crate::flow::state_hash(&state), i64::MAX, None)
                    .await;
            }
            let reason = if error == "access_denied" {
                "access_denied"
            } else {
                "zoom_error"
            };
            return back(&format!("zoom=error&reason={reason}"));
        }
        let mut errors = Vec::new();
        let code = param(
            "code",
            query(request, "code").map(Value::String).as_ref(),
            &mut errors,
        );
        let state = param(
            "state",
            query(request, "state").map(Value::String).as_ref(),
            &mut errors,
        );
        let (Some(code), Some(state)) = (code, state) else {
            return back("zoom=error&reason=invalid_request");
        };
        match self.flow.complete(&code, &state, None).await {
            Ok(_) => back("zoom=connected"),
            Err(e) => {
                tracing::warn!(error = %e, "browser OAuth callback failed");
                let reason = match e {
                    CallbackError::InvalidState => "invalid_state",
                    CallbackError::ExchangeFailed(_) => "exchange_failed",
                    CallbackError::ZoomUnavailable(_) => "zoom_unavailable",
                    CallbackError::Store(_) | CallbackError::Seal => "server_error",
                };
                back(&format!("zoom=error&reason={reason}"))
            }
        }
    }

    /// The same exchange for apps whose redirect lands on their own front end.
    async fn api_callback(
        &self,
        caller: &Caller,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        self.require_user_mode()?;
        let body = json_body::<CallbackBody>(request, MAX_BODY_BYTES)?;
        let mut errors = Vec::new();
        let code = param("code", body.code.as_ref(), &mut errors);
        let state = param("state", body.state.as_ref(), &mut errors);
        let (Some(code), Some(state)) = (code, state) else {
            return Err(ApiError::Validation(errors));
        };
        let connection = self
            .flow
            .complete(&code, &state, Some(&caller.tenant_id))
            .await
            .map_err(callback_problem)?;
        json(
            StatusCode::OK,
            &json!({
                "connected": true, "zoom_user_id": connection.zoom_user_id, "zoom_account_id": connection.zoom_account_id,
                "email": connection.email, "scopes": connection.scopes,
            }),
        )
    }

    /// Revokes at Zoom, then deletes everything the tenant has here. Idempotent.
    async fn disconnect(&self, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let tenant = &caller.tenant_id;
        let connection = self.table.get(tenant).await.map_err(store_problem)?;
        let (mut revoked, mut revoke_error) = (false, None::<String>);
        if let Some(connection) = &connection {
            let vault = &self.flow.vault;
            let token: Option<SecretString> = vault
                .open(&owner(tenant, "access"), &connection.access_token)
                .or_else(|_| vault.open(&owner(tenant, "refresh"), &connection.refresh_token))
                .ok();
            match token {
                Some(token) => match self.flow.oauth.revoke(&token).await {
                    Ok(()) => revoked = true,
                    Err(e) => revoke_error = Some(e.to_string()),
                },
                None => revoke_error = Some("the stored tokens could not be decrypted".into()),
            }
            if let Some(e) = &revoke_error {
                tracing::warn!(error = %e, "revocation at Zoom failed; deleting our copy anyway");
            }
        }
        let deleted = self
            .table
            .delete_tenant(tenant)
            .await
            .map_err(store_problem)?;
        json(
            StatusCode::OK,
            &json!({
                "disconnected": true, "was_connected": connection.is_some(), "revoked_at_zoom": revoked,
                "revoke_error": revoke_error, "deleted_items": deleted,
            }),
        )
    }

    /// The tenant's connection; calls Zoom only with `?verify=true`.
    async fn status(&self, caller: &Caller, request: &Request) -> Result<Response<Body>, ApiError> {
        let verify = flag(request, "verify")?;
        let tenant = &caller.tenant_id;
        let mut body = match self.settings.mode {
            OAuthMode::ServerToServer => json!({
                "connected": true, "oauth_mode": "server_to_server", "needs_reauth": false,
                "zoom_account_id": self.settings.account_id,
            }),
            OAuthMode::User => match self.table.get(tenant).await.map_err(store_problem)? {
                None => json!({"connected": false, "oauth_mode": "user", "needs_reauth": false}),
                Some(c) => json!({
                    "connected": c.status == ConnectionStatus::Active,
                    "oauth_mode": "user",
                    "needs_reauth": c.status == ConnectionStatus::NeedsReauth,
                    "zoom_user_id": c.zoom_user_id,
                    "zoom_account_id": c.zoom_account_id,
                    "email": c.email,
                    "scopes": c.scopes,
                    "token_expires_at": rfc3339(c.access_expires_at),
                    "connected_at": rfc3339(c.connected_at),
                }),
            },
        };
        if verify && body["connected"] == true {
            let deadline = zoom_shared::http::deadline::budget(request);
            let me: ZoomUser = with_token(&self.tokens, tenant, |credential| {
                let api = self.flow.api.clone();
                async move { api.get(&credential, "/users/me", deadline).await }
            })
            .await?;
            body["verified"] =
                json!({"ok": true, "zoom_user_id": me.id, "checked_at": Utc::now().to_rfc3339()});
        }
        json(StatusCode::OK, &body)
    }
}

fn store_problem(e: zoom_shared::tokens::store::StoreError) -> ApiError {
    ApiError::from(e)
}

fn callback_problem(error: CallbackError) -> ApiError {
    match error {
        CallbackError::InvalidState => ApiError::BadRequest(error.to_string()),
        CallbackError::ExchangeFailed(reason) => {
            ApiError::BadGateway(format!("Zoom refused the authorization code: {reason}"))
        }
        CallbackError::ZoomUnavailable(reason) => ApiError::BadGateway(reason),
        CallbackError::Store(e) => store_problem(e),
        CallbackError::Seal => ApiError::Internal("token sealing failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-auth");
    }

    /// Every event in `events/zoom-auth/` routes to this function; the JWT routes' events
    /// carry authorizer claims.
    #[test]
    fn sample_events_route_to_this_function() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/zoom-auth");
        let covered =
            zoom_shared::http::samples::check_dir(dir, &router(), |r| r == Route::BrowserCallback);
        assert_eq!(covered, router().table().count(), "one event per route");
    }

    #[test]
    fn callback_params_are_checked() {
        let mut errors = Vec::new();
        assert_eq!(
            param("code", Some(&json!("abc")), &mut errors).as_deref(),
            Some("abc")
        );
        for value in [
            json!(""),
            json!(1),
            json!("a\nb"),
            json!("x".repeat(MAX_PARAM_LEN + 1)),
            Value::Null,
        ] {
            assert!(param("code", Some(&value), &mut errors).is_none());
        }
        assert_eq!(errors.len(), 5);
    }
}
