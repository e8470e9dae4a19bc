//! Running settle jobs: the instances of one owner whose jobs came in the same batch are read
//! once each, their contributions worked out, and the changes written in one transaction
//! ([`zoom_shared::analytics::settlement`]: each day item once for all of them). Contention
//! (another settle of the same day won the race on a peak list, `TransactionConflict`,
//! throttling) is retried with jittered backoff inside the invocation's deadline; a request
//! DynamoDB calls invalid is a bug, and the jobs go to the dead-letter queue at once (when
//! several settled together, each is tried alone first, so only the one at fault goes).

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt};
use zoom_shared::analytics::settle::{Contribution, contribution};
use zoom_shared::analytics::settlement::{all_day_keys, plan};
use zoom_shared::analytics::store::{
    AnalyticsWriter, InstanceRecord, SettleOutcome, TIMELINE_TTL_SECS, keeps_host_days,
};
use zoom_shared::clock::now_secs;
use zoom_shared::owner::Owner;

use crate::backoff::Backoff;
use crate::failure::{Failure, store};
use crate::processor::Processor;

/// The most settle jobs of one owner run together. Their transaction writes one item per
/// instance and at most two per day item (the day, the host's day): 32 + 64 stay within
/// DynamoDB's 100 items per transaction.
pub const SETTLES_TOGETHER: usize = 32;

/// Instances read at once.
const READS_AT_ONCE: usize = 8;

/// The longest a settle job's delay is stretched so that jobs queued close together fall due
/// together (and settle in one transaction).
pub const SETTLE_ALIGN_SECS: i64 = 30;

/// The delay of a settle queued at `now` for `delay` seconds later, stretched to the next
/// multiple of `min(delay, SETTLE_ALIGN_SECS)` (and never past SQS's 900 s).
pub fn aligned_delay(now: i64, delay: i32) -> i32 {
    let delay = i64::from(delay);
    let step = delay.clamp(1, SETTLE_ALIGN_SECS);
    let due = now + delay;
    let aligned = delay + (step - due.rem_euclid(step)) % step;
    i32::try_from(if aligned > 900 { delay } else { aligned }).unwrap_or(900)
}

impl Processor {
    /// The instance's record and contribution, or `None` when it is not to settle (no record,
    /// not ended, past its timeline's retention).
    async fn settleable(
        &self,
        owner: &Owner,
        uuid: &str,
    ) -> Result<Option<(InstanceRecord, Contribution)>, Failure> {
        let Some((record, points)) = self
            .analytics
            .instance_for_settle(owner, uuid)
            .await
            .map_err(store)?
        else {
            tracing::info!("settle of an instance with no record; nothing to do");
            return Ok(None);
        };
        let Some(end) = record.recorded.end else {
            tracing::info!("settle of a meeting that has not ended; nothing to do");
            return Ok(None);
        };
        if now_secs() - end > TIMELINE_TTL_SECS - 86_400 {
            // Its points are expiring: a settle now would count fewer than there were.
            tracing::warn!("settle of a meeting past its timeline's retention; kept as it was");
            self.metrics.count("SettleTooLate", 1.0, &[]);
            return Ok(None);
        }
        let now = contribution(&record.recorded, &points);
        Ok(Some((record, now)))
    }

    /// Settles `uuids` (distinct instances of `owner`, at most [`SETTLES_TOGETHER`]) in one
    /// transaction.
    pub async fn settle(
        &self,
        owner: &Owner,
        uuids: &[&str],
        deadline: Instant,
    ) -> Result<(), Failure> {
        let keeps_hosts = keeps_host_days(owner);
        let mut backoff = Backoff::until(deadline);
        loop {
            let instances: Vec<(InstanceRecord, Contribution)> =
                futures_util::stream::iter(uuids.iter().copied())
                    .map(|uuid| self.settleable(owner, uuid))
                    .buffered(READS_AT_ONCE)
                    .try_filter_map(|found| async move { Ok(found) })
                    .try_collect()
                    .await?;
            if instances.is_empty() {
                return Ok(());
            }
            let keys = all_day_keys(&instances, keeps_hosts);
            let stored: BTreeMap<_, _> = futures_util::stream::iter(keys)
                .map(|key| async move {
                    let peaks = self.analytics.day_peaks(owner, &key).await.map_err(store)?;
                    Ok::<_, Failure>((key, peaks))
                })
                .buffered(READS_AT_ONCE)
                .try_collect()
                .await?;
            let settling = instances.len();
            let plan = plan(instances, &stored, keeps_hosts);
            if plan.unchanged > 0 {
                self.metrics
                    .count("SettleUnchanged", plan.unchanged as f64, &[]);
            }
            if plan.settle.is_empty() {
                return Ok(());
            }
            let reason = match self
                .analytics
                .apply_settle(owner, &plan.settle)
                .await
                .map_err(store)?
            {
                SettleOutcome::Applied => {
                    let applied = plan.settle.instances.len();
                    if applied > 0 {
                        self.metrics.count("SettleApplied", applied as f64, &[]);
                    }
                    tracing::info!(
                        instances = settling,
                        applied,
                        days = plan.settle.days.len(),
                        retries = backoff.attempts(),
                        "meetings settled"
                    );
                    return Ok(());
                }
                SettleOutcome::Invalid(reason) => {
                    return Err(Failure::Invalid(format!(
                        "DynamoDB refused the settle as invalid ({reason})"
                    )));
                }
                SettleOutcome::Moved => "moved".to_owned(),
                SettleOutcome::Contended(reason) => reason,
            };
            self.metrics
                .count("SettleRetried", 1.0, &[("Reason", reason.as_str())]);
            if !backoff.wait().await {
                return Err(Failure::Retry(format!(
                    "the settle met contention ({reason}) until the deadline"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_queued_close_together_fall_due_together() {
        let due = |now: i64, delay: i32| now + i64::from(aligned_delay(now, delay));
        // Template: 60 s, stretched to the next half minute.
        assert_eq!(due(1_000, 60), 1_080);
        assert_eq!(due(1_019, 60), 1_080);
        assert_eq!(due(1_020, 60), 1_080);
        assert_eq!(due(1_021, 60), 1_110);
        for now in 1_000..1_100 {
            let d = aligned_delay(now, 60);
            assert!((60..90).contains(&d), "{now}: {d}");
            assert_eq!((now + i64::from(d)) % 30, 0);
        }
        // A short delay is stretched by less than itself.
        assert_eq!(aligned_delay(1_001, 2), 3);
        assert_eq!(aligned_delay(1_000, 2), 2);
        assert_eq!(aligned_delay(7, 1), 1);
        // Never past SQS's longest delay.
        assert_eq!(aligned_delay(1_001, 900), 900);
        assert!(aligned_delay(1_001, 880) <= 900);
    }
}
