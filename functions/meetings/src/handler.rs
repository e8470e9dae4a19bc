//! Routes of `zoom-meetings`.
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/zoom/meetings` | [`MeetingsHandler::list`] |
//! | `POST /api/zoom/meetings` | [`MeetingsHandler::create`] |
//! | `GET /api/zoom/meetings/{meetingId}` | [`MeetingsHandler::get`] |
//! | `PATCH /api/zoom/meetings/{meetingId}` | [`MeetingsHandler::update`] |
//! | `DELETE /api/zoom/meetings/{meetingId}` | [`MeetingsHandler::delete`] |
//!
//! Freshness: a stored meeting fetched from Zoom less than [`FRESH_SECS`] ago, or one that
//! webhooks marked completed or cancelled, is served without calling Zoom; a list page is
//! served from the tenant's cache for [`LIST_CACHE_SECS`] unless its meetings changed since
//! (see [`zoom_shared::meetings::list_cache`]); `?refresh=true` forces Zoom for both.
//! `start_url` is a host credential: never stored, fetched from Zoom only with
//! `?include_start_url=true`.

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tokio::time::Instant;
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::{flag, json_body, query};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Caller, CallerAuth, Matched, Router, json};
use zoom_shared::meetings::list_cache::{LIST_CACHE_SECS, now_millis};
use zoom_shared::meetings::validate;
use zoom_shared::meetings::view::{Meeting, MeetingStatus};
use zoom_shared::metrics::Metrics;
use zoom_shared::tokens::provider::now_secs;
use zoom_shared::zoom::access::{Owner, ZoomAccess};
use zoom_shared::zoom::client::{segment, with_token};
use zoom_shared::zoom::models::{ZoomMeeting, ZoomMeetingPage};

/// A stored copy younger than this is served without calling Zoom.
pub const FRESH_SECS: i64 = 300;

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/meetings`
    List,
    /// `POST /api/zoom/meetings`
    Create,
    /// `GET /api/zoom/meetings/{meetingId}`
    Get,
    /// `PATCH /api/zoom/meetings/{meetingId}`
    Update,
    /// `DELETE /api/zoom/meetings/{meetingId}`
    Delete,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([
        (Method::GET, "/api/zoom/meetings", Route::List),
        (Method::POST, "/api/zoom/meetings", Route::Create),
        (Method::GET, "/api/zoom/meetings/{meetingId}", Route::Get),
        (
            Method::PATCH,
            "/api/zoom/meetings/{meetingId}",
            Route::Update,
        ),
        (
            Method::DELETE,
            "/api/zoom/meetings/{meetingId}",
            Route::Delete,
        ),
    ])
}

/// The handler's dependencies.
pub struct MeetingsHandler {
    /// Zoom access (table, tokens, client).
    pub zoom: ZoomAccess,
    /// Caller identity.
    pub caller_auth: CallerAuth,
    /// Metrics.
    pub metrics: Metrics,
}

impl Handler<Route> for MeetingsHandler {
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        let caller = self.caller_auth.authenticate(&request)?;
        let deadline = budget(&request);
        match matched.route {
            Route::List => self.list(&caller, &request, deadline).await,
            Route::Create => self.create(&caller, &request, deadline).await,
            Route::Get | Route::Update | Route::Delete => {
                let id = validate::meeting_id(matched.params.get("meetingId")?)
                    .map_err(|e| ApiError::Validation(vec![e]))?;
                match matched.route {
                    Route::Get => self.get(&caller, id, &request, deadline).await,
                    Route::Update => self.update(&caller, id, &request, deadline).await,
                    _ => self.delete(&caller, id, &request, deadline).await,
                }
            }
        }
    }
}

fn store_problem(e: zoom_shared::tokens::store::StoreError) -> ApiError {
    ApiError::from(e)
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no meeting {id} for this tenant"))
}

impl MeetingsHandler {
    /// `GET /api/zoom/meetings`: one page, from the tenant's list cache or from Zoom (then
    /// stored and cached).
    async fn list(
        &self,
        caller: &Caller,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        let mut errors = Vec::new();
        let kind = query(request, "type").unwrap_or_else(|| "scheduled".into());
        if !["scheduled", "live", "upcoming", "previous_meetings"].contains(&kind.as_str()) {
            errors.push(zoom_shared::http::FieldError::new(
                "type",
                "must be scheduled, live, upcoming or previous_meetings",
            ));
        }
        let page_size = validate::page_size(query(request, "page_size").as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        let token = validate::page_token(query(request, "next_page_token").as_deref())
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let user = validate::user_id(query(request, "user_id").as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        let refresh = flag(request, "refresh")
            .map_err(|_| {
                errors.push(zoom_shared::http::FieldError::new(
                    "refresh",
                    "must be true or false",
                ))
            })
            .unwrap_or(false);
        let (Some(page_size), Some(user), true) = (page_size, user, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let mut path = format!(
            "/users/{}/meetings?type={kind}&page_size={page_size}",
            segment(&user)
        );
        if let Some(token) = &token {
            path.push_str(&format!("&next_page_token={}", segment(token)));
        }
        let table = &self.zoom.table;
        let fetched_ms = now_millis();
        if !refresh
            && let Some(page) = table
                .cached_meeting_list(&caller.tenant_id, &path, fetched_ms)
                .await
                .map_err(store_problem)?
        {
            self.metrics.count("MeetingListCached", 1.0, &[]);
            return json(StatusCode::OK, &page);
        }
        let page: ZoomMeetingPage =
            with_token(&self.zoom.tokens, &caller.tenant_id, |credential| {
                let (client, path) = (&self.zoom.client, path.clone());
                async move { client.get(&credential, &path, deadline).await }
            })
            .await?;
        let meetings: Vec<Meeting> = page.meetings.iter().map(Meeting::from_zoom).collect();
        if kind != "previous_meetings" {
            table
                .put_meetings(&caller.tenant_id, &meetings, now_secs())
                .await
                .map_err(store_problem)?;
        }
        let body = json!({
            "meetings": meetings, "next_page_token": page.next_page_token,
            "page_size": page.page_size, "total_records": page.total_records,
            "cached_for_seconds": LIST_CACHE_SECS,
        });
        table
            .cache_meeting_list(&caller.tenant_id, &path, &body, fetched_ms)
            .await
            .map_err(store_problem)?;
        json(StatusCode::OK, &body)
    }

    /// `POST /api/zoom/meetings`: validated here, created at Zoom, stored.
    async fn create(
        &self,
        caller: &Caller,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        let body: Value = json_body(request, validate::MAX_BODY_BYTES)?;
        let zoom_body = validate::meeting_body(&body, false).map_err(ApiError::Validation)?;
        let user = validate::user_id(query(request, "user_id").as_deref())
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let path = format!("/users/{}/meetings", segment(&user));
        let created: ZoomMeeting = with_token(&self.zoom.tokens, &caller.tenant_id, |credential| {
            let (client, path, body) = (&self.zoom.client, path.clone(), zoom_body.clone());
            async move {
                client
                    .send(&credential, Method::POST, &path, Some(&body), deadline)
                    .await?
                    .ok_or_else(|| {
                        zoom_shared::zoom::client::ZoomCallError::Unavailable(
                            "Zoom answered with no body".into(),
                        )
                    })
            }
        })
        .await?;
        let meeting = Meeting::from_zoom(&created);
        self.zoom
            .table
            .put_meetings(
                &caller.tenant_id,
                std::slice::from_ref(&meeting),
                now_secs(),
            )
            .await
            .map_err(store_problem)?;
        self.lists_changed(caller).await?;
        self.metrics.count("MeetingCreated", 1.0, &[]);
        let mut response = json(StatusCode::CREATED, &meeting)?;
        if let Ok(location) = HeaderValue::from_str(&format!("/api/zoom/meetings/{}", meeting.id)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }

    /// Fetches a meeting from Zoom, checks the tenant may see it, stores it.
    async fn fetch(
        &self,
        caller: &Caller,
        id: i64,
        deadline: Instant,
    ) -> Result<(Meeting, ZoomMeeting), ApiError> {
        let owner = self.zoom.owner(&caller.tenant_id).await?;
        let fetched: ZoomMeeting = with_token(&self.zoom.tokens, &caller.tenant_id, |credential| {
            let client = &self.zoom.client;
            async move {
                client
                    .get(&credential, &format!("/meetings/{id}"), deadline)
                    .await
            }
        })
        .await?;
        if !self.may_see(caller, &owner, &fetched).await? {
            return Err(not_found(id));
        }
        let meeting = Meeting::from_zoom(&fetched);
        self.zoom
            .table
            .put_meetings(
                &caller.tenant_id,
                std::slice::from_ref(&meeting),
                now_secs(),
            )
            .await
            .map_err(store_problem)?;
        Ok((meeting, fetched))
    }

    /// A tenant sees meetings it already stored, and meetings hosted by its Zoom user.
    async fn may_see(
        &self,
        caller: &Caller,
        owner: &Owner,
        meeting: &ZoomMeeting,
    ) -> Result<bool, ApiError> {
        if owner.owns(&meeting.host_id) {
            return Ok(true);
        }
        Ok(self
            .zoom
            .table
            .get_meeting(&caller.tenant_id, meeting.id)
            .await
            .map_err(store_problem)?
            .is_some())
    }

    /// `GET /api/zoom/meetings/{meetingId}`.
    async fn get(
        &self,
        caller: &Caller,
        id: i64,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        let refresh = flag(request, "refresh")?;
        let include_start_url = flag(request, "include_start_url")?;
        if !refresh && !include_start_url {
            let stored = self
                .zoom
                .table
                .get_meeting(&caller.tenant_id, id)
                .await
                .map_err(store_problem)?;
            if let Some(stored) = stored
                && (stored.meeting.status.is_final() || now_secs() - stored.fetched_at < FRESH_SECS)
            {
                return json(StatusCode::OK, &stored.meeting);
            }
        }
        let (meeting, fetched) = self.fetch(caller, id, deadline).await?;
        let mut body =
            serde_json::to_value(&meeting).map_err(|e| ApiError::Internal(e.to_string()))?;
        if include_start_url {
            body["start_url"] = json!(fetched.start_url);
        }
        json(StatusCode::OK, &body)
    }

    /// Checks the tenant may change meeting `id` (stored, or hosted by its Zoom user).
    async fn authorize_change(
        &self,
        caller: &Caller,
        id: i64,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        let stored = self
            .zoom
            .table
            .get_meeting(&caller.tenant_id, id)
            .await
            .map_err(store_problem)?;
        if stored.is_none() {
            self.fetch(caller, id, deadline).await?;
        }
        Ok(())
    }

    fn occurrence(request: &Request) -> Result<String, ApiError> {
        match query(request, "occurrence_id") {
            None => Ok(String::new()),
            Some(o) if !o.is_empty() && o.len() <= 32 && o.chars().all(|c| c.is_ascii_digit()) => {
                Ok(format!("?occurrence_id={o}"))
            }
            Some(_) => Err(ApiError::Validation(vec![
                zoom_shared::http::FieldError::new(
                    "occurrence_id",
                    "must be a numeric occurrence id",
                ),
            ])),
        }
    }

    /// `PATCH /api/zoom/meetings/{meetingId}`: validated, updated at Zoom, re-read, stored.
    async fn update(
        &self,
        caller: &Caller,
        id: i64,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        let body: Value = json_body(request, validate::MAX_BODY_BYTES)?;
        let zoom_body = validate::meeting_body(&body, true).map_err(ApiError::Validation)?;
        let occurrence = Self::occurrence(request)?;
        self.authorize_change(caller, id, deadline).await?;
        with_token(&self.zoom.tokens, &caller.tenant_id, |credential| {
            let (client, body, path) = (
                &self.zoom.client,
                zoom_body.clone(),
                format!("/meetings/{id}{occurrence}"),
            );
            async move {
                client
                    .send::<Value>(&credential, Method::PATCH, &path, Some(&body), deadline)
                    .await
            }
        })
        .await?;
        let (meeting, _) = self.fetch(caller, id, deadline).await?;
        self.lists_changed(caller).await?;
        json(StatusCode::OK, &meeting)
    }

    /// Records that the caller's meetings changed: its cached list pages are not served again.
    async fn lists_changed(&self, caller: &Caller) -> Result<(), ApiError> {
        self.zoom
            .table
            .meeting_lists_changed(&caller.tenant_id, now_millis())
            .await
            .map_err(store_problem)
    }

    /// `DELETE /api/zoom/meetings/{meetingId}`: deleted at Zoom, kept here as cancelled.
    async fn delete(
        &self,
        caller: &Caller,
        id: i64,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        let occurrence = Self::occurrence(request)?;
        self.authorize_change(caller, id, deadline).await?;
        with_token(&self.zoom.tokens, &caller.tenant_id, |credential| {
            let (client, path) = (&self.zoom.client, format!("/meetings/{id}{occurrence}"));
            async move {
                client
                    .send::<Value>(&credential, Method::DELETE, &path, None, deadline)
                    .await
            }
        })
        .await?;
        if occurrence.is_empty() {
            // Also records the change for the cached lists.
            self.zoom
                .table
                .set_meeting_status(&caller.tenant_id, id, MeetingStatus::Cancelled)
                .await
                .map_err(store_problem)?;
        } else {
            self.lists_changed(caller).await?;
        }
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-meetings");
    }

    /// Every event in `events/zoom-meetings/` routes to this function, with authorizer claims.
    #[test]
    fn sample_events_route_to_this_function() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/zoom-meetings");
        let covered = zoom_shared::http::samples::check_dir(dir, &router(), |_| false);
        assert_eq!(covered, router().table().count(), "one event per route");
    }
}
