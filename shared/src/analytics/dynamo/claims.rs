//! Idempotency claims of the events whose effects are not meeting figures (`meeting.deleted`,
//! `meeting.updated`, `recording.completed`): `DATA#{ns}` / `EVENT#{dedup}`, in the owner's data
//! partition so a purge removes them too; and deauthorization records `COMPLIANCE#{user}`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoAnalytics, err, num, text};
use crate::analytics::store::{Claim, Deauthorization, IDEMPOTENCY_TTL_SECS};
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::StoreError;
use crate::store::item::{n, s};

fn claim_key(owner: &Owner, dedup: &str) -> HashMap<String, AttributeValue> {
    crate::store::item::key(owner.data_pk(), format!("EVENT#{dedup}"))
}

impl DynamoAnalytics {
    pub(super) async fn claim(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
        now: i64,
        lease: i64,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(claim_key(owner, dedup)))
            .update_expression("SET #status = :progress, claim_id = :claim, claimed_until = :until, #ttl = :ttl ADD attempts :one")
            .condition_expression("attribute_not_exists(pk) OR (#status = :progress AND claimed_until < :now)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":progress", s("in_progress"))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":until", n(now + lease))
            .expression_attribute_values(":ttl", n(now + IDEMPOTENCY_TTL_SECS))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(answer) => Ok(Claim::Claimed(
                answer.attributes().map(|a| num(a, "attempts")).unwrap_or(1),
            )),
            Err(e) if is_condition_failure(&e) => {
                let current = self
                    .client()
                    .get_item()
                    .table_name(self.name())
                    .set_key(Some(claim_key(owner, dedup)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| err(&e))?;
                let done = current
                    .item()
                    .is_some_and(|i| text(i, "status") == "completed");
                Ok(if done { Claim::Duplicate } else { Claim::Busy })
            }
            Err(e) => Err(err(&e)),
        }
    }

    pub(super) async fn release(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.name())
            .set_key(Some(claim_key(owner, dedup)))
            .condition_expression("claim_id = :claim AND #status = :progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":progress", s("in_progress"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(err(&e)),
        }
    }

    pub(super) async fn complete(
        &self,
        owner: &Owner,
        dedup: &str,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(claim_key(owner, dedup)))
            .update_expression("SET #status = :done")
            .condition_expression("claim_id = :claim AND #status = :progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", s("completed"))
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":progress", s("in_progress"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(&e))
    }

    pub(super) async fn deauthorization(&self, r: &Deauthorization<'_>) -> Result<(), StoreError> {
        let count = |c: usize| n(i64::try_from(c).unwrap_or(i64::MAX));
        self.client()
            .put_item()
            .table_name(self.name())
            .item("pk", s(format!("COMPLIANCE#{}", r.zoom_user_id)))
            .item("sk", s(format!("DEAUTH#{}#{}", r.now, r.at)))
            .item("account_id", s(r.account_id))
            .item("deauthorization_time", s(r.at))
            .item("connections_deleted", count(r.connections_deleted))
            .item("connections_kept", count(r.connections_kept))
            .item("recorded_at", n(r.now))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(&e))
    }
}
