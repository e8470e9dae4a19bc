//! `POST /api/zoom/meetings` → [`MeetingsHandler::create`]: validated, created at Zoom,
//! stored; safe to retry with an `Idempotency-Key`.
//!
//! With a key (see [`zoom_shared::idempotency`]): the first request's answer is kept 24 hours
//! and replayed for a retry with the same request; the same key with another request is 422;
//! a retry while the first runs is 409. Our Zoom client never sends a create twice on its own;
//! when Zoom's answer to a create is lost, the answer is 502 `zoom-outcome-unknown`, and the
//! retry with the same key reconciles: it looks for the meeting the lost attempt may have
//! created (same topic, start time and type, created since the attempt began) and answers
//! with it instead of creating a second one. Without a key a retry is a new create.

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use tokio::time::Instant;
use zoom_shared::caches::PageCache;
use zoom_shared::clock::now_secs;
use zoom_shared::connections::resolve::OwnerResolver;
use zoom_shared::http::input::{json_body, query};
use zoom_shared::http::{ApiError, json};
use zoom_shared::idempotency::{self, Begin, IdempotencyStore, StoredAnswer};
use zoom_shared::meetings::MeetingStore;
use zoom_shared::meetings::validate;
use zoom_shared::meetings::view::Meeting;
use zoom_shared::owner::Owner;
use zoom_shared::zoom::api::ZoomApi;
use zoom_shared::zoom::client::segment;
use zoom_shared::zoom::models::{ZoomMeeting, ZoomMeetingPage};

use crate::handler::{MeetingsHandler, Who, addressed_user};

/// The idempotency route name of a create.
const ROUTE: &str = "create-meeting";
/// Clock skew allowed between us and Zoom when matching a lost create.
const SKEW_SECS: i64 = 120;

/// What a search for a lost create found.
enum Found {
    /// The meeting it created.
    One(Box<Meeting>),
    /// Nothing: it never took effect.
    None,
    /// More than one candidate: we cannot tell.
    Many,
}

fn created_answer(meeting: &Meeting) -> Result<(Response<Body>, StoredAnswer), ApiError> {
    let body = serde_json::to_string(meeting).map_err(|e| ApiError::Internal(e.to_string()))?;
    let location = format!("/api/zoom/meetings/{}", meeting.id);
    let answer = StoredAnswer {
        status: 201,
        location: Some(location),
        body,
    };
    Ok((replay(&answer)?, answer))
}

/// The HTTP answer of a stored answer.
fn replay(answer: &StoredAnswer) -> Result<Response<Body>, ApiError> {
    let value: Value =
        serde_json::from_str(&answer.body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let status =
        StatusCode::from_u16(answer.status).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = json(status, &value)?;
    if let Some(location) = answer
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn epoch(rfc3339: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339?)
        .ok()
        .map(|t| t.timestamp())
}

impl<O, M, P, Z, I> MeetingsHandler<O, M, P, Z, I>
where
    O: OwnerResolver,
    M: MeetingStore,
    P: PageCache,
    Z: ZoomApi,
    I: IdempotencyStore,
{
    /// `POST /api/zoom/meetings`.
    pub(crate) async fn create(
        &self,
        (caller, deadline): Who<'_>,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let body: Value = json_body(request, validate::MAX_BODY_BYTES)?;
        let zoom_body = validate::meeting_body(&body, false).map_err(ApiError::Validation)?;
        let user = validate::user_id(query(request, "user_id").as_deref())
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let key = idempotency::key_of(request)?;
        let owner = &self.owners.resolve(caller, deadline).await?;
        let user = addressed_user(owner, Some(&user))?;
        let Some(key) = key else {
            let meeting = self
                .create_at_zoom(owner, &user, &zoom_body, deadline)
                .await?;
            return created_answer(&meeting).map(|(response, _)| response);
        };
        let fingerprint = idempotency::fingerprint(request);
        let begin = self
            .idempotency
            .begin(owner, ROUTE, &key, &fingerprint, now_secs())
            .await?;
        let claim = match begin {
            Begin::Replay(answer) => {
                self.metrics.count("IdempotentReplay", 1.0, &[]);
                return replay(&answer);
            }
            Begin::New { claim } => claim,
            Begin::Unknown { claim, started_at } => {
                match self
                    .find_created(owner, &user, &zoom_body, started_at, deadline)
                    .await?
                {
                    Found::One(meeting) => {
                        tracing::info!("a lost create was found at Zoom; answered with it");
                        self.remember(owner, &meeting).await;
                        return self.finish(owner, &key, &claim, &meeting).await;
                    }
                    Found::None => claim,
                    Found::Many => {
                        return Err(ApiError::Conflict(
                            "the first request with this Idempotency-Key may have created a meeting, and several match it; list the meetings to find it".into(),
                        ));
                    }
                }
            }
            other => {
                return Err(idempotency::refusal(&other)
                    .unwrap_or_else(|| ApiError::Internal("unexpected idempotency state".into())));
            }
        };
        // From here on the create may reach Zoom: a lost answer is "unknown", not "retry".
        self.idempotency.sending(owner, ROUTE, &key, &claim).await?;
        match self
            .create_at_zoom(owner, &user, &zoom_body, deadline)
            .await
        {
            Ok(meeting) => self.finish(owner, &key, &claim, &meeting).await,
            Err(error @ ApiError::OutcomeUnknown(_)) => {
                if let Err(e) = self.idempotency.unknown(owner, ROUTE, &key, &claim).await {
                    tracing::warn!(error = %e, "idempotency record not updated; a retry reconciles anyway once the claim expires");
                }
                Err(error)
            }
            Err(error) => {
                // Zoom refused (or was never reached): nothing was created, a retry runs anew.
                if let Err(e) = self.idempotency.release(owner, ROUTE, &key, &claim).await {
                    tracing::warn!(error = %e, "idempotency claim not released; it expires");
                }
                Err(error)
            }
        }
    }

    /// Stores the answer for replay (best-effort: the meeting exists at Zoom, and a retry
    /// finds it) and answers it.
    async fn finish(
        &self,
        owner: &Owner,
        key: &str,
        claim: &str,
        meeting: &Meeting,
    ) -> Result<Response<Body>, ApiError> {
        let (response, answer) = created_answer(meeting)?;
        if let Err(e) = self
            .idempotency
            .finish(owner, ROUTE, key, claim, &answer)
            .await
        {
            tracing::warn!(error = %e, "idempotent answer not stored; a retry reconciles with Zoom");
            self.metrics.count("IdempotencyStoreFailed", 1.0, &[]);
        }
        Ok(response)
    }

    /// Creates the meeting at Zoom and remembers it.
    async fn create_at_zoom(
        &self,
        owner: &Owner,
        user: &str,
        zoom_body: &Value,
        deadline: Instant,
    ) -> Result<Meeting, ApiError> {
        let path = format!("/users/{}/meetings", segment(user));
        let created: ZoomMeeting = self
            .zoom
            .send(owner, Method::POST, &path, Some(zoom_body), deadline)
            .await?
            .ok_or_else(|| ApiError::BadGateway("Zoom answered with no body".into()))?;
        let meeting = Meeting::from_zoom(&created);
        if owner.owns(&meeting.host_id) {
            self.remember(owner, &meeting).await;
        }
        self.metrics.count("MeetingCreated", 1.0, &[]);
        Ok(meeting)
    }

    /// Looks at Zoom for the meeting a lost create made: the user's scheduled meetings with the
    /// same topic, type and start time, created since the attempt began.
    async fn find_created(
        &self,
        owner: &Owner,
        user: &str,
        zoom_body: &Value,
        started_at: i64,
        deadline: Instant,
    ) -> Result<Found, ApiError> {
        let path = format!(
            "/users/{}/meetings?type=scheduled&page_size=300",
            segment(user)
        );
        let page: ZoomMeetingPage = self.zoom.get(owner, &path, deadline).await?;
        let topic = zoom_body["topic"].as_str().unwrap_or_default();
        let start = epoch(zoom_body["start_time"].as_str());
        let kind = zoom_body["type"].as_i64().unwrap_or(2);
        let mut matches: Vec<Meeting> = page
            .meetings
            .iter()
            .filter(|m| m.topic == topic && m.meeting_type == kind)
            .filter(|m| start.is_none() || epoch(m.start_time.as_deref()) == start)
            .filter(|m| epoch(m.created_at.as_deref()).is_none_or(|c| c >= started_at - SKEW_SECS))
            .map(Meeting::from_zoom)
            .filter(|m| owner.owns(&m.host_id))
            .collect();
        Ok(match matches.len() {
            0 => Found::None,
            1 => Found::One(Box::new(matches.remove(0))),
            _ => Found::Many,
        })
    }
}

#[cfg(test)]
mod tests {
    use zoom_shared::meetings::validate;

    /// The `Timezone` enum of docs/openapi.yaml is exactly the names `timezone` accepts.
    #[test]
    fn documented_timezones_are_the_accepted_ones() {
        let documented =
            zoom_shared::http::openapi::documented_enum(&["components", "schemas", "Timezone"]);
        let accepted: Vec<String> = validate::timezone_names().map(str::to_owned).collect();
        assert_eq!(documented, accepted);
    }
}
