//! `zoom-users` end to end.

use std::collections::HashSet;

use serde_json::Value;
use zoom_e2e::*;

async fn get(api: &str, tenant: &str, path: &str) -> Answer {
    send(
        client()
            .get(format!("{api}{path}"))
            .bearer_auth(jwt(tenant)),
    )
    .await
}

#[tokio::test]
async fn pagination_across_2500_users_returns_each_once() {
    let env = isolated_with(
        &[("ZOOM_SIM_USERS", "2500"), ("ZOOM_SIM_PLAN", "business")],
        &[],
        1,
    )
    .await;
    let tenant = unique("paging");
    connect(&env.watch.api, &tenant).await;
    let mut seen = HashSet::new();
    let mut pages = 0;
    for status in ["active", "inactive", "pending"] {
        let mut token = String::new();
        loop {
            let answer = get(
                &env.watch.api,
                &tenant,
                &format!("/api/zoom/users?status={status}&page_size=300&next_page_token={token}"),
            )
            .await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let page = answer.json();
            for user in page["users"].as_array().expect("users") {
                for field in ["id", "email", "first_name", "last_name", "type", "status"] {
                    assert!(!user[field].is_null(), "{field}");
                }
                assert!(
                    seen.insert(user["id"].as_str().expect("id").to_owned()),
                    "a user came twice"
                );
            }
            pages += 1;
            token = page["next_page_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if token.is_empty() {
                break;
            }
        }
    }
    assert_eq!(seen.len(), 2500);
    assert!(pages >= 9);
}

#[tokio::test]
async fn a_dashboard_reload_is_served_from_the_cache() {
    let env = isolated(&[], 1).await;
    let tenant = unique("cache");
    connect(&env.watch.api, &tenant).await;
    let first = get(&env.watch.api, &tenant, "/api/zoom/users?page_size=10").await;
    assert_eq!(first.status, 200);
    let calls = |stats: &Value| stats["calls"]["GET /v2/users"].as_u64().unwrap_or(0);
    let before = calls(&env.sim.get("stats").await);
    for _ in 0..5 {
        assert_eq!(
            get(&env.watch.api, &tenant, "/api/zoom/users?page_size=10")
                .await
                .text,
            first.text
        );
    }
    assert_eq!(
        calls(&env.sim.get("stats").await),
        before,
        "zero Zoom calls on reload"
    );
    get(
        &env.watch.api,
        &tenant,
        "/api/zoom/users?page_size=10&refresh=true",
    )
    .await;
    assert_eq!(calls(&env.sim.get("stats").await), before + 1);
    // Another tenant never sees this tenant's cache.
    get(
        &env.watch.api,
        &unique("stranger"),
        "/api/zoom/users?page_size=10",
    )
    .await
    .problem(409);
}

#[tokio::test]
async fn one_user_and_zoom_not_found() {
    let tenant = unique("one");
    connect(&api(), &tenant).await;
    let me = get(&api(), &tenant, "/api/zoom/users/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    let id = me.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        get(&api(), &tenant, &format!("/api/zoom/users/{id}"))
            .await
            .json()["id"],
        id
    );
    let missing = get(&api(), &tenant, "/api/zoom/users/nobody-here")
        .await
        .problem(404);
    assert_eq!(missing["zoom_code"], 1001);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let tenant = unique("badusers");
    for (query, field) in [
        ("status=deleted", "status"),
        ("page_size=0", "page_size"),
        ("page_size=abc", "page_size"),
        ("next_page_token=%00", "next_page_token"),
        ("refresh=1", "refresh"),
    ] {
        let problem = get(&api(), &tenant, &format!("/api/zoom/users?{query}"))
            .await
            .problem(400);
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
    get(&api(), &tenant, "/api/zoom/users/bad%20id")
        .await
        .problem(400);
    send(client().get(format!("{}/api/zoom/users", api())))
        .await
        .problem(401);
    send(
        client()
            .post(format!("{}/api/zoom/users", api()))
            .bearer_auth(jwt(&tenant)),
    )
    .await
    .problem(405);
}
