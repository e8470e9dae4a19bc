//! The stack's Zoom simulator shares the functions' OAuth app and webhook secret.

use serde_json::Value;
use zoom_e2e::{client, env, send};

#[tokio::test]
async fn simulator_is_up_with_the_stack_configuration() {
    let sim = env("ZOOM_SIM_URL");
    let answer = send(client().get(format!("{sim}/_sim/config"))).await;
    assert_eq!(answer.status, 200);
    let config: Value = answer.json();
    assert_eq!(config["client_id"], env("ZOOM_CLIENT_ID"));
    assert_eq!(config["redirect_uri"], env("ZOOM_REDIRECT_URI"));
    assert!(
        config["webhook_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&env("ZOOM_E2E_API")))
    );
    assert!(
        !answer.text.contains(&env("ZOOM_CLIENT_SECRET")),
        "the admin API never shows secrets"
    );
    assert!(!answer.text.contains(&env("ZOOM_WEBHOOK_SECRET_TOKEN")));
}
