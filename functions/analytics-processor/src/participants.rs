//! The participant events of one meeting group of a batch, recorded together: for each owner
//! of the host, one write per chunk of their points ([`zoom_shared::analytics::chunks`]: a
//! unit per kilobyte, not per event), then one read of the instance's settle state, so a
//! meeting's participants cost the same per event whether a batch brings one of them or a
//! hundred. Everything else in the group still runs message by message, in order, after them.

use aws_lambda_events::event::sqs::SqsMessage;
use std::collections::BTreeMap;
use std::time::Instant;
use zoom_shared::analytics::chunks::{Delivered, tag};
use zoom_shared::analytics::event::{Parsed, ZoomEvent};
use zoom_shared::analytics::store::AnalyticsWriter;
use zoom_shared::analytics::timeline::Point;
use zoom_shared::clock::now_secs;

use crate::backoff::RESERVE;
use crate::delivery::{Delivery, attribute, dedup_key, event_name};
use crate::failure::{Failure, store};
use crate::ownership::OwnersMemo;
use crate::processor::Processor;

/// Participant events with their points, by (account, instance uuid, host).
type ByInstance<'a> = BTreeMap<(&'a str, &'a str, &'a str), Vec<(&'a Participation, Point)>>;

/// A participant event that can be recorded with its group.
pub struct Participation {
    /// Its message.
    pub message: SqsMessage,
    /// Its delivery's dedup key.
    pub dedup: String,
    /// The event.
    pub parsed: Parsed,
}

impl Participation {
    /// The point the event leaves on its instance, and the instance's uuid and host.
    fn point(&self) -> Option<(&str, &str, Point)> {
        match &self.parsed.event {
            ZoomEvent::Joined(i, p, at) | ZoomEvent::Left(i, p, at) => Some((
                i.uuid.as_str(),
                i.host_id.as_str(),
                Point {
                    at: at.timestamp(),
                    participant: p.key.clone(),
                    join: matches!(self.parsed.event, ZoomEvent::Joined(..)),
                },
            )),
            _ => None,
        }
    }
}

/// Splits a group into the participant events recorded together (signed, carried in the
/// message itself: [`Delivery::of`] reads no other) and the rest, which keep their order.
pub fn participations(group: Vec<Delivery>) -> (Vec<Participation>, Vec<Delivery>) {
    let (mut together, mut rest) = (Vec::new(), Vec::new());
    for delivery in group {
        let eligible =
            attribute(&delivery.message, "authenticated_by") != Some("verification_token")
                && delivery.parsed.as_ref().is_some_and(|p| {
                    matches!(p.event, ZoomEvent::Joined(..) | ZoomEvent::Left(..))
                });
        match delivery {
            Delivery {
                message,
                parsed: Some(parsed),
            } if eligible => {
                let dedup = dedup_key(&message, message.body.as_deref().unwrap_or_default());
                together.push(Participation {
                    message,
                    dedup,
                    parsed,
                });
            }
            delivery => rest.push(delivery),
        }
    }
    (together, rest)
}

impl Processor {
    /// Records `together` (one meeting group's participant events) for every owner of their
    /// host; an error fails them all (a redelivery records again what was already stored as
    /// duplicates, never twice).
    pub async fn participants(
        &self,
        together: &[Participation],
        memo: &OwnersMemo,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let mut by_instance: ByInstance<'_> = BTreeMap::new();
        for p in together {
            if let Some((uuid, host, point)) = p.point() {
                by_instance
                    .entry((p.parsed.account_id.as_str(), uuid, host))
                    .or_default()
                    .push((p, point));
            }
        }
        // The first write always runs, so a group started late still makes progress.
        let mut wrote = false;
        for ((account, uuid, host), events) in by_instance {
            let owners = memo.owners(&self.connections, account, host).await?;
            if owners.is_empty() {
                for (p, _) in &events {
                    self.dropped(&p.parsed.event, "no_owner");
                }
                continue;
            }
            let points: Vec<Delivered> = events
                .iter()
                .map(|(p, point)| Delivered {
                    tag: tag(&p.dedup),
                    point: point.clone(),
                })
                .collect();
            for owner in &owners {
                if wrote && Instant::now() + RESERVE >= deadline {
                    // Left for redelivery rather than cut off by the timeout with the rest of
                    // the batch; what was written counts once when it comes again.
                    return Err(Failure::Retry(
                        "the deadline came before every owner's points were recorded".into(),
                    ));
                }
                let new = self
                    .analytics
                    .record_points(owner, uuid, &points, now_secs())
                    .await
                    .map_err(store)?;
                wrote = true;
                let duplicates = points.len().saturating_sub(new);
                if duplicates > 0 {
                    self.metrics.count("EventDuplicate", duplicates as f64, &[]);
                }
                if new > 0 {
                    for (p, _) in &events {
                        self.crash_after_record(&p.parsed);
                    }
                }
                self.settle_after_points(owner, uuid).await?;
                for (p, _) in &events {
                    self.metrics.count(
                        "EventProcessed",
                        1.0,
                        &[("Event", event_name(&p.parsed.event))],
                    );
                }
            }
            for (p, _) in &events {
                self.lag(&p.parsed);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use zoom_shared::analytics::jobs::JOB_ATTRIBUTE;

    fn message(body: &str, attributes: &[(&str, &str)]) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.body = Some(body.to_owned());
        let mut map = HashMap::new();
        for (k, v) in attributes {
            let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
            attribute.string_value = Some((*v).to_owned());
            attribute.data_type = Some("String".to_owned());
            map.insert((*k).to_owned(), attribute);
        }
        m.message_attributes = map;
        m
    }

    fn participant(event: &str, id: &str) -> String {
        serde_json::json!({
            "event": event,
            "event_ts": 1_700_000_000_000_i64,
            "payload": {"account_id": "acct", "object": {
                "id": "85746065432", "uuid": "u-1", "host_id": "h1", "topic": "t",
                "start_time": "2026-12-01T10:00:00Z",
                "participant": {"participant_uuid": id, "user_name": "n",
                    "join_time": "2026-12-01T10:01:00Z", "leave_time": "2026-12-01T10:02:00Z"}
            }}
        })
        .to_string()
    }

    #[test]
    fn only_signed_participant_events_in_the_message_itself_are_recorded_together() {
        let ended = serde_json::json!({
            "event": "meeting.ended", "event_ts": 1,
            "payload": {"account_id": "acct", "object": {"id": "1", "uuid": "u-1",
                "host_id": "h1", "topic": "t", "start_time": "2026-12-01T10:00:00Z",
                "end_time": "2026-12-01T11:00:00Z"}}
        })
        .to_string();
        let group = vec![
            message(&participant("meeting.participant_joined", "p1"), &[]),
            message(&ended, &[]),
            message(&participant("meeting.participant_left", "p1"), &[]),
            message(
                &participant("meeting.participant_joined", "p2"),
                &[("authenticated_by", "verification_token")],
            ),
            message(
                &participant("meeting.participant_joined", "p3"),
                &[("claim_check", "webhooks/x.json")],
            ),
            message(
                &participant("meeting.participant_joined", "p4"),
                &[(JOB_ATTRIBUTE, "settle")],
            ),
            message("not json", &[]),
        ];
        let (together, rest) = participations(group.into_iter().map(Delivery::of).collect());
        assert_eq!(together.len(), 2);
        assert!(together.iter().all(|p| p.point().is_some()));
        assert_eq!(
            rest.len(),
            5,
            "the rest keep their order and are run one by one"
        );
        assert_eq!(rest[0].message.body.as_deref(), Some(ended.as_str()));
        assert!(rest[0].parsed.is_some(), "read once, kept for its run");
        assert!(
            rest[2].parsed.is_none(),
            "a spooled body is read from the spool"
        );
        assert_eq!(rest[4].message.body.as_deref(), Some("not json"));
    }
}
