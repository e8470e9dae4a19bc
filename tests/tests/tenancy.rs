//! Tenant boundaries end to end: two tenants connected as two Zoom users of one account (user
//! OAuth and Server-to-Server), deauthorizations ordered by time, and deletion that reaches the
//! recordings bucket. Everything goes through `cargo lambda watch`, moto and the simulator.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zoom_e2e::*;

/// A request as `token`'s bearer.
async fn call(
    api: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = client()
        .request(method, format!("{api}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

async fn get(api: &str, token: &str, path: &str) -> Answer {
    call(api, token, reqwest::Method::GET, path, None).await
}

/// Waits until `check` holds (at most [`PATIENCE`]), describing what it waits for.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < PATIENCE, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The simulator's account: user ids by index (0 is the owner), with one scheduled meeting and
/// one recording of each of users 0 and 1.
struct Account {
    users: [String; 2],
    meetings: [i64; 2],
    recordings: [Value; 2],
}

async fn account(sim: &SimProcess) -> Account {
    let mut users = Vec::new();
    for index in [0, 1] {
        sim.post("config", json!({"authorizing_user": index})).await;
        let a = sim.get("account").await;
        users.push(a["authorizing_user"]["id"].as_str().expect("id").to_owned());
    }
    sim.post("config", json!({"authorizing_user": 0})).await;
    let a = sim.get("account").await;
    let meeting_of = |user: &str| {
        a["meetings"]
            .as_array()
            .expect("meetings")
            .iter()
            .find(|m| {
                m["host_id"] == user
                    && m["topic"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Planning"))
            })
            .and_then(|m| m["id"].as_i64())
            .expect("a scheduled meeting of the user")
    };
    // Within the recordings list's default 30 days.
    let recent = iso(now() - 25 * 86_400);
    let recording_of = |user: &str| {
        a["recordings"]
            .as_array()
            .expect("recordings")
            .iter()
            .find(|r| {
                r["host_id"] == user
                    && r["start_time"]
                        .as_str()
                        .is_some_and(|s| s > recent.as_str())
                    && !r["uuid"]
                        .as_str()
                        .is_some_and(|u| u.starts_with('/') || u.contains("//"))
            })
            .cloned()
            .expect("a recent recording of the user")
    };
    Account {
        meetings: [meeting_of(&users[0]), meeting_of(&users[1])],
        recordings: [recording_of(&users[0]), recording_of(&users[1])],
        users: [users[0].clone(), users[1].clone()],
    }
}

fn encoded(uuid: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("u", uuid)])
        .expect("u")
        .query()
        .expect("q")[2..]
        .to_owned()
}

/// Neither owner can read, change or delete the other's meetings or recordings: each is 404.
async fn assert_isolated(api: &str, tokens: [&str; 2], acct: &Account) {
    for (me, other) in [(0, 1), (1, 0)] {
        let token = tokens[me];
        let theirs = acct.meetings[other];
        let mine = acct.meetings[me];
        let own = get(api, token, &format!("/api/zoom/meetings/{mine}")).await;
        assert_eq!(own.status, 200, "own meeting: {}", own.text);
        get(
            api,
            token,
            &format!("/api/zoom/meetings/{theirs}?refresh=true"),
        )
        .await
        .problem(404);
        call(
            api,
            token,
            reqwest::Method::PATCH,
            &format!("/api/zoom/meetings/{theirs}"),
            Some(json!({"topic": "taken over"})),
        )
        .await
        .problem(404);
        call(
            api,
            token,
            reqwest::Method::DELETE,
            &format!("/api/zoom/meetings/{theirs}"),
            None,
        )
        .await
        .problem(404);
        get(
            api,
            token,
            &format!("/api/zoom/meetings?user_id={}", acct.users[other]),
        )
        .await
        .problem(404);
        let listed = get(api, token, "/api/zoom/meetings?refresh=true").await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert!(
            listed.json()["meetings"]
                .as_array()
                .expect("meetings")
                .iter()
                .all(|m| m["host_id"] == acct.users[me].as_str()),
            "a list shows only the owner's own meetings: {}",
            listed.text
        );
        let uuid = encoded(acct.recordings[other]["uuid"].as_str().expect("uuid"));
        let file = acct.recordings[other]["files"][0]["id"]
            .as_str()
            .expect("file");
        get(api, token, &format!("/api/zoom/recordings/{uuid}"))
            .await
            .problem(404);
        get(
            api,
            token,
            &format!("/api/zoom/recordings/{uuid}/files/{file}/download"),
        )
        .await
        .problem(404);
        let recordings = get(api, token, "/api/zoom/recordings").await;
        assert_eq!(recordings.status, 200, "{}", recordings.text);
        assert!(
            !recordings
                .text
                .contains(acct.recordings[other]["uuid"].as_str().expect("uuid")),
            "another user's recording is never listed"
        );
    }
    // The meetings the intruders tried to change are as they were.
    for (me, token) in tokens.iter().enumerate() {
        let m = get(
            api,
            token,
            &format!("/api/zoom/meetings/{}?refresh=true", acct.meetings[me]),
        )
        .await;
        assert_ne!(m.json()["topic"], "taken over");
        assert_ne!(m.json()["status"], "cancelled");
    }
}

/// Starts and ends user `who`'s meeting through the simulator (signed webhooks), recording it.
async fn run_meeting(sim: &SimProcess, id: i64) -> String {
    let start = now() - 3600;
    sim.post(&format!("meetings/{id}/start"), json!({"at": iso(start)}))
        .await;
    let joined = sim
        .post(
            &format!("meetings/{id}/participants"),
            json!({"name": "Guest", "at": iso(start + 60)}),
        )
        .await;
    let pid = joined["participant_id"].as_str().expect("pid").to_owned();
    sim.post(
        &format!("meetings/{id}/participants/{pid}/leave"),
        json!({"at": iso(start + 600)}),
    )
    .await;
    let ended = sim
        .post(
            &format!("meetings/{id}/end"),
            json!({"at": iso(start + 1200), "record": true}),
        )
        .await;
    ended["uuid"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default()
}

async fn started_today(api: &str, token: &str) -> i64 {
    let today = date_of(now() - 3600);
    get(
        api,
        token,
        &format!("/api/zoom/analytics/meetings?from={today}&to={today}"),
    )
    .await
    .json()["summary"]["meetings_started"]
        .as_i64()
        .unwrap_or(-1)
}

/// The RECORDING# archive records in the table, by tenant namespace.
async fn archive_records_of(tenant: &str) -> usize {
    scan_table()
        .await
        .iter()
        .filter(|i| i.contains(&format!("DATA#{tenant}#")) && i.contains("RECORDING#"))
        .count()
}

#[tokio::test]
async fn two_users_of_one_account_each_see_only_their_own() {
    let env = isolated_archiving(&[]).await;
    let acct = account(&env.sim).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    connect(&env.watch.api, &alice).await;
    env.sim.post("config", json!({"authorizing_user": 1})).await;
    connect(&env.watch.api, &bob).await;
    env.sim.post("config", json!({"authorizing_user": 0})).await;
    let tokens = [jwt(&alice), jwt(&bob)];
    assert_isolated(&env.watch.api, [&tokens[0], &tokens[1]], &acct).await;

    // Alice's meeting happens (and is recorded): only alice's analytics count it, and only
    // alice's namespace gets archive records.
    run_meeting(&env.sim, acct.meetings[0]).await;
    eventually("alice's analytics count her meeting", || async {
        started_today(&env.watch.api, &tokens[0]).await == 1
    })
    .await;
    eventually("alice's recording is queued for her archive", || async {
        archive_records_of(&alice).await > 0
    })
    .await;
    eventually("the events queue is drained", || async {
        queue_depth(&env.queues.0).await == 0
    })
    .await;
    assert_eq!(
        started_today(&env.watch.api, &tokens[1]).await,
        0,
        "bob's analytics do not count alice's meeting"
    );
    let recent = get(&env.watch.api, &tokens[1], "/api/zoom/analytics/meetings").await;
    assert!(
        recent.json()["recent_meetings"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{}",
        recent.text
    );
    assert_eq!(
        archive_records_of(&bob).await,
        0,
        "no archive job for the tenant that did not host"
    );

    // The archive holds only the host's files, under the host's prefix.
    eventually("the archive queue is drained", || async {
        queue_depth(&env.queues.1).await == 0
    })
    .await;
    let alice_prefix = object_prefix(
        &alice,
        &connection_id(&alice).await.expect("alice connected"),
    );
    let bob_prefix = object_prefix(&bob, &connection_id(&bob).await.expect("bob connected"));
    eventually("alice's files are archived", || async {
        !bucket_versions(&alice_prefix).await.is_empty()
    })
    .await;
    assert!(
        bucket_versions(&bob_prefix).await.is_empty(),
        "nothing of alice's lands under bob's prefix"
    );

    // A file archived from the webhook keeps Zoom's file type: its download is served as
    // video/mp4 named .mp4, not application/octet-stream .bin.
    let listed = get(&env.watch.api, &tokens[0], "/api/zoom/recordings").await;
    let recording = listed.json()["recordings"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["meeting_id"] == acct.meetings[0])
                .cloned()
        })
        .unwrap_or_else(|| panic!("alice's new recording is listed: {}", listed.text));
    let mp4 = recording["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["file_type"] == "MP4").cloned())
        .unwrap_or_else(|| panic!("an MP4 file: {recording}"));
    let path = format!(
        "/api/zoom/recordings/{}/files/{}/download?redirect=false",
        encoded(recording["id"].as_str().expect("recording id")),
        mp4["id"].as_str().expect("file id")
    );
    let ready = std::sync::Mutex::new(String::new());
    eventually("the webhook-archived MP4 is ready", || async {
        let answer = get(&env.watch.api, &tokens[0], &path).await;
        let url = answer.json()["download_url"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default();
        let done = answer.status == 200 && !url.is_empty();
        *ready.lock().expect("lock") = url;
        done
    })
    .await;
    let url = ready.into_inner().expect("lock");
    assert!(url.contains("response-content-type=video%2Fmp4"), "{url}");
    assert!(url.contains(".mp4"), "{url}");
}

#[tokio::test]
async fn server_to_server_tenants_are_bound_to_their_user_and_get_only_its_events() {
    // A whole pipeline in Server-to-Server mode (API, webhooks, processor, archiver): the
    // simulator's account id follows from its seed, so the watch is configured with it before
    // either starts.
    // Above every port, so it never equals another isolated simulator's seed (its port).
    let seed = (1_000_000 + u64::from(free_port())).to_string();
    let account_id = zoom_sim::ids::stable_id(seed.parse().expect("seed"), "account", 0);
    let env = isolated_pipeline(
        &[("ZOOM_SIM_SEED", seed.as_str())],
        &[("ZOOM_ACCOUNT_ID", account_id.as_str())],
        &stand_in("ZOOM_EVENTS_QUEUE_URL", &free_port().to_string()),
        true,
    )
    .await;
    assert_eq!(
        env.sim.get("account").await["account_id"].as_str(),
        Some(account_id.as_str())
    );
    let acct = account(&env.sim).await;
    let api = env.watch.api.as_str();
    let (alice, bob, admin, nobody) = (
        unique("s2s-alice"),
        unique("s2s-bob"),
        unique("s2s-admin"),
        unique("s2s-none"),
    );
    let tokens = [
        jwt_with(&alice, json!({"zoom_user": acct.users[0]})),
        jwt_with(&bob, json!({"zoom_user": acct.users[1]})),
    ];
    // Binding happens at the first call and is reported by the connection status.
    for (token, user) in tokens.iter().zip(&acct.users) {
        let status = get(api, token, "/api/zoom/connection-status").await;
        assert_eq!(status.status, 200, "{}", status.text);
        let body = status.json();
        assert_eq!(
            (body["oauth_mode"].as_str(), body["reach"].as_str()),
            (Some("server_to_server"), Some("user"))
        );
        assert_eq!(body["zoom_user_id"], user.as_str());
    }
    assert_isolated(api, [&tokens[0], &tokens[1]], &acct).await;
    // No claim: 403; a user outside the account: 403; another claim for a bound tenant: 409.
    get(api, &jwt(&nobody), "/api/zoom/meetings")
        .await
        .problem(403);
    get(
        api,
        &jwt_with(&nobody, json!({"zoom_user": "nobody@elsewhere.example"})),
        "/api/zoom/meetings",
    )
    .await
    .problem(403);
    get(
        api,
        &jwt_with(&alice, json!({"zoom_user": acct.users[1]})),
        "/api/zoom/meetings",
    )
    .await
    .problem(409);
    // The account-wide role sees both users' meetings.
    let admin_token = jwt_with(&admin, json!({"zoom_scope": "account"}));
    for id in acct.meetings {
        let answer = get(api, &admin_token, &format!("/api/zoom/meetings/{id}")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    // Webhooks reach the tenant bound to the host (and the account-wide one), never the other.
    run_meeting(&env.sim, acct.meetings[1]).await;
    eventually("bob's analytics count his meeting", || async {
        started_today(api, &tokens[1]).await == 1
    })
    .await;
    eventually("the account role counts it too", || async {
        started_today(api, &admin_token).await == 1
    })
    .await;
    eventually("bob's recording is queued for his archive", || async {
        archive_records_of(&bob).await > 0
    })
    .await;
    eventually("the events queue is drained", || async {
        queue_depth(&env.queues.0).await == 0
    })
    .await;
    assert_eq!(
        started_today(api, &tokens[0]).await,
        0,
        "alice's analytics do not count bob's meeting"
    );
    assert_eq!(
        archive_records_of(&alice).await,
        0,
        "no archive job for the tenant that did not host"
    );
    // The archive holds only the host's files, under the host's prefix (downloaded with the
    // account's token by the Server-to-Server archiver).
    let bob_prefix = object_prefix(&bob, &connection_id(&bob).await.expect("bob bound"));
    let alice_prefix = object_prefix(&alice, &connection_id(&alice).await.expect("alice bound"));
    eventually("bob's files are archived", || async {
        !bucket_versions(&bob_prefix).await.is_empty()
    })
    .await;
    eventually("the archive queue is drained", || async {
        queue_depth(&env.queues.1).await == 0
    })
    .await;
    assert!(
        bucket_versions(&alice_prefix).await.is_empty(),
        "nothing of bob's lands under alice's prefix"
    );
}

/// A deauthorization dated before the tenant's current connection (a late retry, a redrive
/// after a reinstall) leaves it connected; one dated after it removes everything of that
/// connection, archived files included.
#[tokio::test]
async fn deauthorizations_are_ordered_by_time_and_delete_everything_of_the_connection() {
    let env = isolated_archiving(&[]).await;
    let tenant = unique("deauth-order");
    connect(&env.watch.api, &tenant).await;
    let token = jwt(&tenant);
    let user = env.sim.get("account").await["authorizing_user"]["id"]
        .as_str()
        .expect("user")
        .to_owned();
    // Archive one of the tenant's files.
    let listed = get(&env.watch.api, &token, "/api/zoom/recordings")
        .await
        .json();
    let download = listed["recordings"][0]["files"][0]["download_url"]
        .as_str()
        .expect("url")
        .to_owned();
    eventually("the file is archived", || async {
        get(&env.watch.api, &token, &download).await.status == 302
    })
    .await;
    let cid = connection_id(&tenant).await.expect("connected");
    let prefix = object_prefix(&tenant, &cid);
    assert!(!bucket_versions(&prefix).await.is_empty());

    // Dated an hour before the connection: recorded, nothing deleted.
    let compliance = |user: String| async move {
        scan_table()
            .await
            .iter()
            .filter(|i| i.contains(&format!("COMPLIANCE#{user}")))
            .count()
    };
    env.sim
        .post(
            "deauthorize",
            json!({"user_id": user, "at": iso(now() - 3600)}),
        )
        .await;
    eventually("the old deauthorization is recorded", || async {
        compliance(user.clone()).await == 1
    })
    .await;
    assert_eq!(
        connection_id(&tenant).await.as_deref(),
        Some(cid.as_str()),
        "the connection stays"
    );
    assert!(!bucket_versions(&prefix).await.is_empty(), "its files stay");

    // Dated now: the connection, its items and every version of its files go.
    env.sim
        .post(
            "deauthorize",
            json!({"user_id": user, "at": iso(now() + 5)}),
        )
        .await;
    eventually("the connection is removed", || async {
        connection_id(&tenant).await.is_none()
    })
    .await;
    eventually("every item of the connection is deleted", || async {
        !scan_table()
            .await
            .iter()
            .any(|i| i.contains(&format!("{tenant}#{cid}")))
    })
    .await;
    eventually("every version of its files is deleted", || async {
        bucket_versions(&prefix).await.is_empty()
    })
    .await;
    assert_eq!(
        compliance(user).await,
        2,
        "both deauthorizations are recorded"
    );
}

#[tokio::test]
async fn disconnect_deletes_the_archived_files_too() {
    let env = isolated_archiving(&[]).await;
    let tenant = unique("disc-files");
    connect(&env.watch.api, &tenant).await;
    let token = jwt(&tenant);
    let listed = get(&env.watch.api, &token, "/api/zoom/recordings")
        .await
        .json();
    let download = listed["recordings"][0]["files"][0]["download_url"]
        .as_str()
        .expect("url")
        .to_owned();
    eventually("the file is archived", || async {
        get(&env.watch.api, &token, &download).await.status == 302
    })
    .await;
    let prefix = object_prefix(&tenant, &connection_id(&tenant).await.expect("connected"));
    assert!(!bucket_versions(&prefix).await.is_empty());
    // An upload a crashed archiver left unfinished goes too.
    start_unfinished_upload(&format!("{prefix}crashed/upload")).await;
    assert_eq!(unfinished_uploads(&prefix).await.len(), 1);
    let answer = call(
        &env.watch.api,
        &token,
        reqwest::Method::POST,
        "/api/zoom/auth/disconnect",
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["archive_purge"], "queued");
    eventually("every version of the files is deleted", || async {
        bucket_versions(&prefix).await.is_empty()
    })
    .await;
    eventually("the unfinished upload is aborted", || async {
        unfinished_uploads(&prefix).await.is_empty()
    })
    .await;
    // Reconnecting starts from nothing: the old download is not served.
    connect(&env.watch.api, &tenant).await;
    let again = get(&env.watch.api, &token, &download).await;
    assert_eq!(
        again.status, 202,
        "the file is archived anew, not served from the old connection: {}",
        again.text
    );
}
