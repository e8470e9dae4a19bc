//! What a settle of several instances of one owner writes (pure): each instance whose
//! contribution moved, and each day item once, with the sum of its instances' deltas and its
//! peak list after all of their peaks. Settling a batch's instances of one owner together costs
//! one write of a day item for all of them instead of one each, and one transaction instead of
//! several racing on the same day's peak list.

use std::collections::{BTreeMap, BTreeSet};

use super::settle::{Contribution, Counters, delta};
use super::store::{
    DayChange, DayKey, InstanceRecord, InstanceSettle, PeaksChange, Settle, StoredPeaks, peak_key,
};

/// The day items an instance's figures go to: its day, and its host's day when the owner keeps
/// host-days.
pub fn day_keys(record: &InstanceRecord, keeps_host_days: bool) -> Vec<DayKey> {
    let (day, host) = record.day_and_host();
    let mut keys = vec![DayKey { day, host: None }];
    if keeps_host_days {
        keys.push(DayKey {
            day,
            host: Some(host),
        });
    }
    keys
}

/// The day items of all of `instances`, each once.
pub fn all_day_keys(
    instances: &[(InstanceRecord, Contribution)],
    keeps_host_days: bool,
) -> BTreeSet<DayKey> {
    instances
        .iter()
        .flat_map(|(record, _)| day_keys(record, keeps_host_days))
        .collect()
}

fn add(total: &mut Counters, d: Counters) {
    total.meetings_started += d.meetings_started;
    total.meetings_completed += d.meetings_completed;
    total.meeting_minutes += d.meeting_minutes;
    total.participant_joins += d.participant_joins;
    total.participant_seconds += d.participant_seconds;
}

/// A settle plan: what to write, and how many instances had nothing new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What to write (empty: nothing).
    pub settle: Settle,
    /// Instances already settled as they are now.
    pub unchanged: usize,
}

/// Plans the settle of `instances` (distinct, each with its contribution now) against the day
/// items' stored peak lists (`stored`; a missing one counts as none stored).
pub fn plan(
    instances: Vec<(InstanceRecord, Contribution)>,
    stored: &BTreeMap<DayKey, StoredPeaks>,
    keeps_host_days: bool,
) -> Plan {
    let mut days: BTreeMap<DayKey, (Counters, StoredPeaks, bool)> = BTreeMap::new();
    let mut plan = Plan::default();
    for (record, now) in instances {
        let moved = record.version == 0 || record.rolled != now;
        let d = delta(&record.rolled, &now);
        let key = peak_key(&record.instance.uuid);
        let mut lists_moved = false;
        for day in day_keys(&record, keeps_host_days) {
            let (total, peaks, changed) = days.entry(day.clone()).or_insert_with(|| {
                (
                    Counters::default(),
                    stored.get(&day).cloned().unwrap_or_default(),
                    false,
                )
            });
            if moved {
                add(total, d);
            }
            let moved_list = peaks.peaks.record(&key, now.peak);
            *changed |= moved_list;
            lists_moved |= moved_list;
        }
        // An instance settled as it is whose peak still changes a list (a list that lost it)
        // is written again, unchanged, so that the list's write is conditioned on the version
        // the instance was read at: a stale read of it must not put an old peak back.
        if moved || lists_moved {
            plan.settle.instances.push(InstanceSettle {
                record,
                contribution: now,
            });
        } else {
            plan.unchanged += 1;
        }
    }
    plan.settle.days = days
        .into_iter()
        .filter(|(_, (total, _, changed))| *changed || !total.is_zero())
        .map(|(key, (delta, stored, changed))| DayChange {
            key,
            delta,
            peaks: changed.then_some(PeaksChange {
                peaks: stored.peaks,
                expected_version: stored.version,
            }),
        })
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::event::Instance;
    use crate::analytics::settle::{Peaks, Recorded};
    use chrono::{NaiveDate, TimeZone, Utc};

    fn record(uuid: &str, host: &str, version: i64, rolled: Contribution) -> InstanceRecord {
        InstanceRecord {
            instance: Instance {
                meeting_id: 1,
                uuid: uuid.into(),
                host_id: host.into(),
                topic: String::new(),
                start_time: Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap(),
            },
            recorded: Recorded::default(),
            rolled,
            rolled_to: None,
            version,
        }
    }

    fn figures(joins: i64, peak: i64) -> Contribution {
        Contribution {
            started: 1,
            completed: 1,
            minutes: 30,
            joins,
            participant_seconds: joins * 60,
            peak,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    fn owners_day() -> DayKey {
        DayKey {
            day: day(),
            host: None,
        }
    }

    #[test]
    fn instances_of_one_day_write_it_once_with_the_sum_of_their_deltas() {
        let instances = vec![
            (record("a", "h1", 0, Contribution::default()), figures(3, 2)),
            (record("b", "h1", 0, Contribution::default()), figures(5, 4)),
            (record("c", "h2", 1, figures(1, 1)), figures(2, 1)),
        ];
        let plan = plan(instances, &BTreeMap::new(), false);
        assert_eq!(plan.unchanged, 0);
        assert_eq!(plan.settle.instances.len(), 3);
        assert_eq!(plan.settle.days.len(), 1, "one day item for all of them");
        let change = &plan.settle.days[0];
        assert_eq!(change.key, owners_day());
        assert_eq!(change.delta.meetings_started, 2, "c had started before");
        assert_eq!(change.delta.participant_joins, 3 + 5 + 1);
        assert_eq!(change.delta.participant_seconds, (3 + 5 + 1) * 60);
        let peaks = change.peaks.as_ref().expect("the peaks moved");
        assert_eq!((peaks.peaks.peak(), peaks.expected_version), (4, 0));
    }

    #[test]
    fn an_account_wide_owner_also_writes_each_hosts_day_once() {
        let instances = vec![
            (record("a", "h1", 0, Contribution::default()), figures(3, 2)),
            (record("b", "h1", 0, Contribution::default()), figures(5, 4)),
            (record("c", "h2", 0, Contribution::default()), figures(2, 1)),
        ];
        let plan = plan(instances, &BTreeMap::new(), true);
        let keys: Vec<_> = plan.settle.days.iter().map(|d| d.key.clone()).collect();
        let host = |h: &str| DayKey {
            day: day(),
            host: Some(h.into()),
        };
        assert_eq!(keys, vec![owners_day(), host("h1"), host("h2")]);
        let h1 = &plan.settle.days[1];
        assert_eq!(h1.delta.participant_joins, 8);
        assert_eq!(h1.peaks.as_ref().map(|p| p.peaks.peak()), Some(4));
        assert_eq!(plan.settle.days[2].delta.participant_joins, 2);
    }

    #[test]
    fn an_instance_settled_as_it_is_writes_nothing_unless_the_peaks_lost_it() {
        let settled = figures(3, 2);
        let mut stored = BTreeMap::new();
        let mut peaks = Peaks::default();
        peaks.record(&peak_key("a"), 2);
        stored.insert(owners_day(), StoredPeaks { peaks, version: 7 });
        let same = plan(
            vec![(record("a", "h1", 1, settled), settled)],
            &stored,
            false,
        );
        assert_eq!(same.unchanged, 1);
        assert!(same.settle.is_empty(), "nothing to write: {same:?}");
        // The day's list no longer holds it (another release wrote it): the list is written,
        // conditioned on the version read, and the instance again as it was, conditioned on
        // its version.
        let lost = plan(
            vec![(record("a", "h1", 1, settled), settled)],
            &BTreeMap::new(),
            false,
        );
        assert_eq!(lost.unchanged, 0);
        assert_eq!(lost.settle.instances.len(), 1);
        assert_eq!(lost.settle.instances[0].contribution, settled);
        assert_eq!(lost.settle.instances[0].record.version, 1);
        assert_eq!(lost.settle.days.len(), 1);
        assert!(lost.settle.days[0].delta.is_zero());
        assert_eq!(
            lost.settle.days[0]
                .peaks
                .as_ref()
                .map(|p| p.expected_version),
            Some(0)
        );
    }

    #[test]
    fn a_stale_read_of_a_settled_instance_cannot_put_its_old_peak_back_unchecked() {
        // Read at version 3 with peak 5; meanwhile another settle moved it to peak 3 and wrote
        // the list (version 8), which this settle reads fresh.
        let old = figures(3, 5);
        let mut peaks = Peaks::default();
        peaks.record(&peak_key("a"), 3);
        peaks.record(&peak_key("b"), 1);
        let mut stored = BTreeMap::new();
        stored.insert(owners_day(), StoredPeaks { peaks, version: 8 });
        let plan = plan(
            vec![
                (record("a", "h1", 3, old), old),
                (record("b", "h1", 0, Contribution::default()), figures(1, 1)),
            ],
            &stored,
            false,
        );
        let a = plan
            .settle
            .instances
            .iter()
            .find(|i| i.record.instance.uuid == "a")
            .expect("a's record is written, so its version (3, stale) is checked");
        assert_eq!(a.record.version, 3);
        assert_eq!(plan.settle.days[0].delta.participant_joins, 1, "only b's");
    }

    #[test]
    fn a_peak_list_is_conditioned_on_the_version_it_was_read_at() {
        let mut stored = BTreeMap::new();
        stored.insert(
            owners_day(),
            StoredPeaks {
                peaks: Peaks::default(),
                version: 3,
            },
        );
        let plan = plan(
            vec![(record("a", "h1", 0, Contribution::default()), figures(1, 9))],
            &stored,
            false,
        );
        let peaks = plan.settle.days[0].peaks.as_ref().expect("moved");
        assert_eq!((peaks.expected_version, peaks.peaks.peak()), (3, 9));
    }

    #[test]
    fn instances_of_different_days_write_their_own_days() {
        let mut later = record("b", "h1", 0, Contribution::default());
        later.rolled_to = Some((day().succ_opt().unwrap(), "h1".into()));
        let plan = plan(
            vec![
                (record("a", "h1", 0, Contribution::default()), figures(1, 1)),
                (later, figures(2, 2)),
            ],
            &BTreeMap::new(),
            false,
        );
        let days: Vec<_> = plan.settle.days.iter().map(|d| d.key.day).collect();
        assert_eq!(days, vec![day(), day().succ_opt().unwrap()]);
        assert_eq!(
            all_day_keys(
                &[(record("x", "h", 0, Contribution::default()), figures(0, 0))],
                true
            )
            .len(),
            2
        );
    }
}
