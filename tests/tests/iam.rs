//! Least privilege, end to end. Locally each function signs with its own credentials and the
//! emulator allows it exactly what template.yaml grants it (tools/stack/moto_server.py), so a
//! permission missing from the template fails here as it would in AWS.
//!
//! `zoom-users` refreshes a tenant's token under a lease taken with a conditional
//! `UpdateItem`: without `dynamodb:UpdateItem` the refresh is denied and the route answers 503;
//! with the template as it is, the same flow answers 200.

use serde_json::{Value, json};
use zoom_e2e::*;

/// template.yaml with zoom-users' `dynamodb:UpdateItem` removed (and nothing else).
fn template_without_users_update_item() -> String {
    let template =
        std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    let lines: Vec<&str> = template.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "  UsersFunction:")
        .expect("UsersFunction in the template");
    // The function's block ends at the next resource (or section) of the template.
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.is_empty() && !l.starts_with("   "))
        .map_or(lines.len(), |i| start + 1 + i);
    let grant = (start..end)
        .find(|&i| lines[i].trim() == "- dynamodb:UpdateItem")
        .expect("UsersFunction grants dynamodb:UpdateItem");
    let mut kept: Vec<&str> = lines.clone();
    kept.remove(grant);
    kept.join("\n") + "\n"
}

async fn users(api: &str, tenant: &str) -> Answer {
    // `refresh=true`: past the 120 s page cache, so Zoom is called (with the tenant's token).
    send(
        client()
            .get(format!("{api}/api/zoom/users?refresh=true"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

fn denials(audit: &[Value]) -> Vec<String> {
    audit
        .iter()
        .filter(|d| d["allowed"] == false)
        .map(|d| format!("{} {} {}", d["principal"], d["action"], d["resource"]))
        .collect()
}

#[tokio::test]
async fn without_update_item_the_users_token_refresh_is_denied_and_answers_503() {
    let aws = OwnAws::start(&template_without_users_update_item()).await;
    let mut overrides: Vec<(&str, &str)> = aws
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    overrides.push(("AWS_ENDPOINT_URL", aws.url.as_str()));
    let env = isolated_with(&[], &overrides, 1).await;
    let tenant = unique("iam-denied");
    assert!(
        connect(&env.watch.api, &tenant)
            .await
            .ends_with("zoom=connected")
    );
    // With a valid token the route needs only what is still granted (GetItem, PutItem).
    let before = users(&env.watch.api, &tenant).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert!(
        denials(&aws.audit()).is_empty(),
        "{:?}",
        denials(&aws.audit())
    );

    // Zoom now refuses the token: the function must refresh it, under the lease.
    env.sim.post("tokens/expire", json!({"all": true})).await;
    let answer = users(&env.watch.api, &tenant).await;
    let problem = answer.problem(503);
    assert_eq!(
        problem["type"], "urn:problem:zoom-connector:dependency-unavailable",
        "{problem}"
    );
    let denied = denials(&aws.audit());
    assert!(
        denied
            .iter()
            .any(|d| d.starts_with(r#""zoom-users" "dynamodb:UpdateItem" "#)),
        "the lease's UpdateItem was denied: {denied:?}"
    );
    assert!(
        denied
            .iter()
            .all(|d| d.starts_with(r#""zoom-users" "dynamodb:UpdateItem" "#)),
        "nothing else was denied: {denied:?}"
    );
    let stats = env.sim.get("stats").await;
    assert_eq!(
        stats["tokens_refreshed"], 0,
        "no refresh without the lease: {stats}"
    );
}

#[tokio::test]
async fn with_the_template_as_it_is_the_same_refresh_answers_200() {
    // The stack's own emulator, provisioned from template.yaml, with a simulator of our own.
    let env = isolated_with(&[], &[], 1).await;
    let tenant = unique("iam-granted");
    assert!(
        connect(&env.watch.api, &tenant)
            .await
            .ends_with("zoom=connected")
    );
    let before = users(&env.watch.api, &tenant).await;
    assert_eq!(before.status, 200, "{}", before.text);

    env.sim.post("tokens/expire", json!({"all": true})).await;
    let answer = users(&env.watch.api, &tenant).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.json()["users"].is_array(), "{}", answer.text);
    let stats = env.sim.get("stats").await;
    assert_eq!(stats["tokens_refreshed"], 1, "refreshed once: {stats}");
}
