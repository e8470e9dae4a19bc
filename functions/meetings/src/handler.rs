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
//! Ownership: the caller's [`Owner`] (one place: [`OwnerResolver`]) decides every read and
//! write. A meeting is the tenant's when its host is the owner's Zoom user (or the owner has the
//! account-wide role); only such meetings are stored, a `user_id` other than the owner's own is
//! 404, and another owner's meeting id is 404 whatever Zoom would answer.
//!
//! Freshness: a stored meeting fetched from Zoom less than [`FRESH_SECS`] ago, or one that
//! webhooks marked completed or cancelled, is served without calling Zoom; a list page is
//! served from the connection's cache for 60 s unless its meetings changed since (see
//! [`zoom_shared::caches`]); `?refresh=true` forces Zoom for both. Cache and store writes after
//! Zoom answered are best-effort: their failure is logged and counted, never the request's.
//! `start_url` is a host credential: never stored, fetched from Zoom only with
//! `?include_start_url=true`.

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tokio::time::Instant;
use zoom_shared::caches::{Family, PageCache, cache_write_failed};
use zoom_shared::clock::{now_millis, now_secs};
use zoom_shared::connections::resolve::OwnerResolver;
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::{flag, json_body, query};
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, Caller, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::idempotency::IdempotencyStore;
use zoom_shared::meetings::validate;
use zoom_shared::meetings::view::{Meeting, MeetingStatus};
use zoom_shared::meetings::{MeetingStore, StoredMeeting};
use zoom_shared::metrics::Metrics;
use zoom_shared::owner::Owner;
use zoom_shared::zoom::api::ZoomApi;
use zoom_shared::zoom::client::segment;
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

/// The handler's dependencies, each a port.
pub struct MeetingsHandler<O, M, P, Z, I> {
    /// Who the caller is, as an owner.
    pub owners: O,
    /// Stored meetings.
    pub meetings: M,
    /// Cached list pages.
    pub pages: P,
    /// Zoom.
    pub zoom: Z,
    /// `Idempotency-Key` records.
    pub idempotency: I,
    /// Caller identity.
    pub caller_auth: CallerAuth,
    /// Metrics.
    pub metrics: Metrics,
}

impl<O, M, P, Z, I> Handler<Route> for MeetingsHandler<O, M, P, Z, I>
where
    O: OwnerResolver + 'static,
    M: MeetingStore + 'static,
    P: PageCache + 'static,
    Z: ZoomApi + 'static,
    I: IdempotencyStore + 'static,
{
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        let caller = self.caller_auth.authenticate(&request)?;
        let deadline = budget(&request);
        let id = match matched.route {
            Route::Get | Route::Update | Route::Delete => Some(
                validate::meeting_id(matched.params.get("meetingId")?)
                    .map_err(|e| ApiError::Validation(vec![e]))?,
            ),
            Route::List | Route::Create => None,
        };
        // Each route checks its input first, then resolves the owner (no storage read or Zoom
        // call for a request that is refused anyway).
        let who = (&caller, deadline);
        match (matched.route, id) {
            (Route::List, _) => self.list(who, &request).await,
            (Route::Create, _) => self.create(who, &request).await,
            (Route::Get, Some(id)) => self.get(who, id, &request).await,
            (Route::Update, Some(id)) => self.update(who, id, &request).await,
            (Route::Delete, Some(id)) => self.delete(who, id, &request).await,
            _ => Err(ApiError::Internal("route without its meeting id".into())),
        }
    }
}

/// The caller and the request's deadline.
pub(crate) type Who<'a> = (&'a Caller, Instant);

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no meeting {id} for this tenant"))
}

/// The Zoom user a `user_id` parameter names, if the owner may address it (else 404).
pub(crate) fn addressed_user(owner: &Owner, raw: Option<&str>) -> Result<String, ApiError> {
    let user = validate::user_id(raw).map_err(|e| ApiError::Validation(vec![e]))?;
    if !owner.may_address_user(&user) {
        return Err(ApiError::NotFound(format!(
            "no Zoom user {user} for this tenant"
        )));
    }
    Ok(owner.user_segment_for(Some(&user)))
}

impl<O, M, P, Z, I> MeetingsHandler<O, M, P, Z, I>
where
    O: OwnerResolver,
    M: MeetingStore,
    P: PageCache,
    Z: ZoomApi,
    I: IdempotencyStore,
{
    /// `GET /api/zoom/meetings`: one page, from the connection's list cache or from Zoom (then
    /// stored and cached).
    async fn list(
        &self,
        (caller, deadline): Who<'_>,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let mut errors = Vec::new();
        let kind = query(request, "type").unwrap_or_else(|| "scheduled".into());
        if !["scheduled", "live", "upcoming", "previous_meetings"].contains(&kind.as_str()) {
            errors.push(FieldError::new(
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
            .map_err(|_| errors.push(FieldError::new("refresh", "must be true or false")))
            .unwrap_or(false);
        let (Some(page_size), Some(user), true) = (page_size, user, errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        let owner = &self.owners.resolve(caller, deadline).await?;
        let user = addressed_user(owner, Some(&user))?;
        let mut path = format!(
            "/users/{}/meetings?type={kind}&page_size={page_size}",
            segment(&user)
        );
        if let Some(token) = &token {
            path.push_str(&format!("&next_page_token={}", segment(token)));
        }
        let family = Family::MeetingLists;
        let fetched_ms = now_millis();
        if !refresh {
            match self.pages.get(owner, family, &path, fetched_ms).await {
                Ok(Some(page)) => {
                    self.metrics.count("MeetingListCached", 1.0, &[]);
                    return json(StatusCode::OK, &page);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "list cache unreadable; asking Zoom"),
            }
        }
        let page: ZoomMeetingPage = self.zoom.get(owner, &path, deadline).await?;
        // List items are summaries (no passcode, no status): they are never stored, so they
        // can never replace a full copy; a live list's items are live.
        let meetings: Vec<Meeting> = page
            .meetings
            .iter()
            .map(Meeting::from_zoom)
            .filter(|m| owner.owns(&m.host_id))
            .map(|mut m| {
                if kind == "live" {
                    m.status = MeetingStatus::Live;
                }
                m
            })
            .collect();
        let body = json!({
            "meetings": meetings, "next_page_token": page.next_page_token,
            "page_size": page.page_size, "total_records": page.total_records,
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

    /// Stores `meeting` and records that the owner's lists changed, best-effort: Zoom already
    /// holds the truth, so a failure here is logged and counted, not answered.
    pub(crate) async fn remember(&self, owner: &Owner, meeting: &Meeting) {
        if let Err(e) = self.meetings.save(owner, meeting, now_secs()).await {
            tracing::warn!(error = %e, "meeting could not be stored");
            self.metrics.count("MeetingStoreFailed", 1.0, &[]);
        }
        self.lists_changed(owner).await;
    }

    /// Records that the owner's meetings changed: its cached list pages are not served again.
    async fn lists_changed(&self, owner: &Owner) {
        let family = Family::MeetingLists;
        if let Err(e) = self.pages.changed(owner, family, now_millis()).await {
            cache_write_failed(&self.metrics, family, &e);
        }
    }

    /// Fetches a meeting from Zoom; 404 unless the owner owns it; stores it.
    async fn fetch(
        &self,
        owner: &Owner,
        id: i64,
        deadline: Instant,
    ) -> Result<(Meeting, ZoomMeeting), ApiError> {
        let fetched: ZoomMeeting = self
            .zoom
            .get(owner, &format!("/meetings/{id}"), deadline)
            .await?;
        if !owner.owns(&fetched.host_id) {
            return Err(not_found(id));
        }
        let mut meeting = Meeting::from_zoom(&fetched);
        if let Err(e) = self.meetings.save(owner, &meeting, now_secs()).await {
            tracing::warn!(error = %e, "fetched meeting could not be stored");
            self.metrics.count("MeetingStoreFailed", 1.0, &[]);
        }
        // What webhooks said (ended, deleted) stays with the fresh copy.
        if let Ok(Some(stored)) = self.meetings.get(owner, id).await {
            meeting.status = stored.meeting.status;
        }
        Ok((meeting, fetched))
    }

    /// The owner's stored copy of a meeting (stored copies are always the owner's own).
    async fn stored(&self, owner: &Owner, id: i64) -> Result<Option<StoredMeeting>, ApiError> {
        Ok(self.meetings.get(owner, id).await?)
    }

    /// `GET /api/zoom/meetings/{meetingId}`.
    async fn get(
        &self,
        (caller, deadline): Who<'_>,
        id: i64,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let refresh = flag(request, "refresh")?;
        let include_start_url = flag(request, "include_start_url")?;
        let owner = &self.owners.resolve(caller, deadline).await?;
        if !refresh
            && !include_start_url
            && let Some(stored) = self.stored(owner, id).await?
            && (stored.settled || now_secs() - stored.fetched_at < FRESH_SECS)
        {
            return json(StatusCode::OK, &stored.meeting);
        }
        let (meeting, fetched) = self.fetch(owner, id, deadline).await?;
        let mut body =
            serde_json::to_value(&meeting).map_err(|e| ApiError::Internal(e.to_string()))?;
        if include_start_url {
            body["start_url"] = json!(fetched.start_url);
        }
        json(StatusCode::OK, &body)
    }

    /// Checks at Zoom, now, that the owner owns meeting `id` before it is changed: a stored copy
    /// is not enough (a meeting can be reassigned to another host after it was stored, and in
    /// Server-to-Server mode the token itself could change it).
    async fn authorize_change(
        &self,
        owner: &Owner,
        id: i64,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        self.fetch(owner, id, deadline).await.map(|_| ())
    }

    fn occurrence(request: &Request) -> Result<String, ApiError> {
        match query(request, "occurrence_id") {
            None => Ok(String::new()),
            Some(o) if !o.is_empty() && o.len() <= 32 && o.chars().all(|c| c.is_ascii_digit()) => {
                Ok(format!("?occurrence_id={o}"))
            }
            Some(_) => Err(ApiError::Validation(vec![FieldError::new(
                "occurrence_id",
                "must be a numeric occurrence id",
            )])),
        }
    }

    /// `PATCH /api/zoom/meetings/{meetingId}`: validated, updated at Zoom, re-read, stored.
    async fn update(
        &self,
        (caller, deadline): Who<'_>,
        id: i64,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let body: Value = json_body(request, validate::MAX_BODY_BYTES)?;
        let zoom_body = validate::meeting_body(&body, true).map_err(ApiError::Validation)?;
        let occurrence = Self::occurrence(request)?;
        let owner = &self.owners.resolve(caller, deadline).await?;
        self.authorize_change(owner, id, deadline).await?;
        self.zoom
            .send::<Value>(
                owner,
                Method::PATCH,
                &format!("/meetings/{id}{occurrence}"),
                Some(&zoom_body),
                deadline,
            )
            .await?;
        let (meeting, _) = self.fetch(owner, id, deadline).await?;
        self.lists_changed(owner).await;
        json(StatusCode::OK, &meeting)
    }

    /// `DELETE /api/zoom/meetings/{meetingId}`: deleted at Zoom, kept here as cancelled.
    async fn delete(
        &self,
        (caller, deadline): Who<'_>,
        id: i64,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let occurrence = Self::occurrence(request)?;
        let owner = &self.owners.resolve(caller, deadline).await?;
        self.authorize_change(owner, id, deadline).await?;
        self.zoom
            .send::<Value>(
                owner,
                Method::DELETE,
                &format!("/meetings/{id}{occurrence}"),
                None,
                deadline,
            )
            .await?;
        if occurrence.is_empty()
            && let Err(e) = self
                .meetings
                .set_status(owner, id, MeetingStatus::Cancelled, now_millis())
                .await
        {
            tracing::warn!(error = %e, "deleted meeting could not be marked cancelled");
            self.metrics.count("MeetingStoreFailed", 1.0, &[]);
        }
        self.lists_changed(owner).await;
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use zoom_shared::caches::memory::MemoryPageCache;
    use zoom_shared::connections::resolve::fake::FixedOwners;
    use zoom_shared::http::testing;
    use zoom_shared::idempotency::memory::MemoryIdempotency;
    use zoom_shared::meetings::memory::MemoryMeetings;
    use zoom_shared::owner::{Mode, Reach};
    use zoom_shared::zoom::api::fake::FakeZoom;

    type Fixture =
        MeetingsHandler<FixedOwners, MemoryMeetings, MemoryPageCache, FakeZoom, MemoryIdempotency>;

    fn owner(tenant: &str, user: &str) -> Owner {
        Owner {
            tenant_id: tenant.into(),
            connection_id: format!("c-{tenant}"),
            account_id: "acct".into(),
            reach: Reach::User {
                zoom_user_id: user.into(),
            },
            mode: Mode::UserOAuth,
            email: Some(format!("{user}@example.com")),
        }
    }

    fn handler() -> Fixture {
        MeetingsHandler {
            owners: FixedOwners::of([owner("alice", "u-alice"), owner("bob", "u-bob")]),
            meetings: MemoryMeetings::default(),
            pages: MemoryPageCache::default(),
            zoom: FakeZoom::default(),
            idempotency: MemoryIdempotency::default(),
            caller_auth: testing::caller_auth(),
            metrics: Metrics::in_memory("zoom-meetings").0,
        }
    }

    async fn call(
        h: &Fixture,
        tenant: &str,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = testing::request(tenant, json!({}), method, uri, body);
        let (status, body, _) = testing::call(&router(), h, request).await;
        (status, body)
    }

    fn zoom_meeting(id: i64, host: &str) -> Value {
        json!({"id": id, "uuid": format!("uuid-{id}"), "topic": "t", "host_id": host, "type": 2})
    }

    #[tokio::test]
    async fn another_users_meeting_is_404_even_when_zoom_answers_it() {
        let h = handler();
        h.zoom
            .answer("GET /meetings/7", Ok(Some(zoom_meeting(7, "u-bob"))));
        let (status, _) = call(&h, "alice", Method::GET, "/api/zoom/meetings/7", None).await;
        assert_eq!(status, 404);
        assert_eq!(
            h.meetings.count(&owner("alice", "u-alice")),
            0,
            "nothing stored"
        );
        let (status, body) = call(&h, "bob", Method::GET, "/api/zoom/meetings/7", None).await;
        assert_eq!((status, body["id"].as_i64()), (200, Some(7)));
    }

    #[tokio::test]
    async fn another_users_meeting_cannot_be_changed_or_deleted() {
        let h = handler();
        h.zoom
            .answer("GET /meetings/7", Ok(Some(zoom_meeting(7, "u-bob"))));
        h.zoom.answer("PATCH /meetings/7", Ok(None));
        h.zoom.answer("DELETE /meetings/7", Ok(None));
        let patch = call(
            &h,
            "alice",
            Method::PATCH,
            "/api/zoom/meetings/7",
            Some(json!({"topic": "x"})),
        )
        .await;
        let delete = call(&h, "alice", Method::DELETE, "/api/zoom/meetings/7", None).await;
        assert_eq!((patch.0, delete.0), (404, 404));
        assert!(
            h.zoom.calls().iter().all(|c| c.starts_with("GET ")),
            "no change was sent to Zoom: {:?}",
            h.zoom.calls()
        );
    }

    #[tokio::test]
    async fn a_list_of_another_user_is_404_and_a_list_stores_only_owned_meetings() {
        let h = handler();
        let (status, _) = call(
            &h,
            "alice",
            Method::GET,
            "/api/zoom/meetings?user_id=u-bob",
            None,
        )
        .await;
        assert_eq!(status, 404);
        assert!(h.zoom.calls().is_empty(), "Zoom was not asked");
        h.zoom.answer(
            "GET /users/me/meetings?type=scheduled&page_size=30",
            Ok(Some(json!({"meetings": [zoom_meeting(1, "u-alice"), zoom_meeting(2, "u-bob")], "page_size": 30, "total_records": 2}))),
        );
        let (status, body) = call(&h, "alice", Method::GET, "/api/zoom/meetings", None).await;
        assert_eq!(status, 200);
        let ids: Vec<i64> = body["meetings"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|m| m["id"].as_i64())
            .collect();
        assert_eq!(ids, vec![1], "only alice's meeting is shown");
        assert_eq!(
            h.meetings.count(&owner("alice", "u-alice")),
            0,
            "list summaries are never stored"
        );
    }

    #[tokio::test]
    async fn a_tenant_never_sees_another_tenants_stored_copy_or_cached_page() {
        let h = handler();
        h.zoom
            .answer("GET /meetings/1", Ok(Some(zoom_meeting(1, "u-alice"))));
        assert_eq!(
            call(&h, "alice", Method::GET, "/api/zoom/meetings/1", None)
                .await
                .0,
            200
        );
        h.zoom.answer(
            "GET /users/me/meetings?type=scheduled&page_size=30",
            Ok(Some(
                json!({"meetings": [zoom_meeting(1, "u-alice")], "page_size": 30}),
            )),
        );
        assert_eq!(
            call(&h, "alice", Method::GET, "/api/zoom/meetings", None)
                .await
                .0,
            200
        );
        let before = h.zoom.calls().len();
        // Bob: his own namespace, so Zoom is asked and answers with what bob may see.
        let (status, _) = call(&h, "bob", Method::GET, "/api/zoom/meetings/1", None).await;
        assert_eq!(status, 404);
        assert_eq!(
            h.zoom.calls().len(),
            before + 1,
            "bob's read was not served from alice's store"
        );
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (tenant, _) in h.zoom.calls.lock().expect("calls").iter() {
            *seen.entry(tenant.clone()).or_default() += 1;
        }
        assert_eq!(seen.get("bob"), Some(&1));
    }

    #[tokio::test]
    async fn an_unconnected_tenant_is_409_and_no_zoom_call_is_made() {
        let h = handler();
        assert_eq!(
            call(&h, "mallory", Method::GET, "/api/zoom/meetings", None)
                .await
                .0,
            409
        );
        assert_eq!(
            call(&h, "mallory", Method::GET, "/api/zoom/meetings/1", None)
                .await
                .0,
            409
        );
        assert!(h.zoom.calls().is_empty());
    }

    async fn create(h: &Fixture, key: &str, body: Value) -> (u16, Value) {
        let request = testing::request_with(
            "alice",
            json!({}),
            Method::POST,
            "/api/zoom/meetings",
            Some(body),
            &[("idempotency-key", key)],
        );
        let (status, body, _) = testing::call(&router(), h, request).await;
        (status, body)
    }

    fn posts(h: &Fixture) -> usize {
        h.zoom
            .calls()
            .iter()
            .filter(|c| c.starts_with("POST "))
            .count()
    }

    #[tokio::test]
    async fn a_retry_with_the_same_key_replays_and_another_body_is_422() {
        let h = handler();
        h.zoom.answer(
            "POST /users/me/meetings",
            Ok(Some(zoom_meeting(9, "u-alice"))),
        );
        let body = json!({"topic": "standup", "duration": 15});
        let first = create(&h, "k-1", body.clone()).await;
        let again = create(&h, "k-1", body).await;
        assert_eq!(first.0, 201);
        assert_eq!(first, again, "the same answer twice");
        assert_eq!(posts(&h), 1, "one create at Zoom");
        let other = create(&h, "k-1", json!({"topic": "other", "duration": 15})).await;
        assert_eq!(other.0, 422);
        assert_eq!(posts(&h), 1);
        let fresh = create(&h, "k-2", json!({"topic": "other", "duration": 15})).await;
        assert_eq!(
            (fresh.0, posts(&h)),
            (201, 2),
            "another key is another create"
        );
    }

    /// The request Schemathesis sent (its key `×ø\u{9b}` is what locally never reached us: the
    /// emulator answers 500 for header bytes that are not UTF-8), with a valid body: whatever
    /// form such a key arrives in, it is a 400 naming the header, before any owner lookup,
    /// record or Zoom call.
    #[tokio::test]
    async fn a_key_outside_visible_ascii_is_a_400_and_nothing_is_created() {
        let h = handler();
        h.zoom.answer(
            "POST /users/me/meetings",
            Ok(Some(zoom_meeting(9, "u-alice"))),
        );
        let body = json!({"agenda": "", "default_password": false, "duration": 1, "password": "0", "pre_schedule": false, "recurrence": {"type": 1}, "settings": {}, "start_time": "2000-01-01T00:00:00Z", "timezone": "UTC", "topic": "0", "type": 1});
        let raw: [&[u8]; 3] = ["×ø\u{9b}".as_bytes(), b"\xd7\xf8\x9b", b"k\xe9"];
        for key in raw {
            let mut request = testing::request(
                "alice",
                json!({}),
                Method::POST,
                "/api/zoom/meetings?user_id=u-alice",
                Some(body.clone()),
            );
            request.headers_mut().insert(
                "idempotency-key",
                http::HeaderValue::from_bytes(key).expect("a header value"),
            );
            let (status, problem, _) = testing::call(&router(), &h, request).await;
            assert_eq!(status, 400, "{key:?}: {problem}");
            assert_eq!(problem["errors"][0]["field"], "Idempotency-Key", "{key:?}");
        }
        assert!(h.zoom.calls().is_empty(), "nothing sent to Zoom");
        assert_eq!(
            create(&h, "k-valid", body).await.0,
            201,
            "the same body with a key"
        );
    }

    #[tokio::test]
    async fn a_lost_answer_is_reconciled_by_the_retry_not_created_twice() {
        let h = handler();
        h.zoom.answer(
            "POST /users/me/meetings",
            Err(ApiError::OutcomeUnknown("lost".into())),
        );
        let body = json!({"topic": "lost answer", "duration": 15});
        let first = create(&h, "k", body.clone()).await;
        assert_eq!(first.0, 502);
        assert_eq!(
            first.1["type"],
            "urn:problem:zoom-connector:zoom-outcome-unknown"
        );
        // Zoom did create it: the retry finds it in the user's list.
        let mut made = zoom_meeting(77, "u-alice");
        made["topic"] = json!("lost answer");
        h.zoom.answer(
            "GET /users/me/meetings?type=scheduled&page_size=300",
            Ok(Some(
                json!({"meetings": [made, zoom_meeting(78, "u-alice")]}),
            )),
        );
        let retry = create(&h, "k", body.clone()).await;
        assert_eq!((retry.0, retry.1["id"].as_i64()), (201, Some(77)));
        assert_eq!(posts(&h), 1, "never sent twice");
        assert_eq!(
            create(&h, "k", body).await,
            retry,
            "and replayed afterwards"
        );
    }

    #[tokio::test]
    async fn a_lost_answer_that_created_nothing_is_created_once_on_retry() {
        let h = handler();
        h.zoom.answer(
            "POST /users/me/meetings",
            Err(ApiError::OutcomeUnknown("lost".into())),
        );
        let body = json!({"topic": "never made", "duration": 15});
        assert_eq!(create(&h, "k", body.clone()).await.0, 502);
        h.zoom.answer(
            "GET /users/me/meetings?type=scheduled&page_size=300",
            Ok(Some(json!({"meetings": []}))),
        );
        h.zoom.answer(
            "POST /users/me/meetings",
            Ok(Some(zoom_meeting(5, "u-alice"))),
        );
        assert_eq!(create(&h, "k", body).await.0, 201);
        assert_eq!(
            posts(&h),
            2,
            "the first never reached Zoom's store; the retry made it"
        );
    }

    #[tokio::test]
    async fn a_failing_cache_does_not_fail_a_read_zoom_answered() {
        let h = handler();
        h.pages
            .fail_writes
            .store(true, std::sync::atomic::Ordering::Relaxed);
        h.zoom.answer(
            "GET /users/me/meetings?type=scheduled&page_size=30",
            Ok(Some(
                json!({"meetings": [zoom_meeting(1, "u-alice")], "page_size": 30}),
            )),
        );
        assert_eq!(
            call(&h, "alice", Method::GET, "/api/zoom/meetings", None)
                .await
                .0,
            200
        );
    }

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
