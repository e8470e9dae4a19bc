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
use zoom_shared::aws::Queue;
use zoom_shared::config::OAuthMode;
use zoom_shared::connections::resolve::{OwnerResolver, Owners};
use zoom_shared::connections::state::{Binding, DynamoStates};
use zoom_shared::connections::{Connection, ConnectionStatus, ConnectionStore, DynamoConnections};
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::{flag, json_body, query};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Caller, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::metrics::Metrics;
use zoom_shared::owner::{Mode, Owner, Reach};
use zoom_shared::purge::{DynamoPurge, PartitionPurger};
use zoom_shared::tokens::provider::owner;
use zoom_shared::zoom::api::{Zoom, ZoomApi};
use zoom_shared::zoom::models::ZoomUser;

use zoom_shared::clock::now_secs;
use zoom_shared::idempotency::{self, Begin, DynamoIdempotency, IdempotencyStore, StoredAnswer};

use crate::flow::{
    CallbackError, Completed, ConnectFlow, nonce_from_cookies, nonce_hash, state_hash,
};
use crate::lifecycle;
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

/// The idempotency route name of the API callback.
const CALLBACK_ROUTE: &str = "connect-callback";

/// Where the API callback's idempotency records live: the tenant's connect-flow namespace
/// (there is no connection yet when it starts; records expire after a day).
fn connect_scope(tenant: &str) -> Owner {
    Owner {
        tenant_id: tenant.to_owned(),
        connection_id: "connect-flow".to_owned(),
        account_id: String::new(),
        reach: Reach::Account,
        mode: Mode::UserOAuth,
        email: None,
    }
}

/// The handler's dependencies.
pub struct AuthHandler {
    /// `Idempotency-Key` records of the API callback.
    pub idempotency: DynamoIdempotency,
    /// The connect flow.
    pub flow: ConnectFlow<DynamoStates, DynamoConnections>,
    /// Who the caller is, as an owner (Server-to-Server bindings).
    pub owners: Owners<DynamoConnections, std::sync::Arc<Zoom>>,
    /// Zoom (verification, revocation's token).
    pub zoom: std::sync::Arc<Zoom>,
    /// Connections.
    pub connections: DynamoConnections,
    /// Where purge jobs go.
    pub purge_queue: Queue,
    /// Deletes a connection's items at once (the purge job does it again, with the files).
    pub purger: DynamoPurge,
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
            return self.browser_callback(&request).await;
        }
        let caller = self.caller(&request)?;
        match matched.route {
            Route::Authorize => self.authorize(&caller, &request).await,
            Route::ApiCallback => self.api_callback(&caller, &request).await,
            Route::Disconnect => self.disconnect(&caller, &request).await,
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

fn set_cookie(response: &mut Response<Body>, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
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

/// What breaks the limits of a `code` or `state` value (docs/openapi.yaml: at most
/// [`MAX_PARAM_LEN`] characters, no control characters), if anything.
fn over_limits(value: &str) -> Option<String> {
    if value.chars().count() > MAX_PARAM_LEN {
        Some(format!("must be at most {MAX_PARAM_LEN} characters"))
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else {
        None
    }
}

/// Checks a `code` or `state` value.
fn param(name: &str, value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        None | Some(Value::Null) => errors.push(FieldError::new(name, "is required")),
        Some(Value::String(s)) if s.is_empty() => {
            errors.push(FieldError::new(name, "must not be empty"))
        }
        Some(Value::String(s)) => match over_limits(s) {
            Some(message) => errors.push(FieldError::new(name, message)),
            None => return Some(s.clone()),
        },
        Some(_) => errors.push(FieldError::new(name, "must be a string")),
    }
    None
}

/// The browser callback's `code` and `state` as sent. One outside the limits is a 400 naming
/// it (Zoom never sends such a value: it is a forged or broken link, not a user's outcome to
/// report to the app); a missing or empty one is left to redirect as `invalid_request`.
fn browser_query(request: &Request) -> Result<(Option<String>, Option<String>), ApiError> {
    let (code, state) = (query(request, "code"), query(request, "state"));
    let errors: Vec<FieldError> = [("code", &code), ("state", &state)]
        .into_iter()
        .filter_map(|(name, value)| {
            let message = over_limits(value.as_deref()?)?;
            Some(FieldError::new(name, message))
        })
        .collect();
    if errors.is_empty() {
        Ok((code, state))
    } else {
        Err(ApiError::Validation(errors))
    }
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
        let mut response = if redirect_wanted {
            redirect(&started.authorize_url)
        } else {
            json(StatusCode::OK, &started)?
        };
        set_cookie(&mut response, &started.cookie);
        Ok(response)
    }

    /// Zoom sends the browser here; it goes on to the app with `?zoom=connected` or
    /// `?zoom=error&reason=…`. Never a token or code in the URL. A `code` or `state` outside
    /// the limits is a 400 problem instead ([`browser_query`]).
    async fn browser_callback(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let (code, state) = browser_query(request)?;
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
        let cookies = request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok());
        let nonce = |state: &str| nonce_from_cookies(cookies, &state_hash(state));
        if let Some(error) = query(request, "error") {
            // The user declined (or Zoom failed): the starting browser's state goes, the app is
            // told.
            if let Some(state) = &state
                && let Some(nonce) = nonce(state)
            {
                let _ = self.flow.discard(state, &nonce).await;
            }
            let reason = if error == "access_denied" {
                "access_denied"
            } else {
                "zoom_error"
            };
            let mut response = back(&format!("zoom=error&reason={reason}"));
            if let Some(state) = &state {
                set_cookie(
                    &mut response,
                    &ConnectFlow::<DynamoStates, DynamoConnections>::clear_cookie(state),
                );
            }
            return Ok(response);
        }
        let mut errors = Vec::new();
        let code = param("code", code.map(Value::String).as_ref(), &mut errors);
        let state = param("state", state.map(Value::String).as_ref(), &mut errors);
        let (Some(code), Some(state)) = (code, state) else {
            return Ok(back("zoom=error&reason=invalid_request"));
        };
        let Some(nonce) = nonce(&state) else {
            // Not the browser that started this flow (or its cookie is gone): nobody is
            // connected, and the state stays for the browser it belongs to.
            tracing::warn!("browser OAuth callback without the starting browser's cookie");
            self.metrics
                .count("OAuthCallback", 1.0, &[("Outcome", "foreign_browser")]);
            return Ok(back("zoom=error&reason=invalid_state"));
        };
        let hash = nonce_hash(&nonce);
        let outcome = match self
            .flow
            .complete(&code, &state, Binding::Browser(&hash))
            .await
        {
            Ok(completed) => self.finish(completed).await,
            Err(e) => Err(e),
        };
        let mut response = match outcome {
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
        };
        set_cookie(
            &mut response,
            &ConnectFlow::<DynamoStates, DynamoConnections>::clear_cookie(&state),
        );
        Ok(response)
    }

    /// Stores a completed connection ([`lifecycle::store_completed`]).
    async fn finish(&self, completed: Completed) -> Result<Connection, CallbackError> {
        let connection =
            lifecycle::store_completed(&self.connections, &self.purge_queue, completed).await?;
        tracing::info!("zoom connected");
        Ok(connection)
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
        // A retry with the same Idempotency-Key replays the first answer (the code and state are
        // single-use: without the key a retry after success is 400).
        let key = idempotency::key_of(request)?;
        let scope = connect_scope(&caller.tenant_id);
        let claim = match &key {
            None => None,
            Some(key) => match self
                .idempotency
                .begin(
                    &scope,
                    CALLBACK_ROUTE,
                    key,
                    &idempotency::fingerprint(request),
                    now_secs(),
                )
                .await?
            {
                Begin::Replay(answer) => {
                    let body: Value = serde_json::from_str(&answer.body)
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    return json(StatusCode::OK, &body);
                }
                Begin::New { claim } | Begin::Unknown { claim, .. } => Some(claim),
                other => {
                    return Err(idempotency::refusal(&other).unwrap_or_else(|| {
                        ApiError::Internal("unexpected idempotency state".into())
                    }));
                }
            },
        };
        let outcome = match self
            .flow
            .complete(&code, &state, Binding::Tenant(&caller.tenant_id))
            .await
        {
            Ok(completed) => self.finish(completed).await,
            Err(e) => Err(e),
        };
        let connection = match outcome {
            Ok(connection) => connection,
            Err(e) => {
                if let (Some(key), Some(claim)) = (&key, &claim) {
                    let _ = self
                        .idempotency
                        .release(&scope, CALLBACK_ROUTE, key, claim)
                        .await;
                }
                return Err(callback_problem(e));
            }
        };
        let body = json!({
            "connected": true, "zoom_user_id": connection.zoom_user_id(), "zoom_account_id": connection.zoom_account_id,
            "email": connection.email, "scopes": connection.scopes,
        });
        if let (Some(key), Some(claim)) = (&key, &claim) {
            let answer = StoredAnswer {
                status: 200,
                location: None,
                body: body.to_string(),
            };
            if let Err(e) = self
                .idempotency
                .finish(&scope, CALLBACK_ROUTE, key, claim, &answer)
                .await
            {
                tracing::warn!(error = %e, "idempotent answer of the callback not stored");
            }
        }
        json(StatusCode::OK, &body)
    }

    /// Revokes at Zoom, queues the purge of everything the connection owns (items and files),
    /// removes the connection, and deletes its items at once. Idempotent.
    async fn disconnect(
        &self,
        caller: &Caller,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let tenant = &caller.tenant_id;
        let connection = self.connections.get(tenant).await.map_err(store_problem)?;
        let (mut revoked, mut revoke_error) = (false, None::<String>);
        let mut deleted = 0;
        if let Some(connection) = &connection {
            if connection.mode == Mode::UserOAuth {
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
            // The purge is queued before anything is deleted: a failure here leaves everything
            // as it was (503, retry), and a timeout after it leaves the job to finish the work.
            let owner = lifecycle::remove(&self.connections, &self.purge_queue, connection).await?;
            // The items go now (the job deletes them again, with the archived files); a budget
            // spent or a storage failure here is the job's to finish.
            let deadline = budget(request);
            match tokio::time::timeout_at(deadline, self.purger.purge_partitions(&owner)).await {
                Ok(Ok(n)) => deleted = n,
                Ok(Err(e)) => tracing::warn!(error = %e, "items left for the purge job"),
                Err(_) => tracing::warn!("the purge job will finish deleting the items"),
            }
        }
        json(
            StatusCode::OK,
            &json!({
                "disconnected": true, "was_connected": connection.is_some(), "revoked_at_zoom": revoked,
                "revoke_error": revoke_error, "deleted_items": deleted,
                "archive_purge": if connection.is_some() { "queued" } else { "none" },
            }),
        )
    }

    /// The tenant's connection; calls Zoom only with `?verify=true` (and, in
    /// Server-to-Server mode, once to bind a new tenant to the user its JWT names).
    async fn status(&self, caller: &Caller, request: &Request) -> Result<Response<Body>, ApiError> {
        let verify = flag(request, "verify")?;
        let deadline = budget(request);
        let tenant = &caller.tenant_id;
        let connection = match self.settings.mode {
            OAuthMode::ServerToServer => {
                let owner = self.owners.resolve(caller, deadline).await?;
                self.connections
                    .get(&owner.tenant_id)
                    .await
                    .map_err(store_problem)?
            }
            OAuthMode::User => self.connections.get(tenant).await.map_err(store_problem)?,
        };
        let mode = match self.settings.mode {
            OAuthMode::ServerToServer => "server_to_server",
            OAuthMode::User => "user",
        };
        let mut body = match &connection {
            None => json!({"connected": false, "oauth_mode": mode, "needs_reauth": false}),
            Some(c) => json!({
                "connected": c.status == ConnectionStatus::Active,
                "oauth_mode": mode,
                "needs_reauth": c.status == ConnectionStatus::NeedsReauth,
                "reach": match c.reach { Reach::User { .. } => "user", Reach::Account => "account" },
                "zoom_user_id": Some(c.zoom_user_id()).filter(|u| !u.is_empty()),
                "zoom_account_id": c.zoom_account_id,
                "email": Some(c.email.as_str()).filter(|e| !e.is_empty()),
                "scopes": c.scopes,
                "token_expires_at": if c.mode == Mode::UserOAuth { rfc3339(c.access_expires_at) } else { Value::Null },
                "connected_at": rfc3339(c.connected_at),
            }),
        };
        if verify
            && body["connected"] == true
            && let Some(c) = &connection
        {
            let owner = c.owner();
            let path = format!("/users/{}", owner.zoom_user_segment());
            let me: ZoomUser = self.zoom.get(&owner, &path, deadline).await?;
            body["verified"] =
                json!({"ok": true, "zoom_user_id": me.id, "checked_at": Utc::now().to_rfc3339()});
        }
        json(StatusCode::OK, &body)
    }
}

fn store_problem(e: zoom_shared::store::StoreError) -> ApiError {
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
        // The limit is in characters, as the document's maxLength counts them.
        let wide = json!("é".repeat(MAX_PARAM_LEN));
        assert!(param("state", Some(&wide), &mut errors).is_some());
    }

    fn browser(query: &str) -> Request {
        zoom_shared::http::testing::request(
            "nobody",
            json!({}),
            Method::GET,
            &format!("/api/auth/zoom/callback?{query}"),
            None,
        )
    }

    /// A `code` or `state` the document forbids (longer than its maxLength, or with control
    /// characters) is a 400 naming it, even beside Zoom's `error`; values within the limits,
    /// empty ones included, go on to the redirect.
    #[test]
    fn the_browser_callback_refuses_what_the_document_forbids() {
        let long = "0".repeat(MAX_PARAM_LEN + 1);
        for (query, field) in [
            (format!("state={long}"), "state"),
            (format!("code=c&state={long}&error=access_denied"), "state"),
            (format!("code={long}&state=s"), "code"),
            ("code=c%0Ad&state=s".to_owned(), "code"),
        ] {
            let error = browser_query(&browser(&query)).expect_err(&query);
            assert_eq!(error.status(), 400, "{query}");
            let ApiError::Validation(errors) = error else {
                panic!("{query}: not a validation problem");
            };
            assert_eq!(errors[0].field, field, "{query}");
        }
        let at_limit = "0".repeat(MAX_PARAM_LEN);
        let (code, state) =
            browser_query(&browser(&format!("code=c&state={at_limit}"))).expect("within limits");
        assert_eq!(
            (code.as_deref(), state.as_deref()),
            (Some("c"), Some(at_limit.as_str()))
        );
        assert_eq!(
            browser_query(&browser("code=&error=x")).expect("empty is not refused here"),
            (Some(String::new()), None)
        );
    }
}
