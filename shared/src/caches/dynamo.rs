//! The DynamoDB adapter of the page caches: in the connection's partition `DATA#{ns}`,
//! `sk=PAGE#{family}#{digest of the Zoom query}` (`data`, `fetched_ms`, `ttl`) and the family's
//! change marker `sk=PAGE#{family}#CHANGED` (`changed_ms`).

use serde_json::Value;

use super::{Family, MAX_PAGE_BYTES, PageCache, is_fresh};
use crate::owner::Owner;
use crate::store::item::{Item, digest, key, n, number, s, text};
use crate::store::{StoreError, Table};

/// Page caches in the table.
#[derive(Debug, Clone)]
pub struct DynamoPageCache {
    table: Table,
}

impl DynamoPageCache {
    /// Caches in `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }
}

fn page_key(owner: &Owner, family: Family, query: &str) -> Item {
    key(
        owner.data_pk(),
        format!("{}{}", family.prefix(), digest(query)),
    )
}

fn marker_key(owner: &Owner, family: Family) -> Item {
    key(owner.data_pk(), format!("{}CHANGED", family.prefix()))
}

impl PageCache for DynamoPageCache {
    async fn get(
        &self,
        owner: &Owner,
        family: Family,
        query: &str,
        now_ms: i64,
    ) -> Result<Option<Value>, StoreError> {
        // Strongly consistent: a list right after our own change must see its marker.
        let (page, changed) = tokio::join!(
            self.table.get(page_key(owner, family, query), true),
            self.table.get(marker_key(owner, family), true),
        );
        let Some(page) = page? else {
            return Ok(None);
        };
        let fetched_ms = number(&page, "fetched_ms").unwrap_or(i64::MIN);
        let changed_ms = changed?.and_then(|i| number(&i, "changed_ms"));
        if !is_fresh(family, fetched_ms, changed_ms, now_ms) {
            return Ok(None);
        }
        Ok(text(&page, "data").and_then(|d| serde_json::from_str(&d).ok()))
    }

    async fn put(
        &self,
        owner: &Owner,
        family: Family,
        query: &str,
        page: &Value,
        fetched_ms: i64,
    ) -> Result<bool, StoreError> {
        let data = page.to_string();
        if data.len() > MAX_PAGE_BYTES {
            return Ok(false);
        }
        let mut item = page_key(owner, family, query);
        item.extend([
            ("data".to_owned(), s(data)),
            ("fetched_ms".to_owned(), n(fetched_ms)),
            ("ttl".to_owned(), n(fetched_ms / 1000 + family.ttl_secs())),
        ]);
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .send()
            .await
            .map(|_| true)
            .map_err(|e| StoreError::from_sdk(&e))
    }

    async fn changed(&self, owner: &Owner, family: Family, now_ms: i64) -> Result<(), StoreError> {
        // Kept until every page it could invalidate has expired anyway.
        let ttl = now_ms / 1000 + 2 * family.ttl_secs();
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(marker_key(owner, family)))
            .update_expression("SET changed_ms = :now, #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":ttl", n(ttl))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::from_sdk(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owner::tests::user_owner;

    #[test]
    fn queries_families_and_connections_have_their_own_keys() {
        let a = user_owner("a", "u");
        let b = user_owner("b", "u");
        let f = Family::MeetingLists;
        assert_ne!(page_key(&a, f, "/q1"), page_key(&a, f, "/q2"));
        assert_ne!(page_key(&a, f, "/q1"), page_key(&b, f, "/q1"));
        assert_ne!(page_key(&a, f, "/q1"), page_key(&a, Family::Users, "/q1"));
        assert_ne!(page_key(&a, f, "/q1")["sk"], marker_key(&a, f)["sk"]);
    }
}
