//! Routes of `zoom-recordings`.
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/zoom/recordings` | [`RecordingsHandler::list`] |
//! | `GET /api/zoom/recordings/{meetingId}` | [`RecordingsHandler::get`] |
//! | `GET /api/zoom/recordings/{meetingId}/files/{fileId}/download` | [`RecordingsHandler::download`] |
//!
//! Downloads are served from the recordings bucket through a short-lived presigned URL; a
//! file not archived yet is queued for `zoom-recording-archiver` and answered `202` with
//! `Retry-After`.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tokio::time::Instant;
use zoom_shared::aws::{Bucket, Queue};
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::query;
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::recordings::archive::{ArchiveJob, ArchiveStatus};
use zoom_shared::recordings::view::RecordingView;
use zoom_shared::recordings::windows::{MAX_RANGE_DAYS, monthly_windows};
use zoom_shared::tokens::provider::now_secs;
use zoom_shared::zoom::access::ZoomAccess;
use zoom_shared::zoom::client::{meeting_segment, with_token};
use zoom_shared::zoom::models::{ZoomRecording, ZoomRecordingPage};

/// Default range of the list, in days back from today.
pub const DEFAULT_DAYS: i64 = 30;
/// Pages read per monthly window at most.
pub const MAX_PAGES_PER_WINDOW: usize = 10;
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

/// The handler's dependencies.
pub struct RecordingsHandler {
    /// Zoom access.
    pub zoom: ZoomAccess,
    /// The recordings bucket.
    pub bucket: Bucket,
    /// The archive job queue.
    pub archive_queue: Queue,
    /// Caller identity.
    pub caller_auth: CallerAuth,
}

fn store_problem(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e)
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

impl Handler<Route> for RecordingsHandler {
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
                let meeting = meeting_param(matched.params.get("meetingId")?)?;
                let recording = self
                    .recording(&caller.tenant_id, &meeting, deadline)
                    .await?;
                json(StatusCode::OK, &RecordingView::from_zoom(&recording))
            }
            Route::Download => {
                let meeting = meeting_param(matched.params.get("meetingId")?)?;
                let file = file_param(matched.params.get("fileId")?)?;
                self.download(&caller.tenant_id, &meeting, &file, deadline)
                    .await
            }
        }
    }
}

impl RecordingsHandler {
    /// `GET /api/zoom/recordings?from=&to=`: Zoom's one-month windows, merged newest first.
    async fn list(
        &self,
        tenant: &str,
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
        let windows = monthly_windows(from, to);
        let mut recordings: Vec<ZoomRecording> = Vec::new();
        for (start, end) in &windows {
            let mut token = String::new();
            for _ in 0..MAX_PAGES_PER_WINDOW {
                let path = format!(
                    "/users/me/recordings?from={start}&to={end}&page_size=300&next_page_token={token}"
                );
                let page: ZoomRecordingPage = with_token(&self.zoom.tokens, tenant, |credential| {
                    let (client, path) = (&self.zoom.client, path.clone());
                    async move { client.get(&credential, &path, deadline).await }
                })
                .await?;
                recordings.extend(page.meetings);
                token = page.next_page_token;
                if token.is_empty() {
                    break;
                }
            }
        }
        recordings.sort_by(|a, b| b.start_time.cmp(&a.start_time));
        recordings.dedup_by(|a, b| a.uuid == b.uuid);
        let views: Vec<RecordingView> = recordings.iter().map(RecordingView::from_zoom).collect();
        json(
            StatusCode::OK,
            &json!({"from": from.to_string(), "to": to.to_string(), "recordings": views, "total_records": views.len()}),
        )
    }

    /// One instance's recording, if the tenant may see it (hosted by its Zoom user).
    async fn recording(
        &self,
        tenant: &str,
        meeting: &str,
        deadline: Instant,
    ) -> Result<ZoomRecording, ApiError> {
        let owner = self.zoom.owner(tenant).await?;
        let path = format!("/meetings/{}/recordings", meeting_segment(meeting));
        let recording: ZoomRecording = with_token(&self.zoom.tokens, tenant, |credential| {
            let (client, path) = (&self.zoom.client, path.clone());
            async move { client.get(&credential, &path, deadline).await }
        })
        .await?;
        if !owner.owns(&recording.host_id) {
            return Err(ApiError::NotFound(format!(
                "no recording of meeting {meeting} for this tenant"
            )));
        }
        Ok(recording)
    }

    /// `GET …/files/{fileId}/download`: 302 to a presigned URL, or 202 while archiving.
    async fn download(
        &self,
        tenant: &str,
        meeting: &str,
        file_id: &str,
        deadline: Instant,
    ) -> Result<Response<Body>, ApiError> {
        if let Some(record) = self
            .zoom
            .table
            .get_archive(tenant, file_id)
            .await
            .map_err(store_problem)?
            && record.status == ArchiveStatus::Archived
            && let Some(key) = &record.s3_key
        {
            let url = self
                .bucket
                .presigned_get(key, PRESIGNED_TTL, &format!("{file_id}.bin"))
                .await
                .map_err(store_problem)?;
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::FOUND;
            let headers = response.headers_mut();
            headers.insert(
                header::LOCATION,
                HeaderValue::from_str(&url).map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Ok(response);
        }
        let recording = self.recording(tenant, meeting, deadline).await?;
        let file = recording
            .recording_files
            .iter()
            .find(|f| f.id == file_id)
            .ok_or_else(|| ApiError::NotFound(format!("no file {file_id} in that recording")))?;
        if self
            .zoom
            .table
            .request_archive(tenant, &recording.uuid, file_id, now_secs())
            .await
            .map_err(store_problem)?
        {
            let job = ArchiveJob {
                tenant_id: tenant.to_owned(),
                meeting_uuid: recording.uuid.clone(),
                file_id: file_id.to_owned(),
            };
            if let Err(e) = self
                .archive_queue
                .send_json(&job, &[("job", "archive")])
                .await
            {
                // Leave the record re-requestable: a later call queues it again.
                let _ = self
                    .zoom
                    .table
                    .set_archive(tenant, file_id, ArchiveStatus::Failed, None, now_secs())
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
