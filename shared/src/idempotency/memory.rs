//! An in-memory [`IdempotencyStore`] with the adapter's semantics, for unit tests (feature
//! `fakes`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Begin, CLAIM_SECS, IdempotencyStore, StoredAnswer};
use crate::owner::Owner;
use crate::store::StoreError;

/// One record.
#[derive(Debug, Clone)]
struct Record {
    fingerprint: String,
    phase: &'static str,
    claim: String,
    claimed_until: i64,
    started_at: i64,
    answer: Option<StoredAnswer>,
}

/// Records by (namespace, route, key).
#[derive(Debug, Default)]
pub struct MemoryIdempotency {
    records: Mutex<HashMap<(String, String, String), Record>>,
    claims: std::sync::atomic::AtomicU64,
}

impl MemoryIdempotency {
    fn claim(&self) -> String {
        format!(
            "c{}",
            self.claims
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        )
    }

    fn with<T>(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        f: impl FnOnce(Option<&mut Record>) -> T,
    ) -> T {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        f(records.get_mut(&(owner.namespace(), route.to_owned(), key.to_owned())))
    }

    fn advance(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
        f: impl FnOnce(&mut Record),
    ) {
        self.with(owner, route, key, |r| {
            if let Some(r) = r.filter(|r| r.claim == claim) {
                f(r);
            }
        });
    }
}

impl IdempotencyStore for MemoryIdempotency {
    async fn begin(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Begin, StoreError> {
        let claim = self.claim();
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let id = (owner.namespace(), route.to_owned(), key.to_owned());
        let Some(r) = records.get_mut(&id) else {
            records.insert(
                id,
                Record {
                    fingerprint: fingerprint.to_owned(),
                    phase: "claimed",
                    claim: claim.clone(),
                    claimed_until: now + CLAIM_SECS,
                    started_at: now,
                    answer: None,
                },
            );
            return Ok(Begin::New { claim });
        };
        if r.fingerprint != fingerprint {
            return Ok(Begin::Mismatch);
        }
        if let Some(answer) = &r.answer {
            return Ok(Begin::Replay(answer.clone()));
        }
        let held = r.claimed_until > now;
        let outcome = match r.phase {
            "unknown" => Begin::Unknown {
                claim: claim.clone(),
                started_at: r.started_at,
            },
            _ if held => return Ok(Begin::InFlight),
            "sending" => Begin::Unknown {
                claim: claim.clone(),
                started_at: r.started_at,
            },
            _ => Begin::New {
                claim: claim.clone(),
            },
        };
        r.claim = claim;
        r.claimed_until = now + CLAIM_SECS;
        Ok(outcome)
    }

    async fn sending(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
    ) -> Result<(), StoreError> {
        self.advance(owner, route, key, claim, |r| r.phase = "sending");
        Ok(())
    }

    async fn unknown(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
    ) -> Result<(), StoreError> {
        self.advance(owner, route, key, claim, |r| {
            r.phase = "unknown";
            r.claimed_until = 0;
        });
        Ok(())
    }

    async fn finish(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        self.advance(owner, route, key, claim, |r| {
            r.phase = "done";
            r.answer = Some(answer.clone());
        });
        Ok(())
    }

    async fn release(
        &self,
        owner: &Owner,
        route: &str,
        key: &str,
        claim: &str,
    ) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let id = (owner.namespace(), route.to_owned(), key.to_owned());
        if records
            .get(&id)
            .is_some_and(|r| r.claim == claim && matches!(r.phase, "claimed" | "sending"))
        {
            records.remove(&id);
        }
        Ok(())
    }
}
