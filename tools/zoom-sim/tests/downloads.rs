//! Recording downloads: Bearer in the header only, a redirect hop to another host, streamed bytes.

mod support;

use serde_json::Value;
use support::*;
use zoom_sim::http::PatternBody;

#[tokio::test]
async fn download_redirects_to_a_signed_cdn_link_with_the_exact_bytes() {
    let sim = start(|c| c.recording_file_size = 300_000).await;
    let token = access_token(&sim).await;
    let me = sim.sim.state().world.users[0].id.clone();
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(25);
    let listing: Value = get(
        &sim,
        &token,
        &format!("/v2/users/{me}/recordings?from={from}&to={today}"),
    )
    .await
    .json()
    .await
    .expect("j");
    let file = listing["meetings"][0]["recording_files"][0].clone();
    let download_url = file["download_url"].as_str().expect("url");
    let file_id = file["id"].as_str().expect("id");

    let hop = client()
        .get(download_url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(hop.status(), 302);
    let location = hop.headers()["location"].to_str().expect("loc").to_owned();
    assert!(
        location.starts_with("http://localhost:"),
        "another host than the API's: {location}"
    );

    let bytes = client()
        .get(&location)
        .send()
        .await
        .expect("cdn")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(
        bytes.len() as u64,
        file["file_size"].as_u64().expect("size")
    );
    let salt = zoom_sim::files::salt(file_id);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == PatternBody::byte_at(i as u64, salt))
    );
    assert_eq!(sim.sim.state().cdn_requests_with_token, 0);
    assert_eq!(sim.sim.state().cdn_downloads, 1);
}

#[tokio::test]
async fn download_refuses_query_tokens_and_missing_tokens() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let file_id = sim
        .sim
        .state()
        .world
        .recordings
        .values()
        .next()
        .expect("rec")
        .files[0]
        .id
        .clone();
    let url = format!("{}/rec/download/{file_id}", sim.url());
    assert_eq!(
        client()
            .get(format!("{url}?access_token={token}"))
            .send()
            .await
            .expect("q")
            .status(),
        401
    );
    assert_eq!(client().get(&url).send().await.expect("none").status(), 401);
    let tampered = client()
        .get(format!(
            "{}/_cdn/{file_id}?exp=99999999999&sig=00",
            sim.url()
        ))
        .send()
        .await
        .expect("t");
    assert_eq!(tampered.status(), 403);
}

#[tokio::test]
async fn a_token_sent_to_the_cdn_host_is_counted() {
    let sim = start(|_| {}).await;
    let token = access_token(&sim).await;
    let file_id = sim
        .sim
        .state()
        .world
        .recordings
        .values()
        .next()
        .expect("rec")
        .files[0]
        .id
        .clone();
    let hop = client()
        .get(format!("{}/rec/download/{file_id}", sim.url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("hop");
    let location = hop.headers()["location"].to_str().expect("loc").to_owned();
    client()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .expect("leak");
    assert_eq!(sim.sim.state().cdn_requests_with_token, 1);
}
