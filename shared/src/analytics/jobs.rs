//! Settle jobs: "work out this instance's figures and add them to its day", queued on the
//! events queue itself (attribute `job=settle`) with a delay, so a meeting settles once its
//! last events are in. Only intake and the processor may send to that queue.

use serde::{Deserialize, Serialize};

use crate::aws::Queue;
use crate::owner::Owner;

/// The message attribute that marks a settle job.
pub const JOB_ATTRIBUTE: &str = "job";
/// Its value.
pub const SETTLE: &str = "settle";

/// A settle of one instance of one owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleJob {
    /// Whose figures.
    pub owner: Owner,
    /// The instance.
    pub uuid: String,
}

/// Where settle jobs are queued.
pub trait SettleQueue: Send + Sync {
    /// Queues `job`, delivered after `delay_secs`; `Ok` once the queue accepted it.
    fn queue_settle(
        &self,
        job: &SettleJob,
        delay_secs: i32,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

impl SettleQueue for Queue {
    async fn queue_settle(&self, job: &SettleJob, delay_secs: i32) -> Result<(), String> {
        self.send_json_delayed(job, &[(JOB_ATTRIBUTE, SETTLE)], delay_secs)
            .await
    }
}
