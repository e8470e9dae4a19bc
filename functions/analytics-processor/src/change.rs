//! What one meeting event changes for its instance (pure): the new figures from the whole
//! timeline, and the counter increments against what was stored.

use zoom_shared::analytics::event::{Instance, ZoomEvent};
use zoom_shared::analytics::store::{Counters, InstanceChange, InstanceMeta};
use zoom_shared::analytics::timeline::{Point, figures};

/// The instance an event concerns, for meeting life and participant events.
pub fn instance_of(event: &ZoomEvent) -> Option<&Instance> {
    match event {
        ZoomEvent::Started(i)
        | ZoomEvent::Ended(i, _)
        | ZoomEvent::Joined(i, _, _)
        | ZoomEvent::Left(i, _, _) => Some(i),
        _ => None,
    }
}

/// The change `event` (delivered as `dedup`) makes, given the stored `meta` and `points`.
pub fn change(
    event: &ZoomEvent,
    dedup: &str,
    meta: Option<&InstanceMeta>,
    mut points: Vec<Point>,
) -> Option<InstanceChange> {
    let instance = instance_of(event)?.clone();
    let stored = meta.cloned().unwrap_or_default();
    let point = match event {
        ZoomEvent::Joined(_, p, at) => Some(Point {
            at: at.timestamp(),
            participant: p.key.clone(),
            join: true,
        }),
        ZoomEvent::Left(_, p, at) => Some(Point {
            at: at.timestamp(),
            participant: p.key.clone(),
            join: false,
        }),
        _ => None,
    };
    if let Some(p) = &point {
        points.push(p.clone());
    }
    let end = match event {
        ZoomEvent::Ended(_, end) => Some(end.timestamp()),
        _ => stored.end,
    };
    let new = figures(&points, end);
    let started_now = matches!(event, ZoomEvent::Started(_)) && !stored.started_counted;
    let ended_now = matches!(event, ZoomEvent::Ended(_, _)) && !stored.ended_counted;
    let minutes = match (ended_now, end) {
        (true, Some(end)) => ((end - instance.start_time.timestamp()).max(0) + 30) / 60,
        _ => 0,
    };
    Some(InstanceChange {
        expected_version: meta.map(|m| m.version),
        point: point.map(|p| (dedup.to_owned(), p)),
        figures: new,
        end,
        add: Counters {
            meetings_started: i64::from(started_now),
            meetings_completed: i64::from(ended_now),
            meeting_minutes: minutes,
            participant_joins: new.joins - stored.figures.joins,
            participant_seconds: new.participant_seconds - stored.figures.participant_seconds,
        },
        started_counted: stored.started_counted || matches!(event, ZoomEvent::Started(_)),
        ended_counted: stored.ended_counted || matches!(event, ZoomEvent::Ended(_, _)),
        instance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use zoom_shared::analytics::event::Participant;
    use zoom_shared::analytics::timeline::Figures;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("t")
            .with_timezone(&Utc)
    }

    fn instance() -> Instance {
        Instance {
            meeting_id: 1,
            uuid: "u".into(),
            host_id: "h".into(),
            topic: "t".into(),
            start_time: at("2026-11-27T09:00:00Z"),
        }
    }

    /// Applies a change to a stored state, as the transaction would.
    fn apply(
        meta: Option<InstanceMeta>,
        points: &mut Vec<Point>,
        c: &InstanceChange,
    ) -> InstanceMeta {
        if let Some((_, p)) = &c.point {
            points.push(p.clone());
        }
        InstanceMeta {
            version: meta.map(|m| m.version).unwrap_or(0) + 1,
            figures: c.figures,
            end: c.end,
            started_counted: c.started_counted,
            ended_counted: c.ended_counted,
        }
    }

    #[test]
    fn a_meeting_in_any_order_sums_to_the_same_counters() {
        let p = |k: &str| Participant { key: k.into() };
        let events = [
            ZoomEvent::Started(instance()),
            ZoomEvent::Joined(instance(), p("a"), at("2026-11-27T09:00:00Z")),
            ZoomEvent::Joined(instance(), p("b"), at("2026-11-27T09:10:00Z")),
            ZoomEvent::Left(instance(), p("a"), at("2026-11-27T09:30:00Z")),
            ZoomEvent::Left(instance(), p("b"), at("2026-11-27T09:40:00Z")),
            ZoomEvent::Ended(instance(), at("2026-11-27T09:45:00Z")),
        ];
        let run = |order: &[usize]| {
            let (mut meta, mut points, mut total) = (None, Vec::new(), Counters::default());
            for (n, i) in order.iter().enumerate() {
                let c = change(&events[*i], &format!("d{n}"), meta.as_ref(), points.clone())
                    .expect("meeting event");
                total.meetings_started += c.add.meetings_started;
                total.meetings_completed += c.add.meetings_completed;
                total.meeting_minutes += c.add.meeting_minutes;
                total.participant_joins += c.add.participant_joins;
                total.participant_seconds += c.add.participant_seconds;
                meta = Some(apply(meta, &mut points, &c));
            }
            (total, meta.map(|m| m.figures))
        };
        let expected = Counters {
            meetings_started: 1,
            meetings_completed: 1,
            meeting_minutes: 45,
            participant_joins: 2,
            participant_seconds: 60 * 60,
        };
        let in_order = run(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(in_order.0, expected);
        assert_eq!(
            in_order.1,
            Some(Figures {
                peak: 2,
                participant_seconds: 3600,
                joins: 2
            })
        );
        for order in [[5, 4, 3, 2, 1, 0], [3, 5, 1, 0, 4, 2], [4, 2, 5, 3, 0, 1]] {
            assert_eq!(run(&order), in_order, "{order:?}");
        }
    }

    #[test]
    fn a_second_started_event_is_not_counted_again() {
        let c1 = change(&ZoomEvent::Started(instance()), "d1", None, vec![]).expect("c");
        let meta = InstanceMeta {
            version: 1,
            started_counted: true,
            ..InstanceMeta::default()
        };
        let c2 = change(&ZoomEvent::Started(instance()), "d2", Some(&meta), vec![]).expect("c");
        assert_eq!((c1.add.meetings_started, c2.add.meetings_started), (1, 0));
        assert!(
            change(
                &ZoomEvent::Deleted {
                    meeting_id: 1,
                    host_id: "h".into(),
                    single_occurrence: false
                },
                "d",
                None,
                vec![]
            )
            .is_none()
        );
    }
}
