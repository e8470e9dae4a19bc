//! Folding a meeting instance's participant events into its figures (pure). Events may
//! arrive in any order and any number of times: each is a point on the timeline, keyed by
//! its delivery, and the figures are recomputed from all points, so order never matters.

use std::collections::BTreeMap;

/// One participant event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Epoch seconds.
    pub at: i64,
    /// The participant's key.
    pub participant: String,
    /// A join (else a leave).
    pub join: bool,
}

/// An instance's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Most participants in the meeting at once.
    pub peak: i64,
    /// Seconds spent in the meeting over every closed session.
    pub participant_seconds: i64,
    /// Joins.
    pub joins: i64,
}

/// The figures of `points`; sessions still open are closed at `end` when the meeting ended.
/// Each join is paired with the participant's next leave after it; a leave with no earlier
/// join yet (it arrived first) waits for its join.
pub fn figures(points: &[Point], end: Option<i64>) -> Figures {
    let mut by_participant: BTreeMap<&str, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for p in points {
        let entry = by_participant.entry(p.participant.as_str()).or_default();
        if p.join {
            entry.0.push(p.at)
        } else {
            entry.1.push(p.at)
        }
    }
    let mut sessions: Vec<(i64, Option<i64>)> = Vec::new();
    let mut joins = 0;
    for (joins_at, leaves_at) in by_participant.values_mut() {
        joins_at.sort_unstable();
        leaves_at.sort_unstable();
        joins += joins_at.len() as i64;
        let mut leaves = leaves_at.iter().peekable();
        for (i, start) in joins_at.iter().enumerate() {
            let next_join = joins_at.get(i + 1).copied();
            // The first leave at or after this join, and before the next join.
            while leaves.peek().is_some_and(|l| **l < *start) {
                leaves.next();
            }
            let stop = match leaves.peek() {
                Some(l) if next_join.is_none_or(|n| **l <= n) => leaves.next().copied(),
                _ => None,
            };
            sessions.push((*start, stop.or(end.filter(|e| *e >= *start))));
        }
    }
    let participant_seconds = sessions.iter().filter_map(|(s, e)| e.map(|e| e - s)).sum();
    // Sweep: leaves before joins at the same instant.
    let mut marks: Vec<(i64, i64)> = Vec::new();
    for (s, e) in &sessions {
        marks.push((*s, 1));
        if let Some(e) = e {
            marks.push((*e, -1));
        }
    }
    marks.sort_unstable();
    let (mut now, mut peak) = (0i64, 0i64);
    for (_, delta) in marks {
        now += delta;
        peak = peak.max(now);
    }
    Figures {
        peak,
        participant_seconds,
        joins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(at: i64, who: &str, join: bool) -> Point {
        Point {
            at,
            participant: who.into(),
            join,
        }
    }

    #[test]
    fn overlapping_participants() {
        // A 0–60, B 30–90, C 100–120: peak 2, 60+60+20 seconds.
        let points = [
            p(0, "a", true),
            p(60, "a", false),
            p(30, "b", true),
            p(90, "b", false),
            p(100, "c", true),
            p(120, "c", false),
        ];
        assert_eq!(
            figures(&points, None),
            Figures {
                peak: 2,
                participant_seconds: 140,
                joins: 3
            }
        );
    }

    #[test]
    fn back_to_back_is_not_overlap_and_rejoins_count() {
        let points = [
            p(0, "a", true),
            p(10, "a", false),
            p(10, "b", true),
            p(20, "b", false),
            p(30, "a", true),
            p(40, "a", false),
        ];
        assert_eq!(
            figures(&points, None),
            Figures {
                peak: 1,
                participant_seconds: 30,
                joins: 3
            }
        );
    }

    #[test]
    fn open_sessions_close_at_the_end() {
        assert_eq!(
            figures(&[p(0, "a", true)], Some(50)).participant_seconds,
            50
        );
        assert_eq!(figures(&[p(0, "a", true)], None).participant_seconds, 0);
    }

    proptest! {
        #[test]
        fn order_does_not_matter(mut sessions in proptest::collection::vec((0i64..1000, 0i64..500, 0usize..5), 1..20), seed in any::<u64>()) {
            let mut points = Vec::new();
            // Non-overlapping sessions per participant, so the pairing is unambiguous.
            sessions.sort();
            let mut last_end: BTreeMap<usize, i64> = BTreeMap::new();
            for (start, len, who) in sessions {
                let start = start.max(*last_end.get(&who).unwrap_or(&-1) + 1);
                let end = start + len;
                last_end.insert(who, end);
                points.push(p(start, &who.to_string(), true));
                points.push(p(end, &who.to_string(), false));
            }
            let expected = figures(&points, None);
            let mut shuffled = points.clone();
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(figures(&shuffled, None), expected);
        }
    }
}
