//! Routes of `zoom-users`.
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/zoom/users` | [`UsersHandler::list`] (cached per connection for 120 s) |
//! | `GET /api/zoom/users/{userId}` | [`UsersHandler::get`] |
//!
//! The organisation's users are a directory every connected tenant of the account may read
//! (the mission's "see their organisation's users"); pages are cached in the caller's own
//! namespace, never shared between tenants.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use zoom_shared::caches::{Family, PageCache, cache_write_failed};
use zoom_shared::clock::now_millis;
use zoom_shared::connections::resolve::OwnerResolver;
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::{flag, query};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::meetings::validate;
use zoom_shared::metrics::Metrics;
use zoom_shared::owner::Owner;
use zoom_shared::zoom::api::ZoomApi;
use zoom_shared::zoom::client::segment;
use zoom_shared::zoom::models::{ZoomUser, ZoomUserPage};

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

/// The handler's dependencies, each a port.
pub struct UsersHandler<O, P, Z> {
    /// Who the caller is, as an owner.
    pub owners: O,
    /// Cached pages.
    pub pages: P,
    /// Zoom.
    pub zoom: Z,
    /// Caller identity.
    pub caller_auth: CallerAuth,
    /// Metrics.
    pub metrics: Metrics,
}

/// A user as our API shows it.
fn view(user: &ZoomUser) -> serde_json::Value {
    json!({
        "id": user.id, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "type": user.user_type, "status": user.status,
    })
}

impl<O, P, Z> Handler<Route> for UsersHandler<O, P, Z>
where
    O: OwnerResolver + 'static,
    P: PageCache + 'static,
    Z: ZoomApi + 'static,
{
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        let caller = self.caller_auth.authenticate(&request)?;
        let deadline = budget(&request);
        let user = match matched.route {
            Route::Get => Some(
                validate::user_id(Some(matched.params.get("userId")?)).map_err(|e| {
                    ApiError::Validation(vec![FieldError::new("userId", e.message)])
                })?,
            ),
            Route::List => None,
        };
        match user {
            None => self.list(&caller, &request, deadline).await,
            Some(user) => {
                let owner = self.owners.resolve(&caller, deadline).await?;
                self.get(&owner, &user, deadline).await
            }
        }
    }
}

impl<O, P, Z> UsersHandler<O, P, Z>
where
    O: OwnerResolver,
    P: PageCache,
    Z: ZoomApi,
{
    /// `GET /api/zoom/users`: one page of Zoom's list, cached per tenant and query.
    async fn list(
        &self,
        caller: &zoom_shared::http::Caller,
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
        let owner = &self.owners.resolve(caller, deadline).await?;
        let mut path = format!("/users?status={status}&page_size={page_size}");
        if let Some(token) = &token {
            path.push_str(&format!("&next_page_token={}", segment(token)));
        }
        let family = Family::Users;
        let fetched_ms = now_millis();
        if !refresh {
            match self.pages.get(owner, family, &path, fetched_ms).await {
                Ok(Some(page)) => return json(StatusCode::OK, &page),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "users cache unreadable; asking Zoom"),
            }
        }
        let page: ZoomUserPage = self.zoom.get(owner, &path, deadline).await?;
        let body = json!({
            "users": page.users.iter().map(view).collect::<Vec<_>>(),
            "next_page_token": page.next_page_token,
            "page_size": page.page_size,
            "total_records": page.total_records,
            "cached_for_seconds": family.ttl_secs(),
        });
        match self
            .pages
            .put(owner, family, &path, &body, fetched_ms)
            .await
        {
            Ok(true) => {}
            Ok(false) => self.metrics.count("CachePageTooLarge", 1.0, &[]),
            Err(e) => cache_write_failed(&self.metrics, family, &e),
        }
        json(StatusCode::OK, &body)
    }

    /// `GET /api/zoom/users/{userId}`.
    async fn get(
        &self,
        owner: &Owner,
        user: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Response<Body>, ApiError> {
        let path = format!("/users/{}", segment(&owner.user_segment_for(Some(user))));
        let found: ZoomUser = self.zoom.get(owner, &path, deadline).await?;
        json(StatusCode::OK, &view(&found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use zoom_shared::caches::memory::MemoryPageCache;
    use zoom_shared::connections::resolve::fake::FixedOwners;
    use zoom_shared::http::testing;
    use zoom_shared::owner::{Mode, Reach};
    use zoom_shared::zoom::api::fake::FakeZoom;

    type Fixture = UsersHandler<FixedOwners, MemoryPageCache, FakeZoom>;

    fn owner(tenant: &str, user: &str, mode: Mode) -> Owner {
        Owner {
            tenant_id: tenant.into(),
            connection_id: format!("c-{tenant}"),
            account_id: "acct".into(),
            reach: Reach::User {
                zoom_user_id: user.into(),
            },
            mode,
            email: None,
        }
    }

    fn handler() -> Fixture {
        UsersHandler {
            owners: FixedOwners::of([
                owner("alice", "u-alice", Mode::UserOAuth),
                owner("bob", "u-bob", Mode::UserOAuth),
                owner("s2s", "u-s2s", Mode::ServerToServer),
            ]),
            pages: MemoryPageCache::default(),
            zoom: FakeZoom::default(),
            caller_auth: testing::caller_auth(),
            metrics: Metrics::in_memory("zoom-users").0,
        }
    }

    async fn get(h: &Fixture, tenant: &str, uri: &str) -> (u16, Value) {
        let request = testing::request(tenant, json!({}), Method::GET, uri, None);
        let (status, body, _) = testing::call(&router(), h, request).await;
        (status, body)
    }

    const PAGE: &str = "GET /users?status=active&page_size=30";

    #[tokio::test]
    async fn each_tenant_has_its_own_cached_pages_and_unconnected_is_409() {
        let h = handler();
        h.zoom.answer(
            PAGE,
            Ok(Some(
                json!({"users": [{"id": "u1", "email": "a@x"}], "page_size": 30}),
            )),
        );
        assert_eq!(get(&h, "alice", "/api/zoom/users").await.0, 200);
        assert_eq!(get(&h, "alice", "/api/zoom/users").await.0, 200);
        assert_eq!(h.zoom.calls().len(), 1, "alice's second read is cached");
        assert_eq!(get(&h, "bob", "/api/zoom/users").await.0, 200);
        assert_eq!(h.zoom.calls().len(), 2, "bob does not read alice's cache");
        assert_eq!(get(&h, "mallory", "/api/zoom/users").await.0, 409);
        assert_eq!(h.zoom.calls().len(), 2);
    }

    #[tokio::test]
    async fn me_is_the_bound_user_in_server_to_server_mode() {
        let h = handler();
        h.zoom
            .answer("GET /users/u-s2s", Ok(Some(json!({"id": "u-s2s"}))));
        h.zoom
            .answer("GET /users/me", Ok(Some(json!({"id": "u-alice"}))));
        assert_eq!(get(&h, "s2s", "/api/zoom/users/me").await.1["id"], "u-s2s");
        assert_eq!(
            get(&h, "alice", "/api/zoom/users/me").await.1["id"],
            "u-alice"
        );
    }

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
