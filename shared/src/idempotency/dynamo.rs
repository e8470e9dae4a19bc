//! The DynamoDB adapter of idempotency records: `DATA#{ns}` / `IDEM#{route}#{digest(key)}`
//! (`fingerprint`, `phase` claimed|sending|unknown|done, `claim`, `claimed_until`,
//! `started_at`, the stored answer, `ttl`).

use super::{Begin, CLAIM_SECS, IdempotencyStore, RETENTION_SECS, StoredAnswer};
use crate::aws::is_condition_failure;
use crate::owner::Owner;
use crate::store::item::{Item, digest, key, n, number, s, text};
use crate::store::{StoreError, Table};

/// Records in the table.
#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    table: Table,
}

impl DynamoIdempotency {
    /// Records in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

fn record_key(owner: &Owner, route: &str, idempotency_key: &str) -> Item {
    key(
        owner.data_pk(),
        format!("IDEM#{route}#{}", digest(idempotency_key)),
    )
}

fn new_claim() -> String {
    let mut bytes = [0u8; 12];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex::encode(bytes)
}

impl DynamoIdempotency {
    /// Sets `phase` (and more) if the record is still held by `claim`.
    async fn advance(
        &self,
        record: Item,
        claim: &str,
        expression: &str,
        values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(record))
            .update_expression(expression)
            .condition_expression("claim = :claim")
            .expression_attribute_values(":claim", s(claim));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }

    /// Takes over the record from `old` with a new claim.
    async fn take_over(
        &self,
        record: Item,
        old: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let claim = new_claim();
        let taken = self
            .advance(
                record,
                old,
                "SET claim = :new, claimed_until = :until",
                vec![(":new", s(&claim)), (":until", n(now + CLAIM_SECS))],
            )
            .await?;
        Ok(taken.then_some(claim))
    }
}

impl IdempotencyStore for DynamoIdempotency {
    async fn begin(
        &self,
        owner: &Owner,
        route: &str,
        idempotency_key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Begin, StoreError> {
        let record = record_key(owner, route, idempotency_key);
        let claim = new_claim();
        let mut item = record.clone();
        item.extend([
            ("fingerprint".to_owned(), s(fingerprint)),
            ("phase".to_owned(), s("claimed")),
            ("claim".to_owned(), s(&claim)),
            ("claimed_until".to_owned(), n(now + CLAIM_SECS)),
            ("started_at".to_owned(), n(now)),
            ("ttl".to_owned(), n(now + RETENTION_SECS)),
        ]);
        let put = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Begin::New { claim }),
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(StoreError::from_sdk(&e)),
        }
        let Some(stored) = self.table.get(record.clone(), true).await? else {
            // Expired between the two calls: the next attempt starts anew.
            return Ok(Begin::InFlight);
        };
        if text(&stored, "fingerprint").as_deref() != Some(fingerprint) {
            return Ok(Begin::Mismatch);
        }
        let old = text(&stored, "claim").unwrap_or_default();
        let held = number(&stored, "claimed_until").unwrap_or(0) > now;
        let started_at = number(&stored, "started_at").unwrap_or(now);
        Ok(match text(&stored, "phase").as_deref() {
            Some("done") => Begin::Replay(StoredAnswer {
                status: number(&stored, "answer_status")
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500),
                location: text(&stored, "answer_location"),
                body: text(&stored, "answer_body").unwrap_or_default(),
            }),
            Some("unknown") => match self.take_over(record, &old, now).await? {
                Some(claim) => Begin::Unknown { claim, started_at },
                None => Begin::InFlight,
            },
            _ if held => Begin::InFlight,
            // The attempt died: before Zoom (run anew) or after sending (outcome unknown).
            Some("sending") => match self.take_over(record, &old, now).await? {
                Some(claim) => Begin::Unknown { claim, started_at },
                None => Begin::InFlight,
            },
            _ => match self.take_over(record, &old, now).await? {
                Some(claim) => Begin::New { claim },
                None => Begin::InFlight,
            },
        })
    }

    async fn sending(
        &self,
        owner: &Owner,
        route: &str,
        idempotency_key: &str,
        claim: &str,
    ) -> Result<(), StoreError> {
        self.advance(
            record_key(owner, route, idempotency_key),
            claim,
            "SET phase = :phase",
            vec![(":phase", s("sending"))],
        )
        .await
        .map(|_| ())
    }

    async fn unknown(
        &self,
        owner: &Owner,
        route: &str,
        idempotency_key: &str,
        claim: &str,
    ) -> Result<(), StoreError> {
        self.advance(
            record_key(owner, route, idempotency_key),
            claim,
            "SET phase = :phase, claimed_until = :zero",
            vec![(":phase", s("unknown")), (":zero", n(0))],
        )
        .await
        .map(|_| ())
    }

    async fn finish(
        &self,
        owner: &Owner,
        route: &str,
        idempotency_key: &str,
        claim: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        let mut expression =
            "SET phase = :phase, answer_status = :status, answer_body = :body".to_owned();
        let mut values = vec![
            (":phase", s("done")),
            (":status", n(i64::from(answer.status))),
            (":body", s(&answer.body)),
        ];
        if let Some(location) = &answer.location {
            expression.push_str(", answer_location = :location");
            values.push((":location", s(location)));
        }
        self.advance(
            record_key(owner, route, idempotency_key),
            claim,
            &expression,
            values,
        )
        .await
        .map(|_| ())
    }

    async fn release(
        &self,
        owner: &Owner,
        route: &str,
        idempotency_key: &str,
        claim: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .set_key(Some(record_key(owner, route, idempotency_key)))
            .condition_expression("claim = :claim AND phase IN (:claimed, :sending)")
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::from_sdk(&e)),
        }
    }
}
