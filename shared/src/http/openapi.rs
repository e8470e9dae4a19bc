//! Checking a function's route table against `docs/openapi.yaml` (feature `openapi-check`,
//! enabled by every function's tests): a route added without documenting it, or documented
//! without being served, fails that function's tests.

use std::collections::BTreeSet;

use serde_norway::Value;

use super::Router;

/// The methods an OpenAPI path item may hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The `(METHOD, path)` operations of the document whose `x-function` is `function`.
pub fn documented(document: &str, function: &str) -> BTreeSet<(String, String)> {
    let doc: Value = serde_norway::from_str(document).expect("docs/openapi.yaml is YAML");
    let paths = doc
        .get("paths")
        .and_then(Value::as_mapping)
        .expect("the document has paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("paths are strings");
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let owner = operation.get("x-function").and_then(Value::as_str);
            assert!(owner.is_some(), "{method} {path} has no x-function");
            if owner == Some(function) {
                operations.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    operations
}

/// The workspace's `docs/openapi.yaml`.
fn workspace_document() -> String {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");
    std::fs::read_to_string(file).expect("docs/openapi.yaml is readable")
}

/// The string members of the `enum` found at `path` (keys from the root) in the workspace's
/// `docs/openapi.yaml`, for tests that hold a documented list equal to the code's.
pub fn documented_enum(path: &[&str]) -> Vec<String> {
    let doc: Value = serde_norway::from_str(&workspace_document()).expect("YAML");
    let node = path.iter().fold(&doc, |node, key| {
        node.get(*key)
            .unwrap_or_else(|| panic!("docs/openapi.yaml has no {path:?}"))
    });
    node.get("enum")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("{path:?} has no enum"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Asserts that `router` serves exactly the operations documented for `function` in the
/// workspace's `docs/openapi.yaml`.
pub fn assert_documented<R: Copy>(router: &Router<R>, function: &str) {
    let document = workspace_document();
    let served: BTreeSet<(String, String)> = router
        .table()
        .map(|(method, path)| (method.as_str().to_owned(), path.to_owned()))
        .collect();
    let documented = documented(&document, function);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "{function}: served but not in docs/openapi.yaml: {undocumented:?}; documented but not served: {unserved:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "
openapi: 3.1.0
paths:
  /a:
    parameters: []
    get: { x-function: one }
    post: { x-function: two }
  /a/{id}:
    delete: { x-function: one }
";

    #[test]
    fn operations_are_read_per_function() {
        let one = documented(DOC, "one");
        assert_eq!(
            one.into_iter().collect::<Vec<_>>(),
            vec![
                ("DELETE".to_owned(), "/a/{id}".to_owned()),
                ("GET".to_owned(), "/a".to_owned())
            ]
        );
        assert_eq!(documented(DOC, "two").len(), 1);
        assert!(documented(DOC, "three").is_empty());
    }

    /// The document's problem types are exactly the ones errors produce.
    #[test]
    fn every_problem_type_is_documented() {
        use std::collections::BTreeSet;
        let documented: BTreeSet<String> =
            documented_enum(&["components", "schemas", "Problem", "properties", "type"])
                .into_iter()
                .collect();
        let produced: BTreeSet<String> = crate::http::ApiError::samples()
            .iter()
            .map(|e| e.problem().problem_type)
            .collect();
        assert_eq!(documented, produced);
    }

    #[test]
    #[should_panic(expected = "has no x-function")]
    fn an_operation_without_its_function_is_refused() {
        documented("paths:\n  /a:\n    get: {}\n", "one");
    }
}
