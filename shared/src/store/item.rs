//! Building and reading DynamoDB items: attribute constructors and typed getters, so no store
//! writes `AttributeValue::S(..)` by hand or parses numbers its own way.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A DynamoDB item (or key).
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A boolean attribute.
pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// The key `{pk, sk}`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// A string attribute's value.
pub fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A number attribute's value.
pub fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A boolean attribute's value.
pub fn flag(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}

/// The first 16 bytes of a SHA-256, as hex: a fixed-size, key-safe name for arbitrary text
/// (a query, a state, an id that may contain `#`).
pub fn digest(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    hex::encode(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_back() {
        let mut item = key("P", "S");
        item.insert("t".into(), s("x"));
        item.insert("n".into(), n(-7));
        item.insert("b".into(), b(true));
        assert_eq!(text(&item, "pk").as_deref(), Some("P"));
        assert_eq!(text(&item, "t").as_deref(), Some("x"));
        assert_eq!(number(&item, "n"), Some(-7));
        assert_eq!(flag(&item, "b"), Some(true));
        assert_eq!(number(&item, "t"), None, "a string is not a number");
        assert_eq!(text(&item, "missing"), None);
    }

    #[test]
    fn digests_are_fixed_size_hex() {
        let d = digest("a#b");
        assert_eq!(d.len(), 32);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(d, digest("a#c"));
    }
}
