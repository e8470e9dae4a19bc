//! Zoom OAuth: the authorize URL (state + PKCE S256), code exchange, refresh, revoke (all with
//! HTTP Basic client authentication, as Zoom requires) and Server-to-Server
//! `account_credentials` tokens.

use std::time::Duration;

use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::http_client::{OAuthHttp, TransportError};
use crate::config::{ConfigError, ZoomApp, vars};

/// Zoom's OAuth error body: `{"reason": …, "error": …}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoomOAuthErrorBody {
    /// `invalid_grant`, `invalid_client`, …
    #[serde(default)]
    pub error: String,
    /// Zoom's human reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// RFC 6749's description, when present.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl std::fmt::Display for ZoomOAuthErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl oauth2::ErrorResponse for ZoomOAuthErrorBody {}

/// Extra fields of Zoom's token answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoomTokenFields {
    /// The API base for this token's data residency.
    #[serde(default)]
    pub api_url: Option<String>,
}

impl ExtraTokenFields for ZoomTokenFields {}

type ZoomTokenResponse = StandardTokenResponse<ZoomTokenFields, BasicTokenType>;
type ZoomClient = oauth2::Client<
    ZoomOAuthErrorBody,
    ZoomTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A token answer.
#[derive(Debug)]
pub struct TokenGrant {
    /// The access token.
    pub access_token: SecretString,
    /// The new refresh token (user OAuth only).
    pub refresh_token: Option<SecretString>,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The API base Zoom returned for this token, if any.
    pub api_url: Option<String>,
}

/// Why an OAuth call failed. Never carries a token, code or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_grant`: the code or refresh token is dead.
    #[error("Zoom rejected the grant: {reason}")]
    InvalidGrant {
        /// Zoom's reason.
        reason: String,
    },
    /// Any other OAuth error answer.
    #[error("Zoom answered {error}: {reason}")]
    Rejected {
        /// The OAuth error code.
        error: String,
        /// Zoom's reason.
        reason: String,
    },
    /// No usable answer (unreachable, timeout, unreadable).
    #[error("{0}")]
    Unavailable(String),
}

/// What the browser is sent to, and what we keep server-side to finish the flow.
#[derive(Debug)]
pub struct Authorization {
    /// The Zoom authorize URL.
    pub url: String,
    /// The `state` value (128 random bits, base64url).
    pub state: SecretString,
    /// The PKCE verifier.
    pub pkce_verifier: SecretString,
}

/// The Zoom OAuth client; built once per process.
pub struct ZoomOAuth {
    client: ZoomClient,
    http: reqwest::Client,
    token_url: String,
    revoke_url: String,
    client_id: String,
    client_secret: SecretString,
}

impl std::fmt::Debug for ZoomOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoomOAuth")
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl ZoomOAuth {
    /// Builds the client; the client id and secret are required.
    pub fn new(app: &ZoomApp, http: reqwest::Client) -> Result<Self, ConfigError> {
        let client_id = app
            .client_id
            .clone()
            .ok_or(ConfigError::Missing(vars::ZOOM_CLIENT_ID))?;
        let client_secret = app
            .client_secret
            .clone()
            .ok_or(ConfigError::Missing(vars::ZOOM_CLIENT_SECRET))?;
        let invalid = |name| ConfigError::Invalid {
            name,
            reason: "not a valid URL",
        };
        let base = &app.oauth_base_url;
        let token_url = format!("{base}/oauth/token");
        let client = oauth2::Client::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
            .set_auth_uri(
                AuthUrl::new(format!("{base}/oauth/authorize"))
                    .map_err(|_| invalid(vars::ZOOM_OAUTH_BASE_URL))?,
            )
            .set_token_uri(
                TokenUrl::new(token_url.clone()).map_err(|_| invalid(vars::ZOOM_OAUTH_BASE_URL))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(app.redirect_uri.clone())
                    .map_err(|_| invalid(vars::ZOOM_REDIRECT_URI))?,
            );
        Ok(Self {
            client,
            http,
            token_url,
            revoke_url: format!("{base}/oauth/revoke"),
            client_id,
            client_secret,
        })
    }

    /// A fresh authorization: URL, state and PKCE verifier.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            state: SecretString::from(state.secret().clone()),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
        }
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &SecretString,
    ) -> Result<TokenGrant, OAuthError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()))
            .request_async(&OAuthHttp(&self.http))
            .await;
        grant(response)
    }

    /// Refreshes: Zoom rotates the refresh token, and the old one dies at once.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, OAuthError> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&OAuthHttp(&self.http))
            .await;
        grant(response)
    }

    /// Revokes a token (and with it Zoom's whole grant): `POST /oauth/revoke` with the token in
    /// the form body and HTTP Basic client authentication. (Done by hand: `oauth2` refuses a
    /// plain-http revocation URL, which the local simulator uses.)
    pub async fn revoke(&self, token: &SecretString) -> Result<(), OAuthError> {
        let (status, body) = self
            .post_form(&self.revoke_url, &[("token", token.expose_secret())])
            .await?;
        if status.is_success() {
            return Ok(());
        }
        let error: ZoomOAuthErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        Err(classify(&error, status.as_u16()))
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), OAuthError> {
        let response = self
            .http
            .post(url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(form)
            .timeout(Duration::from_secs(8))
            .send()
            .await
            .map_err(|e| {
                OAuthError::Unavailable(if e.is_timeout() {
                    "Zoom OAuth did not answer in time".into()
                } else {
                    "Zoom OAuth is unreachable".into()
                })
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|_| OAuthError::Unavailable("Zoom OAuth answer could not be read".into()))?;
        Ok((status, body))
    }

    /// A Server-to-Server token for `account_id` (grant `account_credentials`; no refresh token).
    pub async fn account_credentials(&self, account_id: &str) -> Result<TokenGrant, OAuthError> {
        let form = [
            ("grant_type", "account_credentials"),
            ("account_id", account_id),
        ];
        let (status, body) = self.post_form(&self.token_url, &form).await?;
        if !status.is_success() {
            let error: ZoomOAuthErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            return Err(classify(&error, status.as_u16()));
        }
        let parsed: ZoomTokenResponse = serde_json::from_slice(&body)
            .map_err(|_| OAuthError::Unavailable("Zoom OAuth answer is not a token".into()))?;
        Ok(to_grant(parsed))
    }
}

fn classify(body: &ZoomOAuthErrorBody, status: u16) -> OAuthError {
    let reason = body
        .reason
        .clone()
        .or_else(|| body.error_description.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    if body.error == "invalid_grant" {
        OAuthError::InvalidGrant { reason }
    } else {
        OAuthError::Rejected {
            error: if body.error.is_empty() {
                format!("http_{status}")
            } else {
                body.error.clone()
            },
            reason,
        }
    }
}

fn unavailable<RE: std::error::Error + 'static, T: oauth2::ErrorResponse>(
    error: RequestTokenError<RE, T>,
) -> OAuthError {
    match error {
        RequestTokenError::Request(e) => OAuthError::Unavailable(e.to_string()),
        RequestTokenError::Parse(_, _) => {
            OAuthError::Unavailable("Zoom OAuth answer could not be parsed".into())
        }
        RequestTokenError::ServerResponse(e) => OAuthError::Rejected {
            error: e.to_string(),
            reason: String::new(),
        },
        RequestTokenError::Other(e) => OAuthError::Unavailable(e),
    }
}

fn grant(
    response: Result<ZoomTokenResponse, RequestTokenError<TransportError, ZoomOAuthErrorBody>>,
) -> Result<TokenGrant, OAuthError> {
    match response {
        Ok(token) => Ok(to_grant(token)),
        Err(RequestTokenError::ServerResponse(body)) => Err(classify(&body, 400)),
        Err(other) => Err(unavailable(other)),
    }
}

fn to_grant(token: ZoomTokenResponse) -> TokenGrant {
    TokenGrant {
        access_token: SecretString::from(token.access_token().secret().clone()),
        refresh_token: token
            .refresh_token()
            .map(|r| SecretString::from(r.secret().clone())),
        expires_in: token.expires_in().map(|d| d.as_secs()).unwrap_or(3600),
        scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        api_url: token.extra_fields().api_url.clone(),
    }
}
