//! The Zoom facade every Zoom-calling handler uses: `zoom.get(owner, path, deadline)` and
//! `zoom.send(owner, method, path, body, deadline)`. It gets the owner's fresh token (the
//! tenant's own in user OAuth, the account's in Server-to-Server mode), calls Zoom through the
//! REST client (retries, deadline, error mapping), and on a rejected token refreshes once and
//! calls again. Handlers are generic over [`ZoomApi`]; [`fake::FakeZoom`] stands in for Zoom in
//! unit tests.

use http::Method;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::client::{ZoomCallError, ZoomClient};
use crate::http::ApiError;
use crate::owner::Owner;
use crate::tokens::Tokens;
use crate::tokens::provider::Credential;

/// Calls to Zoom on behalf of an owner.
pub trait ZoomApi: Send + Sync {
    /// One call; `Ok(None)` for an empty (204) answer.
    fn send<T: DeserializeOwned + Send>(
        &self,
        owner: &Owner,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<T>, ApiError>> + Send;

    /// A `GET` whose answer must have a body.
    fn get<T: DeserializeOwned + Send>(
        &self,
        owner: &Owner,
        path: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<T, ApiError>> + Send {
        async move {
            self.send(owner, Method::GET, path, None, deadline)
                .await?
                .ok_or_else(|| ApiError::BadGateway("Zoom answered with no body".into()))
        }
    }
}

impl<Z: ZoomApi> ZoomApi for &Z {
    async fn send<T: DeserializeOwned + Send>(
        &self,
        owner: &Owner,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Option<T>, ApiError> {
        (**self).send(owner, method, path, body, deadline).await
    }
}

impl<Z: ZoomApi> ZoomApi for std::sync::Arc<Z> {
    async fn send<T: DeserializeOwned + Send>(
        &self,
        owner: &Owner,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Option<T>, ApiError> {
        (**self).send(owner, method, path, body, deadline).await
    }
}

/// No Zoom at all, for functions that never call it (their resolver binds no one).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoZoom;

impl ZoomApi for NoZoom {
    async fn send<T: DeserializeOwned + Send>(
        &self,
        _owner: &Owner,
        _method: Method,
        _path: &str,
        _body: Option<&Value>,
        _deadline: Instant,
    ) -> Result<Option<T>, ApiError> {
        Err(ApiError::Internal(
            "this function does not call Zoom".into(),
        ))
    }
}

/// The production facade: tokens plus the REST client.
pub struct Zoom {
    /// Fresh tokens for either mode.
    pub tokens: Tokens,
    /// The REST client.
    pub client: ZoomClient,
}

impl Zoom {
    /// Runs `call` with the owner's fresh token; if Zoom rejects the token, refreshes once
    /// (under the single-flight rules) and runs it again.
    pub async fn with_credential<T, F, Fut>(
        &self,
        owner: &Owner,
        deadline: Instant,
        call: F,
    ) -> Result<T, ApiError>
    where
        F: Fn(Credential) -> Fut,
        Fut: Future<Output = Result<T, ZoomCallError>>,
    {
        let credential = self.tokens.fresh(owner, deadline).await?;
        match call(credential.clone()).await {
            Err(ZoomCallError::TokenRejected) => {
                let renewed = self
                    .tokens
                    .after_unauthorized(owner, &credential, deadline)
                    .await?;
                call(renewed).await.map_err(ApiError::from)
            }
            other => other.map_err(ApiError::from),
        }
    }

    /// The owner's access token (for a download that streams outside the REST client).
    pub async fn access_token(
        &self,
        owner: &Owner,
        deadline: Instant,
    ) -> Result<SecretString, ApiError> {
        Ok(self.tokens.fresh(owner, deadline).await?.access_token)
    }
}

impl ZoomApi for Zoom {
    async fn send<T: DeserializeOwned + Send>(
        &self,
        owner: &Owner,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Option<T>, ApiError> {
        self.with_credential(owner, deadline, |credential| {
            let method = method.clone();
            async move {
                self.client
                    .send(&credential, method, path, body, deadline)
                    .await
            }
        })
        .await
    }
}

/// A scripted Zoom for unit tests (feature `fakes`).
#[cfg(any(test, feature = "fakes"))]
pub mod fake {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// Answers by `"{METHOD} {path}"`; records every call with the owner's tenant.
    #[derive(Debug, Default)]
    pub struct FakeZoom {
        answers: Mutex<HashMap<String, Result<Option<Value>, ApiError>>>,
        /// `(tenant, "METHOD path")` of every call, in order.
        pub calls: Mutex<Vec<(String, String)>>,
    }

    impl FakeZoom {
        /// Scripts the answer to `"{METHOD} {path}"` (path with its query).
        pub fn answer(&self, call: &str, answer: Result<Option<Value>, ApiError>) {
            self.answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(call.to_owned(), answer);
        }

        /// The calls made so far, as `"METHOD path"`.
        pub fn calls(&self) -> Vec<String> {
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(_, c)| c.clone())
                .collect()
        }
    }

    fn copy(error: &ApiError) -> ApiError {
        match error {
            ApiError::NotFound(d) => ApiError::NotFound(d.clone()),
            ApiError::BadGateway(d) => ApiError::BadGateway(d.clone()),
            ApiError::OutcomeUnknown(d) => ApiError::OutcomeUnknown(d.clone()),
            other => ApiError::BadGateway(other.to_string()),
        }
    }

    impl ZoomApi for FakeZoom {
        async fn send<T: DeserializeOwned + Send>(
            &self,
            owner: &Owner,
            method: Method,
            path: &str,
            _body: Option<&Value>,
            _deadline: Instant,
        ) -> Result<Option<T>, ApiError> {
            let call = format!("{method} {path}");
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((owner.tenant_id.clone(), call.clone()));
            let answer = self
                .answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&call)
                .map(|a| match a {
                    Ok(v) => Ok(v.clone()),
                    Err(e) => Err(copy(e)),
                })
                .unwrap_or_else(|| {
                    Err(ApiError::NotFound(format!(
                        "FakeZoom: no answer for {call}"
                    )))
                })?;
            match answer {
                None => Ok(None),
                Some(value) => serde_json::from_value(value)
                    .map(Some)
                    .map_err(|e| ApiError::BadGateway(format!("FakeZoom: {e}"))),
            }
        }
    }
}
