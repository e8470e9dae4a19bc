//! Settling a meeting instance (pure): what the instance contributes to its day, computed once
//! from everything it recorded, and what changes on the day when that contribution moves.
//!
//! Events only record; a meeting's figures are worked out when it *settles*, a short delay
//! after `meeting.ended` (and again if a participant event arrives after that). A settle reads
//! the instance once, so the work for a meeting is linear in its size whatever the order its
//! events arrived in, and the day items are written once per settle instead of once per event.

use std::collections::BTreeMap;

use super::timeline::{Point, figures};

/// Peaks kept per day item: the day's highest meetings (see [`Peaks`]).
pub const PEAKS_KEPT: usize = 8;

/// What one instance adds to its day and its host's day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contribution {
    /// 1 when `meeting.started` was received.
    pub started: i64,
    /// 1 when `meeting.ended` was received.
    pub completed: i64,
    /// Minutes from start to end (rounded), once ended.
    pub minutes: i64,
    /// Participant joins.
    pub joins: i64,
    /// Seconds spent in the meeting by its participants.
    pub participant_seconds: i64,
    /// Most participants at once.
    pub peak: i64,
}

/// Counter changes of a day item (a difference of two contributions; the peak is not a
/// counter and is kept apart, in [`Peaks`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Meetings started.
    pub meetings_started: i64,
    /// Meetings completed.
    pub meetings_completed: i64,
    /// Meeting minutes.
    pub meeting_minutes: i64,
    /// Participant joins.
    pub participant_joins: i64,
    /// Participant seconds.
    pub participant_seconds: i64,
}

impl Counters {
    /// Whether nothing changes.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// What an instance recorded, as a settle reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Start (epoch seconds).
    pub start: i64,
    /// End (epoch seconds), once `meeting.ended` was received.
    pub end: Option<i64>,
    /// Whether `meeting.started` was received.
    pub started: bool,
}

/// The instance's contribution from what it recorded and its participant points.
pub fn contribution(recorded: &Recorded, points: &[Point]) -> Contribution {
    let f = figures(points, recorded.end);
    Contribution {
        started: i64::from(recorded.started),
        completed: i64::from(recorded.end.is_some()),
        minutes: recorded
            .end
            .map(|end| ((end - recorded.start).max(0) + 30) / 60)
            .unwrap_or(0),
        joins: f.joins,
        participant_seconds: f.participant_seconds,
        peak: f.peak,
    }
}

/// What the day's counters gain when an instance's contribution moves from `before` (what was
/// added at its last settle) to `after`.
pub fn delta(before: &Contribution, after: &Contribution) -> Counters {
    Counters {
        meetings_started: after.started - before.started,
        meetings_completed: after.completed - before.completed,
        meeting_minutes: after.minutes - before.minutes,
        participant_joins: after.joins - before.joins,
        participant_seconds: after.participant_seconds - before.participant_seconds,
    }
}

/// A day's highest meeting peaks, bounded: the [`PEAKS_KEPT`] highest instances by a short key,
/// and `floor`, the highest peak of an instance that is not among them. The day's peak is the
/// largest of all of these, so it stays exact when a listed meeting's peak is corrected down
/// by a late event; it can only be too high if more than [`PEAKS_KEPT`] listed meetings are all
/// corrected below an unlisted one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peaks {
    /// Peak by instance key.
    pub top: BTreeMap<String, i64>,
    /// The highest peak of an instance not in `top`.
    pub floor: i64,
}

impl Peaks {
    /// The day's peak.
    pub fn peak(&self) -> i64 {
        self.top
            .values()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.floor)
    }

    /// Records that instance `key` now peaks at `peak`; `true` when the stored list changes.
    pub fn record(&mut self, key: &str, peak: i64) -> bool {
        let before = self.clone();
        if self.top.contains_key(key) || self.top.len() < PEAKS_KEPT {
            self.top.insert(key.to_owned(), peak);
        } else {
            let (lowest_key, lowest) = self
                .top
                .iter()
                .min_by_key(|(_, p)| **p)
                .map(|(k, p)| (k.clone(), *p))
                .unwrap_or_default();
            if peak > lowest {
                self.top.remove(&lowest_key);
                self.top.insert(key.to_owned(), peak);
                self.floor = self.floor.max(lowest);
            } else {
                self.floor = self.floor.max(peak);
            }
        }
        *self != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(at: i64, who: &str, join: bool) -> Point {
        Point {
            at,
            participant: who.into(),
            join,
        }
    }

    #[test]
    fn a_meeting_contributes_its_figures_once_it_ended() {
        let recorded = Recorded {
            start: 0,
            end: Some(2700),
            started: true,
        };
        let points = [
            p(0, "a", true),
            p(600, "b", true),
            p(1800, "a", false),
            p(2400, "b", false),
        ];
        let c = contribution(&recorded, &points);
        assert_eq!(
            c,
            Contribution {
                started: 1,
                completed: 1,
                minutes: 45,
                joins: 2,
                participant_seconds: 3600,
                peak: 2
            }
        );
        let open = contribution(
            &Recorded {
                end: None,
                ..recorded
            },
            &points[..1],
        );
        assert_eq!(
            (open.completed, open.minutes, open.participant_seconds),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_second_settle_adds_only_what_changed() {
        let first = Contribution {
            started: 1,
            completed: 1,
            minutes: 30,
            joins: 2,
            participant_seconds: 100,
            peak: 2,
        };
        let again = delta(&first, &first);
        assert!(again.is_zero(), "a repeated settle changes nothing");
        let later = Contribution {
            joins: 3,
            participant_seconds: 160,
            ..first
        };
        let d = delta(&first, &later);
        assert_eq!((d.participant_joins, d.participant_seconds), (1, 60));
        assert_eq!(
            delta(&Contribution::default(), &first).meetings_completed,
            1
        );
    }

    #[test]
    fn peaks_stay_bounded_and_follow_corrections() {
        let mut peaks = Peaks::default();
        for i in 0..100 {
            peaks.record(&format!("m{i}"), i);
        }
        assert_eq!(peaks.top.len(), PEAKS_KEPT);
        assert_eq!(peaks.peak(), 99);
        assert!(
            !peaks.record("m3", 3),
            "a low meeting changes nothing twice"
        );
        // The highest meeting is corrected down: the next one is the peak.
        assert!(peaks.record("m99", 10));
        assert_eq!(peaks.peak(), 98);
        // An unlisted meeting's peak is never forgotten.
        let mut small = Peaks::default();
        for i in 0..PEAKS_KEPT {
            small.record(&format!("k{i}"), 50);
        }
        small.record("late", 40);
        for i in 0..PEAKS_KEPT {
            small.record(&format!("k{i}"), 1);
        }
        assert_eq!(small.peak(), 40);
    }
}
