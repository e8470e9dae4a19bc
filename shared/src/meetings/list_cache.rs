//! The per-tenant cache of meeting-list pages, so repeated list reads do not each spend a Zoom
//! call: `pk=TENANT#{tenant}`, `sk=MEETLIST#{digest of the Zoom query}`, served for
//! [`LIST_CACHE_SECS`] unless the tenant's meetings changed after the page was fetched.
//!
//! Changes are recorded on one marker item per tenant (`sk=MEETLIST#CHANGED`, `changed_ms`):
//! by our own create, update and delete, by webhook-driven status changes
//! ([`Table::set_meeting_status`]) and when a connection is stored. A page is served only if it
//! was fetched (time taken *before* the Zoom call) strictly after the last change, so a change
//! racing a fetch always wins. Changes made in Zoom without a webhook show within
//! [`LIST_CACHE_SECS`]; `?refresh=true` skips the cache.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::aws::{Table, describe_sdk_error};
use crate::tokens::store::StoreError;

/// How long a cached page of meetings is served, in seconds.
pub const LIST_CACHE_SECS: i64 = 60;

const CHANGED: &str = "MEETLIST#CHANGED";

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Whether a page fetched at `fetched_ms` may be served at `now_ms`, given the tenant's last
/// change at `changed_ms` (if any).
pub fn is_fresh(fetched_ms: i64, changed_ms: Option<i64>, now_ms: i64) -> bool {
    let young = now_ms.saturating_sub(fetched_ms) < LIST_CACHE_SECS * 1000 && fetched_ms <= now_ms;
    young && changed_ms.is_none_or(|changed| fetched_ms > changed)
}

fn key(tenant: &str, sort_key: String) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("TENANT#{tenant}")),
        ),
        ("sk".to_owned(), AttributeValue::S(sort_key)),
    ])
}

fn page_key(tenant: &str, query: &str) -> HashMap<String, AttributeValue> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, query.as_bytes());
    key(
        tenant,
        format!("MEETLIST#{}", hex::encode(&digest.as_ref()[..16])),
    )
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

impl Table {
    /// The cached page for Zoom query `query`, if it may be served at `now_ms`.
    pub async fn cached_meeting_list(
        &self,
        tenant: &str,
        query: &str,
        now_ms: i64,
    ) -> Result<Option<Value>, StoreError> {
        // Strongly consistent: a list right after our own change must see its marker.
        let get = |key| {
            self.client()
                .get_item()
                .table_name(self.name())
                .set_key(Some(key))
                .consistent_read(true)
                .send()
        };
        let (page, changed) = tokio::join!(
            get(page_key(tenant, query)),
            get(key(tenant, CHANGED.to_owned()))
        );
        let page = page.map_err(|e| StoreError(describe_sdk_error(&e)))?;
        let changed = changed.map_err(|e| StoreError(describe_sdk_error(&e)))?;
        let Some(page) = page.item() else {
            return Ok(None);
        };
        let fetched_ms = number(page, "fetched_ms").unwrap_or(i64::MIN);
        let changed_ms = changed.item().and_then(|i| number(i, "changed_ms"));
        if !is_fresh(fetched_ms, changed_ms, now_ms) {
            return Ok(None);
        }
        Ok(page
            .get("data")
            .and_then(|v| v.as_s().ok())
            .and_then(|d| serde_json::from_str(d).ok()))
    }

    /// Caches `page` for Zoom query `query`, fetched at `fetched_ms` (taken before the call).
    pub async fn cache_meeting_list(
        &self,
        tenant: &str,
        query: &str,
        page: &Value,
        fetched_ms: i64,
    ) -> Result<(), StoreError> {
        let mut item = page_key(tenant, query);
        item.extend([
            ("data".to_owned(), AttributeValue::S(page.to_string())),
            (
                "fetched_ms".to_owned(),
                AttributeValue::N(fetched_ms.to_string()),
            ),
            (
                "ttl".to_owned(),
                AttributeValue::N((fetched_ms / 1000 + LIST_CACHE_SECS).to_string()),
            ),
        ]);
        self.client()
            .put_item()
            .table_name(self.name())
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError(describe_sdk_error(&e)))
    }

    /// Records that the tenant's meetings changed at `now_ms`: no page fetched before is served.
    pub async fn meeting_lists_changed(&self, tenant: &str, now_ms: i64) -> Result<(), StoreError> {
        // Kept until every page it could invalidate has expired anyway.
        let ttl = now_ms / 1000 + 2 * LIST_CACHE_SECS;
        self.client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key(tenant, CHANGED.to_owned())))
            .update_expression("SET changed_ms = :now, #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError(describe_sdk_error(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_young_page_with_no_change_is_served() {
        assert!(is_fresh(NOW - 1, None, NOW));
        assert!(is_fresh(NOW - LIST_CACHE_SECS * 1000 + 1, None, NOW));
    }

    #[test]
    fn a_page_as_old_as_the_limit_is_not() {
        assert!(!is_fresh(NOW - LIST_CACHE_SECS * 1000, None, NOW));
        assert!(!is_fresh(i64::MIN, None, NOW));
    }

    #[test]
    fn a_change_at_or_after_the_fetch_wins() {
        assert!(!is_fresh(NOW - 10, Some(NOW - 10), NOW));
        assert!(!is_fresh(NOW - 10, Some(NOW - 5), NOW));
        assert!(is_fresh(NOW - 10, Some(NOW - 11), NOW));
    }

    #[test]
    fn a_page_from_the_future_is_not_trusted() {
        assert!(!is_fresh(NOW + 1, None, NOW));
        assert!(!is_fresh(i64::MAX, None, NOW));
    }

    #[test]
    fn queries_and_tenants_have_their_own_keys() {
        assert_ne!(page_key("a", "/q1"), page_key("a", "/q2"));
        assert_ne!(page_key("a", "/q1"), page_key("b", "/q1"));
        assert_ne!(
            page_key("a", "/q1")["sk"],
            key("a", CHANGED.to_owned())["sk"]
        );
    }
}
