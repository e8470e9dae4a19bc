//! Webhook intake throughput on one core: the whole intake decision (size check, signature
//! and replay check over the raw bytes, JSON parse, classification, dedup key) and the hand-off
//! of the message to an in-memory queue, against the bare floor (HMAC-SHA256 plus a
//! `serde_json` parse of the same body), measured in the same run.
//!
//! Run: `cargo bench -p zoom-shared --bench intake` (numbers go in docs/benchmarks.md).

use std::hint::black_box;
use std::time::Instant;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zoom_shared::webhooks::intake::{Decision, Delivery, IntakeConfig, decide};
use zoom_shared::webhooks::verify::signature;

const EVENTS: usize = 200_000;
const ROUNDS: usize = 5;

fn body() -> String {
    serde_json::json!({
        "event": "meeting.participant_joined", "event_ts": 1_795_766_400_123_i64,
        "payload": {"account_id": "AAAAAABBBB", "object": {
            "id": "85746065432", "uuid": "4444AAAiAAAAAiAiAiiAii==", "host_id": "x1yCzABCDEfg23HiJKl4mN",
            "topic": "Quarterly planning with the whole team", "type": 2, "start_time": "2026-11-27T09:00:00Z",
            "timezone": "Europe/Paris", "duration": 60,
            "participant": {"user_id": "16778240", "user_name": "Jill Chill", "id": "iFxeBPYun6SAiWUzBcEkX",
                "participant_uuid": "55555AAAiAAAAAiAiAiiAii", "join_time": "2026-11-27T09:01:12Z",
                "email": "jchill@example.com", "participant_user_id": "rstuvwxyza789-cde"}}}
    })
    .to_string()
}

fn best_of<F: FnMut()>(mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        f();
        best = best.min(started.elapsed().as_secs_f64());
    }
    EVENTS as f64 / best
}

fn main() {
    let body = body();
    let secret = b"a-webhook-secret-token-of-32-chars";
    let now = 1_795_766_400_i64;
    let ts = now.to_string();
    let sig = signature(secret, &ts, body.as_bytes());
    let config = IntakeConfig {
        secret: secret.to_vec(),
        verification_token: None,
    };
    let headers = Delivery {
        signature: Some(&sig),
        timestamp: Some(&ts),
        authorization: None,
    };

    let floor = best_of(|| {
        for _ in 0..EVENTS {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("key");
            mac.update(format!("v0:{ts}:").as_bytes());
            mac.update(body.as_bytes());
            black_box(mac.finalize());
            black_box(serde_json::from_slice::<serde_json::Value>(body.as_bytes()).expect("json"));
        }
    });

    let mut queue: Vec<(String, [String; 3])> = Vec::with_capacity(EVENTS);
    let intake = best_of(|| {
        queue.clear();
        for _ in 0..EVENTS {
            match decide(&config, headers, black_box(body.as_bytes()), now) {
                Decision::Publish(event) => queue.push((
                    body.clone(),
                    [event.event, event.account_id, event.dedup_key],
                )),
                other => panic!("unexpected {other:?}"),
            }
        }
        black_box(&queue);
    });

    println!(
        "body: {} bytes, {EVENTS} events per round, best of {ROUNDS} rounds, one core",
        body.len()
    );
    println!("floor (HMAC-SHA256 + serde_json parse): {floor:>10.0} events/s");
    println!("intake (verify, parse, message, queue):  {intake:>10.0} events/s");
    println!("intake / floor time ratio: {:.2}x", floor / intake);
}
