//! The per-tenant cache of user pages: `pk=TENANT#{tenant}`, `sk=USERS#{query}`, kept
//! [`USERS_CACHE_SECS`] (DynamoDB's TTL removes old entries; freshness is checked on read).

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use zoom_shared::aws::{Table, describe_sdk_error};
use zoom_shared::tokens::store::StoreError;

/// How long a cached page of users is served, in seconds.
pub const USERS_CACHE_SECS: i64 = 120;

fn sort_key(query: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, query.as_bytes());
    let hex: String = digest
        .as_ref()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("USERS#{hex}")
}

/// A cached page, if one younger than [`USERS_CACHE_SECS`] exists.
pub async fn get(
    table: &Table,
    tenant: &str,
    query: &str,
    now: i64,
) -> Result<Option<Value>, StoreError> {
    let answer = table
        .client()
        .get_item()
        .table_name(table.name())
        .key("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .key("sk", AttributeValue::S(sort_key(query)))
        .send()
        .await
        .map_err(|e| StoreError(describe_sdk_error(&e)))?;
    let Some(item) = answer.item() else {
        return Ok(None);
    };
    let cached_at: i64 = item
        .get("cached_at")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if now - cached_at >= USERS_CACHE_SECS {
        return Ok(None);
    }
    Ok(item
        .get("data")
        .and_then(|v| v.as_s().ok())
        .and_then(|d| serde_json::from_str(d).ok()))
}

/// Caches a page.
pub async fn put(
    table: &Table,
    tenant: &str,
    query: &str,
    page: &Value,
    now: i64,
) -> Result<(), StoreError> {
    table
        .client()
        .put_item()
        .table_name(table.name())
        .item("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .item("sk", AttributeValue::S(sort_key(query)))
        .item("data", AttributeValue::S(page.to_string()))
        .item("cached_at", AttributeValue::N(now.to_string()))
        .item(
            "ttl",
            AttributeValue::N((now + USERS_CACHE_SECS).to_string()),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| StoreError(describe_sdk_error(&e)))
}
