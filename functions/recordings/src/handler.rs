//! Routes of `zoom-recordings`.
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/zoom/recordings` | [`RecordingsHandler::list`] |
//! | `GET /api/zoom/recordings/{meetingId}` | [`RecordingsHandler::get`] |
//! | `GET /api/zoom/recordings/{meetingId}/files/{fileId}/download` | [`RecordingsHandler::download`] |
//!
//! A recording is the tenant's when its host is the owner's Zoom user (or the owner has the
//! account-wide role): another owner's recording, file or download is 404. Downloads are served
//! from the recordings bucket through a short-lived presigned URL of an object under the
//! owner's prefix; a file not archived yet is queued for `zoom-recording-archiver` (the job
//! carries the owner) and answered `202` with `Retry-After`. With `?redirect=false` an archived
//! file is answered `200` with the presigned URL as JSON instead of a `302` to it: a script's
//! `fetch` cannot read a redirect's `Location` (the dashboard navigates to the URL itself).

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tokio::time::Instant;
use zoom_shared::archive::{
    ArchiveJob, ArchiveJobs, ArchiveRequest, ArchiveStatus, ArchiveStore, FileLinks,
};
use zoom_shared::clock::now_secs;
use zoom_shared::connections::resolve::OwnerResolver;
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::query;
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::owner::Owner;
use zoom_shared::recordings::files::{download_name, file_kind};
use zoom_shared::recordings::view::RecordingView;
use zoom_shared::recordings::windows::{MAX_RANGE_DAYS, monthly_windows};
use zoom_shared::zoom::api::ZoomApi;
use zoom_shared::zoom::client::meeting_segment;
use zoom_shared::zoom::models::{ZoomRecording, ZoomRecordingPage};

/// Default range of the list, in days back from today.
pub const DEFAULT_DAYS: i64 = 30;
/// Pages read per monthly window at most (300 recordings each); beyond it the answer says
/// `complete: false`.
pub const MAX_PAGES_PER_WINDOW: usize = 50;
/// Lifetime of a presigned download URL.
pub const PRESIGNED_TTL: Duration = Duration::from_secs(300);

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/recordings`
    List,
    /// `GET /api/zoom/recordings/{meetingId}`
    Get,
    /// `GET /api/zoom/recordings/{meetingId}/files/{fileId}/download`
    Download,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([
        (Method::GET, "/api/zoom/recordings", Route::List),
        (Method::GET, "/api/zoom/recordings/{meetingId}", Route::Get),
        (
            Method::GET,
            "/api/zoom/recordings/{meetingId}/files/{fileId}/download",
            Route::Download,
        ),
    ])
}

/// The handler's dependencies, each a port.
pub struct RecordingsHandler<O, A, Z, L, J> {
    /// Who the caller is, as an owner.
    pub owners: O,
    /// Archive records.
    pub archive: A,
    /// Zoom.
    pub zoom: Z,
    /// Links to archived files (the recordings bucket).
    pub links: L,
    /// The archive job queue.
    pub jobs: J,
    /// Caller identity.
    pub caller_auth: CallerAuth,
}

fn store_problem(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e)
}

fn no_recording(meeting: &str) -> ApiError {
    ApiError::NotFound(format!("no recording of meeting {meeting} for this tenant"))
}

/// A meeting id (number) or instance UUID from the path (already decoded once).
fn meeting_param(raw: &str) -> Result<String, ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::Validation(vec![FieldError::new(
            "meetingId",
            "must be a Zoom meeting id or meeting UUID",
        )]))
    }
}

fn file_param(raw: &str) -> Result<String, ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::Validation(vec![FieldError::new(
            "fileId",
            "must be a Zoom recording file id",
        )]))
    }
}

/// `redirect` of a download: absent or `true` answers an archived file with a 302, `false`
/// with the URL as JSON.
fn redirect_param(request: &Request) -> Result<bool, ApiError> {
    match query(request, "redirect").as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::Validation(vec![FieldError::new(
            "redirect",
            "must be true or false",
        )])),
    }
}

fn date_param(request: &Request, name: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = query(request, name)?;
    match NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) => {
            errors.push(FieldError::new(name, "must be a date as yyyy-mm-dd"));
            None
        }
    }
}

impl<O, A, Z, L, J> Handler<Route> for RecordingsHandler<O, A, Z, L, J>
where
    O: OwnerResolver + 'static,
    A: ArchiveStore + 'static,
    Z: ZoomApi + 'static,
    L: FileLinks + 'static,
    J: ArchiveJobs + 'static,
{
    async fn handle(
        &self,
        matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        let caller = self.caller_auth.authenticate(&request)?;
        let deadline = budget(&request);
        let meeting = match matched.route {
            Route::List => None,
            Route::Get | Route::Download => Some(meeting_param(matched.params.get("meetingId")?)?),
        };
        let file = match matched.route {
            Route::Download => Some(file_param(matched.params.get("fileId")?)?),
            _ => None,
        };
        let redirect = match matched.route {
            Route::Download => redirect_param(&request)?,
            _ => true,
        };
        match (meeting, file) {
            (None, _) => self.list(&caller, &request, deadline).await,
            (Some(meeting), None) => {
                let owner = self.owners.resolve(&caller, deadline).await?;
                let recording = self.recording(&owner, &meeting, deadline).await?;
                json(StatusCode::OK, &RecordingView::from_zoom(&recording))
            }
            (Some(meeting), Some(file)) => {
                let owner = self.owners.resolve(&caller, deadline).await?;
                self.download(&owner, &meeting, &file, redirect, deadline)
                    .await
            }
        }
    }
}

impl<O, A, Z, L, J> RecordingsHandler<O, A, Z, L, J>
where
    O: OwnerResolver,
    A: ArchiveStore,
    Z: ZoomApi,
    L: FileLinks,
    J: ArchiveJobs,
{
    /// `GET /api/zoom/recordings?from=&to=`: Zoom's one-month windows, merged newest first.
    async fn list(
        &self,
        caller: &zoom_shared::http::Caller,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        let mut errors = Vec::new();
        let today = Utc::now().date_naive();
        let to = date_param(request, "to", &mut errors).unwrap_or(today);
        let from = date_param(request, "from", &mut errors)
            .unwrap_or(to - chrono::Duration::days(DEFAULT_DAYS));
        if errors.is_empty() && from > to {
            errors.push(FieldError::new("from", "must be on or before to"));
        }
        if errors.is_empty() && (to - from).num_days() > MAX_RANGE_DAYS {
            errors.push(FieldError::new(
                "from",
                format!("the range may span at most {MAX_RANGE_DAYS} days"),
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let owner = &self.owners.resolve(caller, deadline).await?;
        let windows = monthly_windows(from, to);
        let user = owner.zoom_user_segment();
        let mut recordings: Vec<ZoomRecording> = Vec::new();
        let mut complete = true;
        for (start, end) in &windows {
            let mut token = String::new();
            let mut pages = 0;
            loop {
                let path = format!(
                    "/users/{user}/recordings?from={start}&to={end}&page_size=300&next_page_token={token}"
                );
                let page: ZoomRecordingPage = self.zoom.get(owner, &path, deadline).await?;
                recordings.extend(page.meetings);
                token = page.next_page_token;
                pages += 1;
                if token.is_empty() {
                    break;
                }
                if pages >= MAX_PAGES_PER_WINDOW {
                    complete = false;
                    break;
                }
            }
        }
        recordings.retain(|r| owner.owns(&r.host_id));
        recordings.sort_by(|a, b| b.start_time.cmp(&a.start_time));
        recordings.dedup_by(|a, b| a.uuid == b.uuid);
        let views: Vec<RecordingView> = recordings.iter().map(RecordingView::from_zoom).collect();
        json(
            StatusCode::OK,
            &json!({
                "from": from.to_string(), "to": to.to_string(), "recordings": views,
                "total_records": views.len(), "complete": complete,
            }),
        )
    }

    /// One instance's recording, if the owner owns it (hosted by its Zoom user).
    async fn recording(
        &self,
        owner: &Owner,
        meeting: &str,
        deadline: Instant,
    ) -> Result<ZoomRecording, ApiError> {
        let path = format!("/meetings/{}/recordings", meeting_segment(meeting));
        let recording: ZoomRecording = self.zoom.get(owner, &path, deadline).await?;
        if !owner.owns(&recording.host_id) {
            return Err(no_recording(meeting));
        }
        Ok(recording)
    }

    /// `GET …/files/{fileId}/download`: 302 to a presigned URL (200 with it as JSON when
    /// `redirect` is false), or 202 while archiving.
    async fn download(
        &self,
        owner: &Owner,
        meeting: &str,
        file_id: &str,
        redirect: bool,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        // Fast path: the owner's own archive record (its namespace), for a file it owns.
        if let Some(record) = self
            .archive
            .get(owner, file_id)
            .await
            .map_err(store_problem)?
            && record.status == ArchiveStatus::Archived
            && owner.owns(&record.host_id)
            && let Some(key) = &record.s3_key
            && key.starts_with(&owner.object_prefix())
        {
            let url = self
                .links
                .link(
                    key,
                    PRESIGNED_TTL,
                    &download_name(file_id, &record.file_type),
                    file_kind(&record.file_type).0,
                )
                .await
                .map_err(store_problem)?;
            let mut response = if redirect {
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = StatusCode::FOUND;
                response.headers_mut().insert(
                    header::LOCATION,
                    HeaderValue::from_str(&url).map_err(|e| ApiError::Internal(e.to_string()))?,
                );
                response
            } else {
                json(
                    StatusCode::OK,
                    &json!({"status": "ready", "file_id": file_id, "download_url": url, "expires_in": PRESIGNED_TTL.as_secs()}),
                )?
            };
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Ok(response);
        }
        let recording = self.recording(owner, meeting, deadline).await?;
        let file = recording
            .recording_files
            .iter()
            .find(|f| f.id == file_id)
            .ok_or_else(|| ApiError::NotFound(format!("no file {file_id} in that recording")))?;
        let request = ArchiveRequest {
            meeting_uuid: &recording.uuid,
            file_id,
            host_id: &recording.host_id,
            file_type: &file.file_type,
        };
        if self
            .archive
            .request(owner, &request, now_secs())
            .await
            .map_err(store_problem)?
        {
            let job = ArchiveJob {
                owner: owner.clone(),
                meeting_uuid: recording.uuid.clone(),
                file_id: file_id.to_owned(),
            };
            if let Err(e) = self.jobs.queue_archive(&job).await {
                // Leave the record re-requestable: a later call queues it again.
                let _ = self
                    .archive
                    .set(owner, file_id, ArchiveStatus::Failed, None, now_secs())
                    .await;
                return Err(store_problem(e));
            }
        }
        let retry_after = 5 + file.file_size / (50 * 1024 * 1024);
        let mut response = json(
            StatusCode::ACCEPTED,
            &json!({"status": "archiving", "file_id": file_id, "file_size": file.file_size, "retry_after": retry_after}),
        )?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use zoom_shared::archive::fakes::{MemoryArchiveJobs, MemoryLinks};
    use zoom_shared::archive::memory::MemoryArchive;
    use zoom_shared::archive::{ArchiveRecord, object_key};
    use zoom_shared::connections::resolve::fake::FixedOwners;
    use zoom_shared::http::testing;
    use zoom_shared::owner::{Mode, Reach};
    use zoom_shared::zoom::api::fake::FakeZoom;

    type Fixture =
        RecordingsHandler<FixedOwners, MemoryArchive, FakeZoom, MemoryLinks, MemoryArchiveJobs>;

    fn owner(tenant: &str, reach: Reach) -> Owner {
        Owner {
            tenant_id: tenant.into(),
            connection_id: format!("c-{tenant}"),
            account_id: "acct".into(),
            reach,
            mode: Mode::ServerToServer,
            email: None,
        }
    }

    fn user(id: &str) -> Reach {
        Reach::User {
            zoom_user_id: id.into(),
        }
    }

    fn handler() -> Fixture {
        RecordingsHandler {
            owners: FixedOwners::of([
                owner("alice", user("u-alice")),
                owner("bob", user("u-bob")),
                owner("admin", Reach::Account),
            ]),
            archive: MemoryArchive::default(),
            zoom: FakeZoom::default(),
            links: MemoryLinks,
            jobs: MemoryArchiveJobs::default(),
            caller_auth: testing::caller_auth(),
        }
    }

    async fn get(h: &Fixture, tenant: &str, uri: &str) -> (u16, Value) {
        let request = testing::request(tenant, json!({}), Method::GET, uri, None);
        let (status, body, _) = testing::call(&router(), h, request).await;
        (status, body)
    }

    fn recording(host: &str) -> Value {
        json!({"uuid": "inst==", "id": 5, "host_id": host, "topic": "t", "start_time": "2026-11-27T09:00:00Z",
               "recording_files": [{"id": "f1", "file_type": "TRANSCRIPT", "file_size": 10, "download_url": "https://zoom.us/rec/download/f1"}]})
    }

    const DOWNLOAD: &str = "/api/zoom/recordings/inst%3D%3D/files/f1/download";

    #[tokio::test]
    async fn another_users_recording_and_file_are_404_and_nothing_is_queued() {
        let h = handler();
        h.zoom.answer(
            "GET /meetings/inst%3D%3D/recordings",
            Ok(Some(recording("u-bob"))),
        );
        assert_eq!(
            get(&h, "alice", "/api/zoom/recordings/inst%3D%3D").await.0,
            404
        );
        assert_eq!(get(&h, "alice", DOWNLOAD).await.0, 404);
        assert!(h.jobs.jobs.lock().expect("jobs").is_empty());
        let (status, body) = get(&h, "bob", DOWNLOAD).await;
        assert_eq!((status, body["status"].as_str()), (202, Some("archiving")));
        let jobs = h.jobs.jobs.lock().expect("jobs").clone();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].owner.tenant_id, "bob", "the job carries its owner");
    }

    #[tokio::test]
    async fn the_fast_path_presigns_only_the_owners_own_archived_file() {
        let h = handler();
        let bob = owner("bob", user("u-bob"));
        let key = object_key(&bob, "inst==", "f1");
        h.archive.records.lock().expect("records").insert(
            (bob.namespace(), "f1".into()),
            ArchiveRecord {
                status: ArchiveStatus::Archived,
                s3_key: Some(key.clone()),
                size: Some(10),
                host_id: "u-bob".into(),
                file_type: "TRANSCRIPT".into(),
                updated_at: 1,
            },
        );
        let request = testing::request("bob", json!({}), Method::GET, DOWNLOAD, None);
        let (status, _, headers) = testing::call(&router(), &h, request).await;
        assert_eq!(status, 302);
        let location = headers["location"].to_str().expect("location");
        assert!(
            location.contains(&key) && location.ends_with("name=f1.vtt"),
            "{location}"
        );
        // A script asks for the URL as JSON (fetch cannot read a redirect's Location).
        let (status, body) = get(&h, "bob", &format!("{DOWNLOAD}?redirect=false")).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
        assert_eq!(body["download_url"].as_str(), Some(location));
        assert_eq!(body["expires_in"], 300);
        let (status, body) = get(&h, "bob", &format!("{DOWNLOAD}?redirect=maybe")).await;
        assert_eq!(
            (status, body["errors"][0]["field"].as_str()),
            (400, Some("redirect"))
        );
        // Alice asks for the same file id: her namespace has no record, and Zoom says it is bob's.
        h.zoom.answer(
            "GET /meetings/inst%3D%3D/recordings",
            Ok(Some(recording("u-bob"))),
        );
        assert_eq!(get(&h, "alice", DOWNLOAD).await.0, 404);
    }

    #[tokio::test]
    async fn lists_show_only_owned_recordings_and_the_account_role_sees_all() {
        let h = handler();
        let page = json!({"meetings": [recording("u-alice"), {"uuid": "other", "host_id": "u-bob", "start_time": "2026-11-26T09:00:00Z", "recording_files": []}], "next_page_token": ""});
        for who in ["u-alice", "me"] {
            let path = format!(
                "GET /users/{who}/recordings?from=2026-11-01&to=2026-11-27&page_size=300&next_page_token="
            );
            h.zoom.answer(&path, Ok(Some(page.clone())));
        }
        let uri = "/api/zoom/recordings?from=2026-11-01&to=2026-11-27";
        let (status, body) = get(&h, "alice", uri).await;
        assert_eq!(status, 200);
        assert_eq!(body["recordings"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["complete"], true);
        let (_, body) = get(&h, "admin", uri).await;
        assert_eq!(body["recordings"].as_array().map(Vec::len), Some(2));
    }

    #[tokio::test]
    async fn a_list_cut_at_the_page_limit_says_it_is_incomplete() {
        let h = handler();
        let uri = "/api/zoom/recordings?from=2026-11-01&to=2026-11-27";
        // Zoom always has one more page: the list stops at the limit and says so.
        for who in ["u-alice", "me"] {
            for page in 0..=MAX_PAGES_PER_WINDOW {
                let token = if page == 0 {
                    String::new()
                } else {
                    format!("p{page}")
                };
                let path = format!(
                    "GET /users/{who}/recordings?from=2026-11-01&to=2026-11-27&page_size=300&next_page_token={token}"
                );
                let mut one = recording("u-alice");
                one["uuid"] = json!(format!("uuid-{page}"));
                let answer =
                    json!({"meetings": [one], "next_page_token": format!("p{}", page + 1)});
                h.zoom.answer(&path, Ok(Some(answer)));
            }
        }
        let (status, body) = get(&h, "alice", uri).await;
        assert_eq!(status, 200);
        assert_eq!(body["complete"], false, "{body}");
        assert_eq!(
            body["recordings"].as_array().map(Vec::len),
            Some(MAX_PAGES_PER_WINDOW)
        );
    }

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-recordings");
    }

    /// Every event in `events/zoom-recordings/` routes to this function, with authorizer claims.
    #[test]
    fn sample_events_route_to_this_function() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/zoom-recordings");
        let covered = zoom_shared::http::samples::check_dir(dir, &router(), |_| false);
        assert_eq!(covered, router().table().count(), "one event per route");
    }

    #[test]
    fn path_parameters_are_checked() {
        assert!(meeting_param("85746065432").is_ok());
        assert!(meeting_param("/ab//cd==").is_ok());
        assert!(meeting_param("../../etc").is_err());
        assert!(meeting_param("").is_err());
        assert!(file_param("a-b_c1").is_ok());
        assert!(file_param("a/b").is_err());
    }
}
