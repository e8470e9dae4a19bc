//! What the processor reads of a message before running it: its attributes, its dedup key,
//! its event (read once per batch: [`Delivery`]), the group of the batch it runs in, and the
//! settle jobs among them.

use aws_lambda_events::event::sqs::SqsMessage;
use zoom_shared::analytics::event::{Parsed, ZoomEvent, parse};
use zoom_shared::analytics::jobs::{JOB_ATTRIBUTE, SETTLE, SettleJob};

/// The instance a meeting life or participant event concerns.
pub fn instance_of(event: &ZoomEvent) -> Option<&zoom_shared::analytics::event::Instance> {
    match event {
        ZoomEvent::Started(i)
        | ZoomEvent::Ended(i, _)
        | ZoomEvent::Joined(i, _, _)
        | ZoomEvent::Left(i, _, _) => Some(i),
        _ => None,
    }
}

/// A message's id (empty when SQS gave none).
pub fn message_id(message: &SqsMessage) -> String {
    message.message_id.clone().unwrap_or_default()
}

/// How many times SQS has handed `message` out, this time included (1 when it does not say).
pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A settle job's message, read.
pub fn settle_job(message: &SqsMessage) -> Option<SettleJob> {
    if attribute(message, JOB_ATTRIBUTE) != Some(SETTLE) {
        return None;
    }
    serde_json::from_str(message.body.as_deref()?).ok()
}

/// A message of the batch with its body read as an event, once (`None`: a settle job, a body
/// in the spool, or one that is not an event, which [`Processor::message`] says why).
pub struct Delivery {
    /// The message.
    pub message: SqsMessage,
    /// Its event.
    pub parsed: Option<Parsed>,
}

impl Delivery {
    /// Reads `message`'s event.
    pub fn of(message: SqsMessage) -> Self {
        let parsed = message
            .body
            .as_deref()
            .filter(|_| attribute(&message, JOB_ATTRIBUTE).is_none())
            .filter(|_| attribute(&message, "claim_check").is_none())
            .and_then(|b| parse(b).ok());
        Self { message, parsed }
    }

    /// The group of a batch it runs in: a meeting event its instance's (account, uuid), in
    /// order; a settle job its owner's, settled together; anything else its own.
    pub fn group_key(&self) -> String {
        if let Some(job) = settle_job(&self.message) {
            return format!(
                "settle|{}",
                serde_json::to_string(&job.owner).unwrap_or_default()
            );
        }
        self.parsed
            .as_ref()
            .and_then(|p| instance_of(&p.event).map(|i| format!("{}|{}", p.account_id, i.uuid)))
            .unwrap_or_else(|| message_id(&self.message))
    }
}

/// Splits a group into its settle jobs, read, and the rest (in order).
pub fn settle_jobs(group: Vec<Delivery>) -> (Vec<(SqsMessage, SettleJob)>, Vec<Delivery>) {
    let (mut jobs, mut rest) = (Vec::new(), Vec::new());
    for delivery in group {
        match settle_job(&delivery.message) {
            Some(job) => jobs.push((delivery.message, job)),
            None => rest.push(delivery),
        }
    }
    (jobs, rest)
}

/// A message's string attribute.
pub fn attribute<'m>(message: &'m SqsMessage, name: &str) -> Option<&'m str> {
    message
        .message_attributes
        .get(name)
        .and_then(|a| a.string_value.as_deref())
}

/// A message's string attributes, as they are sent again.
pub fn attributes_of(message: &SqsMessage) -> Vec<(&str, &str)> {
    message
        .message_attributes
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.string_value.as_deref()?)))
        .collect()
}

/// The dedup key of a delivery: intake's, else a digest of the body.
pub fn dedup_key(message: &SqsMessage, body: &str) -> String {
    attribute(message, "dedup_key")
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
            hex::encode(&digest.as_ref()[..16])
        })
}

/// The Zoom name of an event.
pub fn event_name(event: &ZoomEvent) -> &'static str {
    match event {
        ZoomEvent::Started(_) => "meeting.started",
        ZoomEvent::Ended(..) => "meeting.ended",
        ZoomEvent::Joined(..) => "meeting.participant_joined",
        ZoomEvent::Left(..) => "meeting.participant_left",
        ZoomEvent::Deleted { .. } => "meeting.deleted",
        ZoomEvent::Updated { .. } => "meeting.updated",
        ZoomEvent::RecordingCompleted { .. } => "recording.completed",
        ZoomEvent::Deauthorized { .. } => "app_deauthorized",
    }
}

/// The Zoom user whose data an event is about.
pub fn host_of(event: &ZoomEvent) -> &str {
    match event {
        ZoomEvent::Started(i)
        | ZoomEvent::Ended(i, _)
        | ZoomEvent::Joined(i, _, _)
        | ZoomEvent::Left(i, _, _) => &i.host_id,
        ZoomEvent::Deleted { host_id, .. }
        | ZoomEvent::Updated { host_id, .. }
        | ZoomEvent::RecordingCompleted { host_id, .. } => host_id,
        ZoomEvent::Deauthorized { user_id, .. } => user_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsEvent;

    #[test]
    fn a_receive_count_is_read_from_the_system_attributes() {
        let mut message = SqsMessage::default();
        assert_eq!(receive_count(&message), 1, "absent: a first delivery");
        message
            .attributes
            .insert("ApproximateReceiveCount".into(), "3".into());
        assert_eq!(receive_count(&message), 3);
        message
            .attributes
            .insert("ApproximateReceiveCount".into(), "x".into());
        assert_eq!(receive_count(&message), 1);
    }

    /// `events/zoom-analytics-processor/batch.json` is an SQS event whose bodies are events.
    #[test]
    fn the_sample_event_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/zoom-analytics-processor/batch.json"
        ))
        .expect("event");
        let event: SqsEvent = serde_json::from_str(&text).expect("SQS event");
        for record in &event.records {
            let body = record.body.as_deref().expect("body");
            assert!(parse(body).is_ok());
            assert_eq!(dedup_key(record, body), "3f1c0a6c2b9e4d7a8e5f6b1c2d3e4f5a");
            assert_eq!(receive_count(record), 1);
        }
    }
}
