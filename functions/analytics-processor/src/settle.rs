//! Running a settle job: read the instance and its points once, work out its contribution, and
//! write the change to its day in one transaction. Contention (another settle of the same day
//! won the race on a peak list, `TransactionConflict`, throttling) is retried with jittered
//! backoff inside the invocation's deadline; a request DynamoDB calls invalid is a bug, and the
//! job goes to the dead-letter queue at once.

use std::time::Instant;

use zoom_shared::analytics::jobs::SettleJob;
use zoom_shared::analytics::settle::{contribution, delta};
use zoom_shared::analytics::store::{
    AnalyticsWriter, PeaksChange, Settle, SettleOutcome, StoredPeaks, TIMELINE_TTL_SECS,
    keeps_host_days, peak_key,
};
use zoom_shared::clock::now_secs;

use crate::backoff::Backoff;
use crate::processor::{Failure, Processor, store};

/// The peak list after `peak` of instance `key`, when it changes.
fn peaks_change(stored: StoredPeaks, key: &str, peak: i64) -> Option<PeaksChange> {
    let mut peaks = stored.peaks;
    peaks.record(key, peak).then_some(PeaksChange {
        peaks,
        expected_version: stored.version,
    })
}

impl Processor {
    /// Settles `job`'s instance.
    pub async fn settle(&self, job: &SettleJob, deadline: Instant) -> Result<(), Failure> {
        let (owner, uuid) = (&job.owner, job.uuid.as_str());
        let mut backoff = Backoff::until(deadline);
        loop {
            let Some((record, points)) = self
                .analytics
                .instance_for_settle(owner, uuid)
                .await
                .map_err(store)?
            else {
                tracing::info!("settle of an instance with no record; nothing to do");
                return Ok(());
            };
            let Some(end) = record.recorded.end else {
                tracing::info!("settle of a meeting that has not ended; nothing to do");
                return Ok(());
            };
            if now_secs() - end > TIMELINE_TTL_SECS - 86_400 {
                // Its points are expiring: a settle now would count fewer than there were.
                tracing::warn!("settle of a meeting past its timeline's retention; kept as it was");
                self.metrics.count("SettleTooLate", 1.0, &[]);
                return Ok(());
            }
            let now = contribution(&record.recorded, &points);
            let (day, host) = record.day_and_host();
            let (day_peaks, host_peaks) = self
                .analytics
                .day_peaks(owner, day, &host)
                .await
                .map_err(store)?;
            let key = peak_key(uuid);
            let settle = Settle {
                contribution: now,
                delta: delta(&record.rolled, &now),
                day_peaks: peaks_change(day_peaks, &key, now.peak),
                host_peaks: keeps_host_days(owner)
                    .then(|| peaks_change(host_peaks, &key, now.peak))
                    .flatten(),
            };
            let unchanged = record.version > 0
                && record.rolled == now
                && settle.day_peaks.is_none()
                && settle.host_peaks.is_none();
            if unchanged {
                self.metrics.count("SettleUnchanged", 1.0, &[]);
                return Ok(());
            }
            let reason = match self
                .analytics
                .apply_settle(owner, &record, &settle)
                .await
                .map_err(store)?
            {
                SettleOutcome::Applied => {
                    self.metrics.count("SettleApplied", 1.0, &[]);
                    tracing::info!(
                        points = points.len(),
                        retries = backoff.attempts(),
                        "meeting settled"
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
