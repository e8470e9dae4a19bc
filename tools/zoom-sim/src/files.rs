//! Recording downloads as Zoom serves them: `GET /rec/download/{fileId}` with the Bearer token
//! in the header answers a redirect to a signed, short-lived URL on another host (the CDN),
//! which streams the bytes without holding the file in memory.

use chrono::Utc;
use hmac::{Hmac, Mac};
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use sha2::Sha256;

use crate::Sim;
use crate::http::{PatternBody, Reply, Req, redirect, zoom_error};

/// How long a CDN link stays valid, in seconds.
const LINK_TTL_SECS: i64 = 300;

/// The content salt of a file: downloads of `file_id` are `PatternBody::byte_at(i, salt(file_id))`.
pub fn salt(file_id: &str) -> u8 {
    file_id.bytes().fold(0u8, |acc, b| acc.wrapping_add(b))
}

fn signature(sim: &Sim, file_id: &str, expires: i64) -> String {
    let key = sim.state().config.client_secret.clone();
    let mut mac = Hmac::<Sha256>::new_from_slice(format!("cdn:{key}").as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{file_id}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `GET /rec/download/{fileId}`.
pub fn download(sim: &Sim, req: &Req) -> Reply {
    let file_id = req.raw_path.trim_start_matches("/rec/download/").to_owned();
    let mut state = sim.state();
    *state
        .world
        .stats
        .calls
        .entry("GET /rec/download/{fileId}".into())
        .or_default() += 1;
    if req.query.contains_key("access_token") {
        return zoom_error(
            StatusCode::UNAUTHORIZED,
            124,
            "Pass the access token in the Authorization header, not the query string.",
        );
    }
    if let Err(reply) = crate::rest::authenticate(&state.world, req) {
        return reply;
    }
    if state.world.recording_file(&file_id).is_none() {
        return zoom_error(
            StatusCode::NOT_FOUND,
            3301,
            "There is no recording for this file.",
        );
    }
    drop(state);
    let expires = Utc::now().timestamp() + LINK_TTL_SECS;
    let sig = signature(sim, &file_id, expires);
    let cdn_host = sim.state().config.cdn_host.clone();
    let location = format!(
        "http://{cdn_host}:{}/_cdn/{file_id}?exp={expires}&sig={sig}",
        sim.addr.port()
    );
    redirect(&location)
}

/// `GET /_cdn/{fileId}?exp=&sig=`: the signed link; streams the file.
pub fn cdn(sim: &Sim, req: &Req) -> Reply {
    let file_id = req.raw_path.trim_start_matches("/_cdn/").to_owned();
    if req.header("authorization").is_some() {
        sim.state().cdn_requests_with_token += 1;
    }
    let expires = req
        .query
        .get("exp")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    let valid = expires >= Utc::now().timestamp()
        && req
            .query
            .get("sig")
            .is_some_and(|s| *s == signature(sim, &file_id, expires));
    if !valid {
        return zoom_error(StatusCode::FORBIDDEN, 403, "Link expired or invalid.");
    }
    let mut state = sim.state();
    let Some((_, file)) = state.world.recording_file(&file_id) else {
        return zoom_error(
            StatusCode::NOT_FOUND,
            3301,
            "There is no recording for this file.",
        );
    };
    let (size, kind) = (file.size, file.file_type);
    state.cdn_downloads += 1;
    // A cut-off download: the whole file's length is announced, part of it sent, then the
    // connection is reset mid-body.
    let body = match state.faults.take_truncation(&req.raw_path) {
        Some(fault) => {
            state.world.stats.faults_injected += 1;
            let at = fault.truncate_bytes.unwrap_or(size / 2);
            PatternBody::cut(size, salt(&file_id), at.min(size.saturating_sub(1)))
        }
        None => PatternBody::new(size, salt(&file_id)),
    };
    drop(state);
    let mut reply = http::Response::new(body.boxed());
    let headers = reply.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if kind == "M4A" {
            "audio/mp4"
        } else {
            "video/mp4"
        }),
    );
    reply
}
