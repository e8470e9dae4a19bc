//! Every REST operation the simulator serves, and every webhook it sends, validated against
//! Zoom's own published documents, so the simulator cannot drift from Zoom.

mod support;

use jsonschema::Draft;
use serde_json::{Value, json};
use support::*;

fn validate(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("{what}: schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} breaks Zoom's document:\n{}\n{instance}",
        errors.join("\n")
    );
}

fn response_schema(specs: &[Value], method: &str, path: &str, status: u16) -> Value {
    specs
        .iter()
        .find_map(|s| {
            s["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
                ["schema"]
                .as_object()
        })
        .map(|o| Value::Object(o.clone()))
        .unwrap_or_else(|| panic!("no schema for {method} {path} {status}"))
}

/// Zoom requires UUIDs that begin with `/` or contain `//` to be double-encoded.
fn encode_uuid(uuid: &str) -> String {
    let once =
        percent_encoding::utf8_percent_encode(uuid, percent_encoding::NON_ALPHANUMERIC).to_string();
    if uuid.starts_with('/') || uuid.contains("//") {
        percent_encoding::utf8_percent_encode(&once, percent_encoding::NON_ALPHANUMERIC).to_string()
    } else {
        once
    }
}

#[tokio::test]
async fn every_rest_operation_answers_as_zoom_documents() {
    let specs = [
        spec("zoom-meetings-openapi.json"),
        spec("zoom-users-openapi.json"),
    ];
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let account = client()
        .get(format!("{}/_sim/account", sim.url()))
        .send()
        .await
        .expect("account")
        .json::<Value>()
        .await
        .expect("json");
    let me = account["authorizing_user"]["id"]
        .as_str()
        .expect("me")
        .to_owned();
    let recording = account["recordings"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["host_id"] == me))
        .expect("a recording")
        .clone();
    let uuid = recording["uuid"].as_str().expect("uuid").to_owned();
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(25)).to_string();

    let mut walked = Vec::new();
    let mut check = |method: &str, template: &str, status: u16, body: Value| {
        validate(
            &response_schema(&specs, method, template, status),
            &body,
            &format!("{method} {template}"),
        );
        walked.push(format!("{} {template}", method.to_uppercase()));
    };
    let read = |path: String| {
        let (sim, token) = (&sim, &token);
        async move {
            let response = get(sim, token, &path).await;
            assert_eq!(response.status(), 200, "GET {path}");
            response.json::<Value>().await.expect("json")
        }
    };

    check(
        "get",
        "/users",
        200,
        read("/v2/users?page_size=5".into()).await,
    );
    check(
        "get",
        "/users/{userId}",
        200,
        read("/v2/users/me".into()).await,
    );
    check(
        "get",
        "/users/{userId}/meetings",
        200,
        read(format!("/v2/users/{me}/meetings?type=scheduled")).await,
    );
    check(
        "get",
        "/users/{userId}/meetings",
        200,
        read("/v2/users/me/meetings?type=previous_meetings".into()).await,
    );
    check(
        "get",
        "/users/{userId}/recordings",
        200,
        read(format!("/v2/users/me/recordings?from={from}&to={today}")).await,
    );
    check(
        "get",
        "/meetings/{meetingId}/recordings",
        200,
        read(format!("/v2/meetings/{}/recordings", encode_uuid(&uuid))).await,
    );
    check(
        "get",
        "/past_meetings/{meetingId}",
        200,
        read(format!("/v2/past_meetings/{}", encode_uuid(&uuid))).await,
    );
    check(
        "get",
        "/report/meetings/{meetingId}/participants",
        200,
        read(format!(
            "/v2/report/meetings/{}/participants",
            encode_uuid(&uuid)
        ))
        .await,
    );

    let created = client()
        .post(format!("{}/v2/users/me/meetings", sim.url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "Spec walk", "type": 2, "start_time": "2030-01-02T15:00:00Z", "duration": 30, "timezone": "UTC", "agenda": "a", "password": "abc123", "settings": {"waiting_room": false}}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    check("post", "/users/{userId}/meetings", 201, created.clone());
    let id = created["id"].as_i64().expect("id");
    check(
        "get",
        "/meetings/{meetingId}",
        200,
        read(format!("/v2/meetings/{id}")).await,
    );
    let patched = client()
        .patch(format!("{}/v2/meetings/{id}", sim.url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "Renamed"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 204);
    assert_eq!(read(format!("/v2/meetings/{id}")).await["topic"], "Renamed");
    walked.push("PATCH /meetings/{meetingId}".into());
    let deleted = client()
        .delete(format!("{}/v2/meetings/{id}", sim.url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    walked.push("DELETE /meetings/{meetingId}".into());

    // Every operation the simulator serves was walked.
    let served = sim
        .sim
        .state()
        .world
        .stats
        .calls
        .keys()
        .filter(|k| k.contains("/v2/"))
        .cloned()
        .collect::<Vec<_>>();
    for key in served {
        let template = key.replacen("/v2", "", 1);
        assert!(
            walked.contains(&template),
            "{template} served but not validated"
        );
    }
    assert_eq!(
        walked
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        11
    );
}

#[tokio::test]
async fn every_webhook_matches_zoom_webhook_documents() {
    let meetings = spec("zoom-meetings-webhooks.json");
    let marketplace = spec("zoom-marketplace-webhooks.json");
    let hooks = receiver(vec![], vec![]).await;
    let sim = start(|c| c.webhook_url = hooks.url.clone()).await;
    let admin = |path: &str, body: Value| {
        let url = format!("{}/_sim/{path}", sim.url());
        async move {
            let response = client().post(url).json(&body).send().await.expect("admin");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("json")
        }
    };
    let account: Value = client()
        .get(format!("{}/_sim/account", sim.url()))
        .send()
        .await
        .expect("a")
        .json()
        .await
        .expect("j");
    let id = account["meetings"][0]["id"].as_i64().expect("id");
    admin(&format!("meetings/{id}/start"), json!({})).await;
    let joined = admin(
        &format!("meetings/{id}/participants"),
        json!({"name": "Jill", "email": "jill@example.com"}),
    )
    .await;
    let pid = joined["participant_id"].as_str().expect("pid").to_owned();
    admin(
        &format!("meetings/{id}/participants/{pid}/leave"),
        json!({}),
    )
    .await;
    admin(&format!("meetings/{id}/end"), json!({"record": true})).await;
    admin(&format!("meetings/{id}/delete"), json!({})).await;
    admin("deauthorize", json!({})).await;

    let expected = [
        "meeting.started",
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.ended",
        "recording.completed",
        "meeting.deleted",
        "app_deauthorized",
    ];
    eventually(|| hooks.received.lock().expect("lock").len() >= expected.len()).await;
    let received = hooks.received.lock().expect("lock").clone();
    let mut seen = Vec::new();
    for hook in received {
        let body: Value = serde_json::from_str(&hook.body).expect("webhook JSON");
        let event = body["event"].as_str().expect("event").to_owned();
        let document = if event == "app_deauthorized" {
            &marketplace
        } else {
            &meetings
        };
        let schema = &document["webhooks"][&event]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        assert!(schema.is_object(), "no schema for {event}");
        validate(schema, &body, &event);
        seen.push(event);
    }
    seen.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
}
