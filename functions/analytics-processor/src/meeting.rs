//! Meeting events for one owner: each leaves one small record on its instance (a participant
//! event its point, which [`crate::participants`] writes with the rest of its batch's group
//! unless its body came through the spool; `meeting.started` and `meeting.ended` the instance
//! record), and the
//! meeting settles a short delay after it ended. An event that arrives after its meeting's
//! settle queues another one (at most one per delay), so late events are counted too. No event
//! reads the instance's timeline; a settle reads it once.

use std::sync::atomic::{AtomicBool, Ordering};

use zoom_shared::analytics::chunks::{Delivered, tag};
use zoom_shared::analytics::event::{Instance, Parsed, ZoomEvent};
use zoom_shared::analytics::jobs::{SettleJob, SettleQueue};
use zoom_shared::analytics::store::{AnalyticsWriter, SettleState};
use zoom_shared::analytics::timeline::Point;
use zoom_shared::clock::now_secs;
use zoom_shared::meetings::view::MeetingStatus;
use zoom_shared::owner::Owner;

use crate::delivery::event_name;
use crate::failure::{Failure, store};
use crate::processor::Processor;
use crate::settle::aligned_delay;

/// A queued settle counts as covering an event recorded at least this long before it is due
/// (clock differences, a write still in flight).
pub const SETTLE_MARGIN_SECS: i64 = 5;

/// Whether the injected crash already happened in this process.
static CRASHED: AtomicBool = AtomicBool::new(false);

/// Whether a settle must be queued for an instance in `state` at `now`: it ended and no queued
/// settle will run late enough to include what was just recorded.
pub fn needs_settle(state: Option<SettleState>, now: i64) -> bool {
    state.is_some_and(|s| s.ended && s.settle_due < now + SETTLE_MARGIN_SECS)
}

impl Processor {
    /// Queues a settle of `uuid` (due with others queued close to it: [`aligned_delay`]);
    /// answers when it is due.
    async fn queue_settle(&self, owner: &Owner, uuid: &str) -> Result<i64, Failure> {
        let job = SettleJob {
            owner: owner.clone(),
            uuid: uuid.to_owned(),
        };
        let now = now_secs();
        let delay = aligned_delay(now, self.settle_delay_secs);
        self.settle_queue
            .queue_settle(&job, delay)
            .await
            .map_err(Failure::Retry)?;
        Ok(now + i64::from(delay))
    }

    /// Queues a settle when `state` says the meeting ended without one late enough.
    async fn settle_if_late(
        &self,
        owner: &Owner,
        uuid: &str,
        state: Option<SettleState>,
    ) -> Result<(), Failure> {
        if needs_settle(state, now_secs()) {
            let due = self.queue_settle(owner, uuid).await?;
            self.analytics
                .mark_settle_due(owner, uuid, due)
                .await
                .map_err(store)?;
            self.metrics
                .count("SettleQueued", 1.0, &[("Why", "late_event")]);
        }
        Ok(())
    }

    /// After participant points were recorded (even redeliveries: their first delivery may
    /// have stopped before this), a settle is queued when their meeting already settled.
    pub async fn settle_after_points(&self, owner: &Owner, uuid: &str) -> Result<(), Failure> {
        let state = self
            .analytics
            .settle_state(owner, uuid)
            .await
            .map_err(store)?;
        self.settle_if_late(owner, uuid, state).await
    }

    /// The injected crash (`ZOOM_FAULT_CRASH_AFTER_CLAIM`), once per process, after the record
    /// of an event of that type.
    pub fn crash_after_record(&self, parsed: &Parsed) {
        let name = event_name(&parsed.event);
        if self.crash_after_claim.as_deref() == Some(name) && !CRASHED.swap(true, Ordering::SeqCst)
        {
            tracing::warn!(event = name, "injected crash after the event's record");
            // A panic abandons the invocation half-way, as a crash would: lambda_runtime reports
            // the invocation failed and SQS redelivers the batch.
            panic!("injected crash after the record of {name}");
        }
    }

    /// Records a meeting event of `owner` (delivered as `dedup`).
    pub async fn meeting_event(
        &self,
        owner: &Owner,
        dedup: &str,
        parsed: &Parsed,
        instance: &Instance,
    ) -> Result<(), Failure> {
        let uuid = instance.uuid.as_str();
        match &parsed.event {
            ZoomEvent::Started(_) => {
                let state = self
                    .analytics
                    .record_started(owner, instance, now_secs())
                    .await
                    .map_err(store)?;
                self.crash_after_record(parsed);
                self.settle_if_late(owner, uuid, Some(state)).await?;
                self.set_status(owner, instance.meeting_id, MeetingStatus::Live, parsed)
                    .await?;
            }
            ZoomEvent::Ended(_, end) => {
                let state = self
                    .analytics
                    .settle_state(owner, uuid)
                    .await
                    .map_err(store)?;
                if state.is_some_and(|s| s.ended && !needs_settle(Some(s), now_secs())) {
                    self.metrics.count("EventDuplicate", 1.0, &[]);
                } else {
                    // Queued first: a crash before the record leaves a settle that finds the
                    // meeting not ended (nothing to do) and a redelivery that queues again.
                    let due = self.queue_settle(owner, uuid).await?;
                    self.analytics
                        .record_ended(owner, instance, end.timestamp(), due, now_secs())
                        .await
                        .map_err(store)?;
                    self.metrics.count("SettleQueued", 1.0, &[("Why", "ended")]);
                    self.crash_after_record(parsed);
                }
                self.set_status(owner, instance.meeting_id, MeetingStatus::Completed, parsed)
                    .await?;
            }
            ZoomEvent::Joined(_, p, at) | ZoomEvent::Left(_, p, at) => {
                let point = Point {
                    at: at.timestamp(),
                    participant: p.key.clone(),
                    join: matches!(parsed.event, ZoomEvent::Joined(..)),
                };
                let delivered = Delivered {
                    tag: tag(dedup),
                    point,
                };
                let new = self
                    .analytics
                    .record_points(owner, uuid, std::slice::from_ref(&delivered), now_secs())
                    .await
                    .map_err(store)?;
                if new > 0 {
                    self.crash_after_record(parsed);
                } else {
                    self.metrics.count("EventDuplicate", 1.0, &[]);
                }
                self.settle_after_points(owner, uuid).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ended_meeting_without_a_late_enough_settle_needs_one() {
        let now = 1_000;
        assert!(
            !needs_settle(None, now),
            "nothing recorded: the end will queue it"
        );
        let live = SettleState {
            ended: false,
            settle_due: 0,
        };
        assert!(!needs_settle(Some(live), now));
        let ended = |due| {
            Some(SettleState {
                ended: true,
                settle_due: due,
            })
        };
        assert!(needs_settle(ended(0), now), "ended, never settled");
        assert!(
            needs_settle(ended(now - 60), now),
            "settled before this event"
        );
        assert!(
            needs_settle(ended(now + SETTLE_MARGIN_SECS - 1), now),
            "due too soon to be sure it sees this event"
        );
        assert!(
            !needs_settle(ended(now + 60), now),
            "a queued settle covers it"
        );
    }
}
