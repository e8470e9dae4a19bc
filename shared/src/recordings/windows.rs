//! Splitting a date range into Zoom's at-most-one-month windows (pure).

use chrono::{Months, NaiveDate};

/// The longest range our API accepts, in days.
pub const MAX_RANGE_DAYS: i64 = 366;

/// Consecutive windows `[start, end]` (inclusive dates) covering `from..=to`, each at most one
/// calendar month long as Zoom's `GET /users/{userId}/recordings` requires, newest first.
pub fn monthly_windows(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut windows = Vec::new();
    let mut start = from;
    while start <= to {
        let month_later = start.checked_add_months(Months::new(1)).unwrap_or(to);
        let end = month_later.min(to);
        windows.push((start, end));
        match end.succ_opt() {
            Some(next) => start = next,
            None => break,
        }
    }
    windows.reverse();
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn seventy_five_days_take_three_windows() {
        let windows = monthly_windows(date("2026-09-13"), date("2026-11-27"));
        assert_eq!(windows.len(), 3);
        assert_eq!(windows[0].1, date("2026-11-27"), "newest first");
        assert_eq!(windows[2].0, date("2026-09-13"));
    }

    #[test]
    fn one_day_is_one_window() {
        assert_eq!(
            monthly_windows(date("2026-11-27"), date("2026-11-27")),
            vec![(date("2026-11-27"), date("2026-11-27"))]
        );
    }

    proptest! {
        #[test]
        fn windows_cover_the_range_exactly_once(start in 0i64..20_000, len in 0i64..MAX_RANGE_DAYS) {
            let from = date("1990-01-01") + chrono::Duration::days(start);
            let to = from + chrono::Duration::days(len);
            let mut windows = monthly_windows(from, to);
            windows.reverse();
            prop_assert_eq!(windows[0].0, from);
            prop_assert_eq!(windows[windows.len() - 1].1, to);
            for pair in windows.windows(2) {
                prop_assert_eq!(pair[0].1.succ_opt(), Some(pair[1].0), "contiguous, no overlap");
            }
            for (a, b) in &windows {
                prop_assert!(a <= b);
                prop_assert!(*b <= a.checked_add_months(Months::new(1)).expect("month"), "at most one month");
            }
            prop_assert!(windows.len() as i64 <= len / 28 + 1);
        }
    }
}
