//! `GET /api/zoom/analytics/meetings` → [`AnalyticsHandler::meetings`]:
//! `?from=&to=` (dates; default the last 30 days; at most 366 days), optional `host_id`.
//! Answers `{summary, daily, top_hosts, recent_meetings}` from the per-day aggregates: the
//! cost grows with days (one query per kind), not with events, and Zoom is never called. Only
//! the caller's own connection's figures are read (its namespace); an unconnected tenant is
//! 409 like on every other route.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use zoom_shared::analytics::store::{AnalyticsReader, DayFigures};
use zoom_shared::connections::resolve::OwnerResolver;
use zoom_shared::http::deadline::budget;
use zoom_shared::http::input::query;
use zoom_shared::http::serve::Handler;
use zoom_shared::http::{ApiError, CallerAuth, FieldError, Matched, Router, json};
use zoom_shared::owner::Owner;

/// Longest range, in days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Default range, in days back from today.
pub const DEFAULT_DAYS: i64 = 30;
/// Hosts listed in `top_hosts`.
pub const TOP_HOSTS: usize = 5;
/// Meetings listed in `recent_meetings`.
pub const RECENT: i32 = 10;

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/zoom/analytics/meetings`
    Meetings,
}

/// The route table.
pub fn router() -> Router<Route> {
    Router::new([(Method::GET, "/api/zoom/analytics/meetings", Route::Meetings)])
}

/// The handler's dependencies, each a port.
pub struct AnalyticsHandler<O, R> {
    /// Who the caller is, as an owner.
    pub owners: O,
    /// The aggregates.
    pub analytics: R,
    /// Caller identity.
    pub caller_auth: CallerAuth,
}

fn store_problem(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(e)
}

/// Parses and checks the range and host filter.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    host: Option<&str>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let mut date = |name: &str, raw: Option<&str>| {
        raw.map(|r| {
            NaiveDate::parse_from_str(r, "%Y-%m-%d")
                .map_err(|_| errors.push(FieldError::new(name, "must be a date as yyyy-mm-dd")))
                .ok()
        })
        .unwrap_or(None)
    };
    let to_date = date("to", to);
    let from_date = date("from", from);
    let to = to_date.unwrap_or(today);
    let from = from_date.unwrap_or(to - chrono::Duration::days(DEFAULT_DAYS));
    if errors.is_empty() && from > to {
        errors.push(FieldError::new("from", "must be on or before to"));
    }
    if errors.is_empty() && (to - from).num_days() > MAX_RANGE_DAYS {
        errors.push(FieldError::new(
            "from",
            format!("the range may span at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let host = match host {
        None | Some("") => None,
        Some(h)
            if h.len() <= 64
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) =>
        {
            Some(h.to_owned())
        }
        Some(_) => {
            errors.push(FieldError::new("host_id", "must be a Zoom user id"));
            None
        }
    };
    if errors.is_empty() {
        Ok((from, to, host))
    } else {
        Err(ApiError::Validation(errors))
    }
}

impl<O: OwnerResolver + 'static, R: AnalyticsReader + 'static> Handler<Route>
    for AnalyticsHandler<O, R>
{
    async fn handle(
        &self,
        _matched: Matched<Route>,
        request: Request,
    ) -> Result<Response<Body>, ApiError> {
        let caller = self.caller_auth.authenticate(&request)?;
        let (from, to, host) = range(
            query(&request, "from").as_deref(),
            query(&request, "to").as_deref(),
            query(&request, "host_id").as_deref(),
            Utc::now().date_naive(),
        )?;
        let owner = self.owners.resolve(&caller, budget(&request)).await?;
        self.meetings(&owner, from, to, host).await
    }
}

impl<O: OwnerResolver, R: AnalyticsReader> AnalyticsHandler<O, R> {
    /// The analytics of an owner over a range.
    pub async fn meetings(
        &self,
        owner: &Owner,
        from: NaiveDate,
        to: NaiveDate,
        host: Option<String>,
    ) -> Result<Response<Body>, ApiError> {
        // The days are read before the host-days: both only grow as meetings settle, so the
        // hosts shown are never older than the summary (read the other way round, a settle
        // landing between the two reads showed a summary ahead of its hosts).
        let days = match &host {
            Some(_) => None,
            None => Some(
                self.analytics
                    .days(owner, from, to)
                    .await
                    .map_err(store_problem)?,
            ),
        };
        let host_days = self
            .analytics
            .host_days(owner, from, to)
            .await
            .map_err(store_problem)?;
        let stored_days = days.unwrap_or_else(|| {
            host_days
                .iter()
                .filter(|d| d.host_id == host)
                .cloned()
                .collect()
        });
        let by_date: BTreeMap<&str, &DayFigures> =
            stored_days.iter().map(|d| (d.date.as_str(), d)).collect();
        let mut daily = Vec::new();
        let mut summary = DayFigures::default();
        let mut day = from;
        while day <= to {
            let date = day.to_string();
            let mut figures = by_date
                .get(date.as_str())
                .map(|d| (*d).clone())
                .unwrap_or_default();
            figures.date = date;
            figures.host_id = None;
            figures.finish();
            summary.absorb(&figures);
            daily.push(figures);
            day = day.succ_opt().unwrap_or(to + chrono::Duration::days(1));
        }
        let mut hosts: BTreeMap<String, DayFigures> = BTreeMap::new();
        for d in &host_days {
            let id = d.host_id.clone().unwrap_or_default();
            if host.as_ref().is_some_and(|h| h != &id) {
                continue;
            }
            hosts
                .entry(id.clone())
                .or_insert_with(|| DayFigures {
                    host_id: Some(id),
                    ..DayFigures::default()
                })
                .absorb(d);
        }
        let mut top: Vec<DayFigures> = hosts.into_values().collect();
        top.sort_by(|a, b| {
            (
                b.meetings_completed,
                b.total_meeting_minutes,
                b.meetings_started,
            )
                .cmp(&(
                    a.meetings_completed,
                    a.total_meeting_minutes,
                    a.meetings_started,
                ))
        });
        top.truncate(TOP_HOSTS);
        let mut recent = self
            .analytics
            .recent_meetings(owner, from, to, RECENT * 5)
            .await
            .map_err(store_problem)?;
        if let Some(h) = &host {
            recent.retain(|m| m["host_id"] == h.as_str());
        }
        recent.truncate(RECENT as usize);
        let mut summary =
            serde_json::to_value(&summary).map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(obj) = summary.as_object_mut() {
            obj.remove("date");
        }
        json(
            StatusCode::OK,
            &json!({
                "from": from.to_string(), "to": to.to_string(), "host_id": host,
                "summary": summary, "daily": daily, "top_hosts": top, "recent_meetings": recent,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use zoom_shared::analytics::memory::MemoryAnalytics;
    use zoom_shared::connections::resolve::fake::FixedOwners;
    use zoom_shared::http::testing;
    use zoom_shared::owner::{Mode, Reach};

    fn owner(tenant: &str) -> Owner {
        Owner {
            tenant_id: tenant.into(),
            connection_id: format!("c-{tenant}"),
            account_id: "acct".into(),
            reach: Reach::User {
                zoom_user_id: format!("u-{tenant}"),
            },
            mode: Mode::UserOAuth,
            email: None,
        }
    }

    #[tokio::test]
    async fn a_tenant_reads_only_its_own_figures() {
        let h = AnalyticsHandler {
            owners: FixedOwners::of([owner("alice"), owner("bob")]),
            analytics: MemoryAnalytics::default(),
            caller_auth: testing::caller_auth(),
        };
        let today = Utc::now().date_naive().to_string();
        h.analytics.days.lock().expect("days").insert(
            owner("alice").namespace(),
            vec![DayFigures {
                date: today.clone(),
                meetings_started: 3,
                ..DayFigures::default()
            }],
        );
        let get = |tenant: &str| {
            testing::request(
                tenant,
                json!({}),
                Method::GET,
                "/api/zoom/analytics/meetings",
                None,
            )
        };
        let (status, body, _) = testing::call(&router(), &h, get("alice")).await;
        assert_eq!(
            (status, body["summary"]["meetings_started"].as_i64()),
            (200, Some(3))
        );
        let (status, body, _) = testing::call(&router(), &h, get("bob")).await;
        assert_eq!(
            (status, body["summary"]["meetings_started"].as_i64()),
            (200, Some(0))
        );
        let (status, body, _): (u16, Value, _) = testing::call(&router(), &h, get("mallory")).await;
        assert_eq!(status, 409, "{body}");
    }

    /// The route table is exactly what `docs/openapi.yaml` documents for this function.
    #[test]
    fn routes_are_documented() {
        zoom_shared::http::openapi::assert_documented(&router(), "zoom-analytics");
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).expect("date")
    }

    #[test]
    fn defaults_and_limits() {
        let (from, to, host) = range(None, None, None, today()).expect("ok");
        assert_eq!((to - from).num_days(), DEFAULT_DAYS);
        assert!(host.is_none());
        assert!(
            range(Some("2025-01-01"), Some("2026-11-27"), None, today()).is_err(),
            "over 366 days"
        );
        assert!(range(Some("2026-11-28"), Some("2026-11-27"), None, today()).is_err());
        assert!(range(Some("27/11/2026"), None, None, today()).is_err());
        assert!(range(None, None, Some("../x"), today()).is_err());
        assert!(
            range(Some("2025-11-27"), Some("2026-11-27"), Some("h-1"), today()).is_ok(),
            "365 days"
        );
    }
}
