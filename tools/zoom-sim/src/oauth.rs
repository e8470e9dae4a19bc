//! Zoom's OAuth endpoints: authorize (auto-approved as the configured user), token
//! (authorization_code with optional PKCE S256, rotating refresh_token, account_credentials)
//! and revoke. Client authentication is HTTP Basic, as Zoom requires.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use http::{Method, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::Sim;
use crate::http::{Reply, Req, json_reply, oauth_error, redirect};
use crate::ids::secret_token;
use crate::world::{AccessToken, AuthCode, RefreshToken, Subject};

/// The scopes granted to every token (the integration's classic scopes).
pub const GRANTED_SCOPES: &str =
    "meeting:read meeting:write user:read user:read:admin recording:read report:read:admin";

/// Routes `/oauth/*`.
pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let key = format!("{} {}", req.method, req.raw_path);
    *sim.state().world.stats.calls.entry(key).or_default() += 1;
    match (&req.method, req.raw_path.as_str()) {
        (&Method::GET, "/oauth/authorize") => authorize(sim, req),
        (&Method::POST, "/oauth/token") => token(sim, req),
        (&Method::POST, "/oauth/revoke") => revoke(sim, req),
        _ => oauth_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "Unknown OAuth endpoint.",
        ),
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

fn authorize(sim: &Sim, req: &Req) -> Reply {
    let q = &req.query;
    let mut state = sim.state();
    if q.get("client_id") != Some(&state.config.client_id) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Invalid client_id.",
        );
    }
    let Some(redirect_uri) = q
        .get("redirect_uri")
        .filter(|r| **r == state.config.redirect_uri)
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid redirect_uri: it must equal the registered one exactly.",
        );
    };
    let state_suffix = q
        .get("state")
        .map(|s| format!("&state={}", encode(s)))
        .unwrap_or_default();
    let fail = |error: &str| redirect(&format!("{redirect_uri}?error={error}{state_suffix}"));
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type");
    }
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return fail("invalid_request");
    }
    let index = state
        .config
        .authorizing_user
        .min(state.world.users.len().saturating_sub(1));
    let user_id = state.world.users[index].id.clone();
    let code = secret_token("sim-code.");
    let expires_at = Utc::now() + Duration::seconds(state.config.code_ttl_secs as i64);
    state.world.codes.insert(
        code.clone(),
        AuthCode {
            user_id,
            redirect_uri: redirect_uri.clone(),
            code_challenge: challenge,
            expires_at,
            used: false,
        },
    );
    redirect(&format!(
        "{redirect_uri}?code={}{state_suffix}",
        encode(&code)
    ))
}

/// Checks HTTP Basic client authentication.
fn client_authenticated(sim: &Sim, req: &Req) -> bool {
    let Some(encoded) = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let config = &sim.state().config;
    decoded == format!("{}:{}", config.client_id, config.client_secret).as_bytes()
}

fn invalid_grant(sim: &Sim, reason: &str) -> Reply {
    sim.state().world.stats.invalid_grant += 1;
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason)
}

fn token(sim: &Sim, req: &Req) -> Reply {
    if !client_authenticated(sim, req) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client_id or client_secret",
        );
    }
    let form = req.form();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri"))
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing code or redirect_uri.",
                );
            };
            let user_id = {
                let mut state = sim.state();
                let Some(grant) = state.world.codes.get_mut(code) else {
                    drop(state);
                    return invalid_grant(sim, "Invalid authorization code");
                };
                if grant.used || grant.expires_at < Utc::now() {
                    grant.used = true;
                    drop(state);
                    return invalid_grant(sim, "Invalid authorization code");
                }
                grant.used = true;
                if grant.redirect_uri != *redirect_uri {
                    drop(state);
                    return invalid_grant(sim, "Redirect URI mismatch.");
                }
                if let Some(challenge) = &grant.code_challenge {
                    let verifier = form
                        .get("code_verifier")
                        .map(String::as_str)
                        .unwrap_or_default();
                    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                    if computed != *challenge {
                        drop(state);
                        return invalid_grant(sim, "Invalid code_verifier.");
                    }
                }
                let user = grant.user_id.clone();
                state.world.stats.codes_exchanged += 1;
                user
            };
            issue(sim, Subject::User(user_id), true)
        }
        Some("refresh_token") => {
            let Some(refresh) = form.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing refresh_token.",
                );
            };
            let user_id = {
                let mut state = sim.state();
                match state.world.refresh_tokens.get_mut(refresh) {
                    Some(token) if token.alive => {
                        // Rotation: the old refresh token dies at once.
                        token.alive = false;
                        let user = token.user_id.clone();
                        state.world.stats.tokens_refreshed += 1;
                        user
                    }
                    _ => {
                        drop(state);
                        return invalid_grant(sim, "Invalid Token!");
                    }
                }
            };
            issue(sim, Subject::User(user_id), true)
        }
        Some("account_credentials") => {
            let account = sim.state().world.account_id.clone();
            if form.get("account_id") != Some(&account) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Invalid account_id.",
                );
            }
            issue(sim, Subject::Account, false)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        ),
    }
}

fn issue(sim: &Sim, subject: Subject, with_refresh: bool) -> Reply {
    let mut state = sim.state();
    let ttl = state.config.access_token_ttl_secs;
    let access = secret_token("sim-at.");
    state.world.access_tokens.insert(
        access.clone(),
        AccessToken {
            subject: subject.clone(),
            expires_at: Utc::now() + Duration::seconds(ttl as i64),
            revoked: false,
        },
    );
    state.world.stats.tokens_issued += 1;
    let mut body = json!({
        "access_token": access, "token_type": "bearer", "expires_in": ttl,
        "scope": GRANTED_SCOPES, "api_url": sim.public_url,
    });
    if let (true, Subject::User(user_id)) = (with_refresh, &subject) {
        let refresh = secret_token("sim-rt.");
        state.world.refresh_tokens.insert(
            refresh.clone(),
            RefreshToken {
                user_id: user_id.clone(),
                alive: true,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    json_reply(StatusCode::OK, &body)
}

fn revoke(sim: &Sim, req: &Req) -> Reply {
    if !client_authenticated(sim, req) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client_id or client_secret",
        );
    }
    let Some(token) = req.form().get("token").cloned() else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing token.");
    };
    let mut state = sim.state();
    let user = state
        .world
        .access_tokens
        .get(&token)
        .and_then(|t| match &t.subject {
            Subject::User(u) => Some(u.clone()),
            Subject::Account => None,
        })
        .or_else(|| {
            state
                .world
                .refresh_tokens
                .get(&token)
                .map(|t| t.user_id.clone())
        });
    if let Some(t) = state.world.access_tokens.get_mut(&token) {
        t.revoked = true;
    }
    if let Some(user) = user {
        // Revoking ends the whole grant: every token of that user for this app.
        for t in state.world.access_tokens.values_mut() {
            if t.subject == Subject::User(user.clone()) {
                t.revoked = true;
            }
        }
        for t in state.world.refresh_tokens.values_mut() {
            if t.user_id == user {
                t.alive = false;
            }
        }
    }
    state.world.stats.revocations += 1;
    json_reply(StatusCode::OK, &json!({"status": "success"}))
}
