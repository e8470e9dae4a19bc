//! The OAuth connect flow: start (state + PKCE kept server-side, the state bound to the tenant
//! and to the browser that started it) and complete (consume the state once, by that tenant or
//! that browser only; exchange the code; learn the Zoom user; store the sealed connection).
//!
//! Login CSRF (RFC 6749 §10.12, RFC 9700 §4.7): an authorize URL started by tenant M and
//! approved in someone else's browser must not connect that person's Zoom account to M. The
//! start therefore sets a nonce cookie on the starting browser (`__Host-`, HttpOnly, Secure,
//! SameSite=Lax) whose SHA-256 is stored with the state; the
//! browser callback completes only with that cookie. The API callback is bound instead by the
//! caller's JWT: the state must be the caller's own.

use std::sync::Arc;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use zoom_shared::clock::now_secs;
use zoom_shared::connections::state::{Binding, StateRecord, StateStore};
use zoom_shared::connections::{Connection, ConnectionStatus, ConnectionStore};
use zoom_shared::owner::{Mode, Owner, Reach, new_connection_id};
use zoom_shared::store::StoreError;
use zoom_shared::tokens::provider::{Credential, owner};
use zoom_shared::tokens::vault::Vault;
use zoom_shared::zoom::client::ZoomClient;
use zoom_shared::zoom::models::ZoomUser;
use zoom_shared::zoom::oauth::{OAuthError, ZoomOAuth};

/// The cookie's attributes: `__Host-` names require `Secure`, `Path=/` and no `Domain`, so no
/// sibling subdomain can plant or shadow it.
const COOKIE_ATTRIBUTES: &str = "Path=/; HttpOnly; Secure; SameSite=Lax";

/// Why a callback could not complete.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Unknown, expired, used, tampered, another tenant's or another browser's state.
    #[error("the OAuth state is invalid, expired, already used, or not yours")]
    InvalidState,
    /// Zoom refused the code (or answered nothing usable).
    #[error("Zoom refused the authorization code: {0}")]
    ExchangeFailed(String),
    /// Zoom is unreachable.
    #[error("Zoom is unavailable: {0}")]
    ZoomUnavailable(String),
    /// Storage or the purge queue failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed.
    #[error("token sealing failed")]
    Seal,
}

/// A started flow: the URL to send the browser to.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    /// The Zoom authorize URL.
    pub authorize_url: String,
    /// Seconds the state stays valid.
    pub expires_in: i64,
    /// The browser binding: a cookie the response sets (never in the body).
    #[serde(skip)]
    pub cookie: String,
}

/// A completed flow.
#[derive(Debug)]
pub struct Completed {
    /// The connection now stored.
    pub connection: Connection,
    /// The owner of the connection it replaced, when that was another Zoom user (its data is
    /// to be purged).
    pub replaced: Option<Owner>,
}

/// The connect flow's dependencies.
pub struct ConnectFlow<S, C> {
    /// OAuth states.
    pub states: S,
    /// Connections.
    pub connections: C,
    /// Zoom OAuth.
    pub oauth: Arc<ZoomOAuth>,
    /// Token vault.
    pub vault: Arc<Vault>,
    /// Zoom REST (for `/users/me`).
    pub api: ZoomClient,
    /// State lifetime.
    pub state_ttl_secs: i64,
}

/// The key under which a state is stored: its SHA-256 (the state itself is never stored).
pub fn state_hash(state: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, state.as_bytes());
    hex::encode(digest.as_ref())
}

/// The name of the cookie that binds a state to its browser: one per flow, so two tabs can
/// connect at once.
pub fn cookie_name(state_hash: &str) -> String {
    format!(
        "__Host-zoom_connect_{}",
        &state_hash[..16.min(state_hash.len())]
    )
}

/// The browser nonce a `Cookie` header carries for the state with `state_hash`.
pub fn nonce_from_cookies(cookie_header: Option<&str>, state_hash: &str) -> Option<String> {
    let name = cookie_name(state_hash);
    cookie_header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn verifier_owner(hash: &str) -> String {
    format!("oauth-state:{hash}|pkce")
}

fn random_nonce() -> Result<String, CallbackError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CallbackError::Seal)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 (hex) of a browser nonce, as stored with the state.
pub fn nonce_hash(nonce: &str) -> String {
    state_hash(nonce)
}

impl<S: StateStore, C: ConnectionStore> ConnectFlow<S, C> {
    /// Starts a flow for `tenant`.
    pub async fn start(&self, tenant: &str) -> Result<Started, CallbackError> {
        let authorization = self.oauth.authorize();
        let hash = state_hash(authorization.state.expose_secret());
        let sealed = self
            .vault
            .seal(
                &verifier_owner(&hash),
                authorization.pkce_verifier.expose_secret(),
            )
            .map_err(|_| CallbackError::Seal)?;
        let nonce = random_nonce()?;
        let record = StateRecord {
            tenant_id: tenant.to_owned(),
            pkce_verifier: sealed,
            browser_hash: nonce_hash(&nonce),
        };
        self.states
            .put(&hash, &record, now_secs() + self.state_ttl_secs)
            .await?;
        Ok(Started {
            authorize_url: authorization.url,
            expires_in: self.state_ttl_secs,
            cookie: format!(
                "{}={nonce}; Max-Age={}; {COOKIE_ATTRIBUTES}",
                cookie_name(&hash),
                self.state_ttl_secs
            ),
        })
    }

    /// The `Set-Cookie` value that removes a flow's cookie.
    pub fn clear_cookie(state: &str) -> String {
        format!(
            "{}=; Max-Age=0; {COOKIE_ATTRIBUTES}",
            cookie_name(&state_hash(state))
        )
    }

    /// Drops a declined flow's state, if the browser that started it says so.
    pub async fn discard(&self, state: &str, nonce: &str) -> Result<(), CallbackError> {
        self.states
            .consume(
                &state_hash(state),
                now_secs(),
                Binding::Browser(&nonce_hash(nonce)),
            )
            .await?;
        Ok(())
    }

    /// Completes a flow: `binding` is the API caller's tenant or the browser's nonce hash.
    pub async fn complete(
        &self,
        code: &str,
        state: &str,
        binding: Binding<'_>,
    ) -> Result<Completed, CallbackError> {
        let hash = state_hash(state);
        let record = self
            .states
            .consume(&hash, now_secs(), binding)
            .await?
            .ok_or(CallbackError::InvalidState)?;
        let verifier: SecretString = self
            .vault
            .open(&verifier_owner(&hash), &record.pkce_verifier)
            .map_err(|_| CallbackError::InvalidState)?;
        let grant = self
            .oauth
            .exchange_code(code, &verifier)
            .await
            .map_err(|e| match e {
                OAuthError::Unavailable(reason) => CallbackError::ZoomUnavailable(reason),
                OAuthError::InvalidGrant { reason } => CallbackError::ExchangeFailed(reason),
                OAuthError::Rejected { error, reason } => {
                    CallbackError::ExchangeFailed(format!("{error}: {reason}"))
                }
            })?;
        let refresh = grant.refresh_token.clone().ok_or_else(|| {
            CallbackError::ExchangeFailed("Zoom returned no refresh token".into())
        })?;
        let credential = Credential {
            access_token: grant.access_token.clone(),
            api_url: grant.api_url.clone(),
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(6);
        let me: ZoomUser = self
            .api
            .get(&credential, "/users/me", deadline)
            .await
            .map_err(|e| {
                CallbackError::ZoomUnavailable(format!("could not read the Zoom user: {e}"))
            })?;
        let tenant = record.tenant_id;
        let seal = |field: &str, token: &SecretString| {
            self.vault
                .seal(&owner(&tenant, field), token.expose_secret())
                .map_err(|_| CallbackError::Seal)
        };
        let reach = Reach::User {
            zoom_user_id: me.id.clone(),
        };
        let previous = self.connections.get(&tenant).await?;
        // The same Zoom user again (a re-authorization) keeps its data; another user starts a
        // new namespace and the old one is purged.
        let same = previous.as_ref().is_some_and(|p| {
            p.mode == Mode::UserOAuth && p.reach == reach && p.zoom_account_id == me.account_id
        });
        let connection = Connection {
            tenant_id: tenant.clone(),
            connection_id: match (&previous, same) {
                (Some(p), true) => p.connection_id.clone(),
                _ => new_connection_id(),
            },
            mode: Mode::UserOAuth,
            reach,
            zoom_account_id: me.account_id,
            email: me.email,
            scopes: grant.scopes.clone(),
            api_url: grant.api_url.clone(),
            access_token: seal("access", &grant.access_token)?,
            refresh_token: seal("refresh", &refresh)?,
            access_expires_at: now_secs() + grant.expires_in as i64,
            status: ConnectionStatus::Active,
            version: previous.as_ref().map(|c| c.version).unwrap_or(0) + 1,
            connected_at: now_secs(),
            bound_claim: None,
        };
        Ok(Completed {
            replaced: previous.filter(|_| !same).map(|p| p.owner()),
            connection,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoom_shared::config::{Env, ZoomApp, vars};
    use zoom_shared::connections::memory::{MemoryConnections, MemoryStates};

    /// A flow over the in-memory stores; Zoom is a closed port, so a completion that gets past
    /// the state check fails as `ZoomUnavailable`, and one that does not fails as
    /// `InvalidState` without asking Zoom anything.
    fn flow() -> ConnectFlow<MemoryStates, MemoryConnections> {
        let app = ZoomApp::from_env(&Env::from_pairs([
            (vars::ZOOM_CLIENT_ID, "client"),
            (vars::ZOOM_CLIENT_SECRET, "secret"),
            (vars::ZOOM_OAUTH_BASE_URL, "http://127.0.0.1:9"),
            (vars::ZOOM_API_BASE_URL, "http://127.0.0.1:9/v2"),
        ]))
        .expect("app");
        let http = zoom_shared::zoom::http_client::build();
        let spec = SecretString::from(format!(
            "k1:{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        ));
        ConnectFlow {
            states: MemoryStates::default(),
            connections: MemoryConnections::default(),
            oauth: Arc::new(ZoomOAuth::new(&app, http.clone()).expect("oauth")),
            vault: Arc::new(Vault::from_spec(&spec).expect("vault")),
            api: ZoomClient::new(http, app.api_base_url.clone()),
            state_ttl_secs: 600,
        }
    }

    /// The state (from the authorize URL) and the browser nonce (from the cookie) of a start.
    fn parts(started: &Started) -> (String, String) {
        let (_, query) = started.authorize_url.split_once('?').expect("query");
        let state = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("state="))
            .expect("state")
            .to_owned();
        let cookie = started.cookie.split(';').next().expect("cookie");
        let nonce = cookie.split_once('=').expect("name=value").1.to_owned();
        (state, nonce)
    }

    #[tokio::test]
    async fn another_browser_or_tenant_cannot_complete_a_tenants_flow() {
        let flow = flow();
        let started = flow.start("m").await.expect("start");
        assert!(started.cookie.starts_with("__Host-"));
        assert!(started.cookie.contains("HttpOnly; Secure; SameSite=Lax"));
        let (state, nonce) = parts(&started);
        let foreign = nonce_hash("the other browser's nonce");
        let refused = [
            Binding::Browser(&foreign),
            Binding::Browser(""),
            Binding::Tenant("n"),
            Binding::Tenant(""),
        ];
        for binding in refused {
            let outcome = flow.complete("code", &state, binding).await;
            assert!(
                matches!(outcome, Err(CallbackError::InvalidState)),
                "refused before Zoom is asked"
            );
        }
        assert!(flow.connections.get("m").await.expect("get").is_none());
        assert!(flow.connections.get("n").await.expect("get").is_none());
        // The state was left for the browser it belongs to: that one gets past the check (to
        // Zoom, closed here), once.
        let mine = nonce_hash(&nonce);
        let outcome = flow.complete("code", &state, Binding::Browser(&mine)).await;
        assert!(matches!(outcome, Err(CallbackError::ZoomUnavailable(_))));
        let again = flow.complete("code", &state, Binding::Browser(&mine)).await;
        assert!(
            matches!(again, Err(CallbackError::InvalidState)),
            "single use"
        );
    }

    #[tokio::test]
    async fn the_api_callback_completes_only_the_callers_own_state() {
        let flow = flow();
        let (state_m, _) = parts(&flow.start("m").await.expect("start"));
        let (state_n, nonce_n) = parts(&flow.start("n").await.expect("start"));
        assert_ne!(state_m, state_n);
        let outcome = flow.complete("code", &state_n, Binding::Tenant("m")).await;
        assert!(matches!(outcome, Err(CallbackError::InvalidState)));
        let outcome = flow.complete("code", &state_m, Binding::Tenant("m")).await;
        assert!(matches!(outcome, Err(CallbackError::ZoomUnavailable(_))));
        // n's flow is intact for n's browser; a declined flow is discarded by it only.
        flow.discard(&state_n, "not n's nonce")
            .await
            .expect("discard");
        flow.discard(&state_n, &nonce_n).await.expect("discard");
        let outcome = flow.complete("code", &state_n, Binding::Tenant("n")).await;
        assert!(
            matches!(outcome, Err(CallbackError::InvalidState)),
            "discarded by its own browser"
        );
    }

    #[tokio::test]
    async fn a_tampered_or_unknown_state_is_refused() {
        let flow = flow();
        let (state, _) = parts(&flow.start("m").await.expect("start"));
        for forged in [format!("{state}x"), String::new(), "z".repeat(512)] {
            let outcome = flow.complete("code", &forged, Binding::Tenant("m")).await;
            assert!(matches!(outcome, Err(CallbackError::InvalidState)));
        }
    }

    #[test]
    fn state_hash_is_sha256_hex() {
        assert_eq!(
            state_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_nonce_is_read_from_its_own_cookie_only() {
        let hash = state_hash("s1");
        let name = cookie_name(&hash);
        let header = format!("other=1; {name}=abc; __Host-zoom_connect_0000000000000000=evil");
        assert_eq!(
            nonce_from_cookies(Some(&header), &hash).as_deref(),
            Some("abc")
        );
        assert_eq!(nonce_from_cookies(Some("other=1"), &hash), None);
        assert_eq!(nonce_from_cookies(None, &hash), None);
        assert_eq!(
            nonce_from_cookies(Some(&format!("{name}=")), &hash),
            None,
            "an empty cookie binds nothing"
        );
    }
}
