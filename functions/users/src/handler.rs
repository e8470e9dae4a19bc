//! Routes of `zoom-users`.
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/zoom/users` | [`UsersHandler::list`] (cached per tenant for [`USERS_CACHE_SECS`]) |
//! | `GET /api/zoom/users/{userId}` | [`UsersHandler::get`] |

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::{flag, query};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::meetings::validate;
use zoom_shared::tokens::provider::now_secs;
use zoom_shared::zoom::access::ZoomAccess;
use zoom_shared::zoom::client::{segment, with_token};
use zoom_shared::zoom::models::{ZoomUser, ZoomUserPage};

use crate::cache::{self, USERS_CACHE_SECS};

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/users`
    List,
    /// `GET /api/zoom/users/{userId}`
    Get,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([
        (Method::GET, "/api/zoom/users", Route::List),
        (Method::GET, "/api/zoom/users/{userId}", Route::Get),
    ])
}

/// The handler's dependencies.
pub struct UsersHandler {
    /// Zoom access.
    pub zoom: ZoomAccess,
    /// Caller identity.
    pub caller_auth: CallerAuth,
}

/// A user as our API shows it.
fn view(user: &ZoomUser) -> serde_json::Value {
    json!({
        "id": user.id, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "type": user.user_type, "status": user.status,
    })
}

fn store_problem(e: zoom_shared::tokens::store::StoreError) -> ApiError {
    ApiError::from(e)
}

impl Handler<Route> for UsersHandler {
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        let caller = self.caller_auth.authenticate(&request)?;
        let deadline = budget(&request);
        match matched.route {
            Route::List => self.list(&caller.tenant_id, &request, deadline).await,
            Route::Get => {
                let user = validate::user_id(Some(matched.params.get("userId")?)).map_err(|e| {
                    ApiError::Validation(vec![FieldError::new("userId", e.message)])
                })?;
                self.get(&caller.tenant_id, &user, deadline).await
            }
        }
    }
}

impl UsersHandler {
    /// `GET /api/zoom/users`: one page of Zoom's list, cached per tenant and query.
    async fn list(
        &self,
        tenant: &str,
        request: &Request,
        deadline: tokio::time::Instant,
    ) -> Result<Response<Body>, ApiError> {
        let mut errors = Vec::new();
        let status = query(request, "status").unwrap_or_else(|| "active".into());
        if !["active", "inactive", "pending"].contains(&status.as_str()) {
            errors.push(FieldError::new(
                "status",
                "must be active, inactive or pending",
            ));
        }
        let page_size = validate::page_size(query(request, "page_size").as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        let token = validate::page_token(query(request, "next_page_token").as_deref())
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let refresh = flag(request, "refresh")
            .map_err(|_| errors.push(FieldError::new("refresh", "must be true or false")))
            .unwrap_or(false);
        let (Some(page_size), true) = (page_size, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let mut path = format!("/users?status={status}&page_size={page_size}");
        if let Some(token) = &token {
            path.push_str(&format!("&next_page_token={}", segment(token)));
        }
        let now = now_secs();
        if !refresh
            && let Some(page) = cache::get(&self.zoom.table, tenant, &path, now)
                .await
                .map_err(store_problem)?
        {
            return json(StatusCode::OK, &page);
        }
        let page: ZoomUserPage = with_token(&self.zoom.tokens, tenant, |credential| {
            let (client, path) = (&self.zoom.client, path.clone());
            async move { client.get(&credential, &path, deadline).await }
        })
        .await?;
        let body = json!({
            "users": page.users.iter().map(view).collect::<Vec<_>>(),
            "next_page_token": page.next_page_token,
            "page_size": page.page_size,
            "total_records": page.total_records,
            "cached_for_seconds": USERS_CACHE_SECS,
        });
        cache::put(&self.zoom.table, tenant, &path, &body, now)
            .await
            .map_err(store_problem)?;
        json(StatusCode::OK, &body)
    }

    /// `GET /api/zoom/users/{userId}`.
    async fn get(
        &self,
        tenant: &str,
        user: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Response<Body>, ApiError> {
        let path = format!("/users/{}", segment(user));
        let found: ZoomUser = with_token(&self.zoom.tokens, tenant, |credential| {
            let (client, path) = (&self.zoom.client, path.clone());
            async move { client.get(&credential, &path, deadline).await }
        })
        .await?;
        json(StatusCode::OK, &view(&found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-users");
    }

    /// Every event in `events/zoom-users/` routes to this function, with authorizer claims.
    #[test]
    fn sample_events_route_to_this_function() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/zoom-users");
        let covered = zoom_shared::http::samples::check_dir(dir, &router(), |_| false);
        assert_eq!(covered, router().table().count(), "one event per route");
    }
}
