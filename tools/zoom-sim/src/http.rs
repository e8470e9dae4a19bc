//! Small HTTP helpers: the parsed request, Zoom-style answers, and the streamed file body.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

/// The body type of every answer.
pub type SimBody = BoxBody<Bytes, std::io::Error>;
/// An answer.
pub type Reply = http::Response<SimBody>;

/// A request, read whole (the simulator's requests are small).
#[derive(Debug, Clone)]
pub struct Req {
    /// Method.
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub raw_path: String,
    /// Decoded query parameters (last value wins).
    pub query: HashMap<String, String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Req {
    /// Raw path segments after the leading `/`.
    pub fn segments(&self) -> Vec<&str> {
        self.raw_path.trim_start_matches('/').split('/').collect()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The bearer token of the `Authorization` header.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?
            .strip_prefix("Bearer ")
            .map(str::trim)
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("invalid JSON body: {e}"))
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> HashMap<String, String> {
        parse_pairs(std::str::from_utf8(&self.body).unwrap_or_default())
    }
}

/// Parses `a=1&b=2` with `+` as space and percent-decoding.
pub fn parse_pairs(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Percent-decodes once (invalid UTF-8 is replaced).
pub fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> SimBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON answer.
pub fn json_reply(status: StatusCode, value: &Value) -> Reply {
    let mut reply = http::Response::new(full(value.to_string()));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    reply
}

/// Zoom's REST error body: `{"code": …, "message": …}`.
pub fn zoom_error(status: StatusCode, code: i64, message: &str) -> Reply {
    json_reply(status, &json!({"code": code, "message": message}))
}

/// Zoom's OAuth error body: `{"reason": …, "error": …}`.
pub fn oauth_error(status: StatusCode, error: &str, reason: &str) -> Reply {
    json_reply(status, &json!({"reason": reason, "error": error}))
}

/// An empty answer with `status`.
pub fn empty(status: StatusCode) -> Reply {
    let mut reply = http::Response::new(full(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

/// A redirect.
pub fn redirect(location: &str) -> Reply {
    let mut reply = empty(StatusCode::FOUND);
    if let Ok(value) = HeaderValue::from_str(location) {
        reply.headers_mut().insert(header::LOCATION, value);
    }
    reply
}

/// A deterministic byte stream of `len` bytes, produced chunk by chunk (never held whole).
#[derive(Debug)]
pub struct PatternBody {
    offset: u64,
    len: u64,
    salt: u8,
    /// Where the stream breaks off (an I/O error mid-body), if it does.
    cut_at: Option<u64>,
}

/// Size of each produced chunk.
const CHUNK: u64 = 64 * 1024;

impl PatternBody {
    /// `len` bytes whose content depends on `salt` and position only.
    pub fn new(len: u64, salt: u8) -> Self {
        Self {
            offset: 0,
            len,
            salt,
            cut_at: None,
        }
    }

    /// The same stream announced whole (`len` bytes) that breaks off after `cut_at` bytes:
    /// the connection is reset mid-body, as a CDN dropping a download does.
    pub fn cut(len: u64, salt: u8, cut_at: u64) -> Self {
        Self {
            cut_at: Some(cut_at.min(len)),
            ..Self::new(len, salt)
        }
    }

    /// The byte at `position` of a stream with `salt` (for verifying downloads).
    pub fn byte_at(position: u64, salt: u8) -> u8 {
        ((position.wrapping_mul(31) ^ (position >> 11)) as u8).wrapping_add(salt)
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(cut) = self.cut_at
            && self.offset >= cut
        {
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "download cut off (injected)",
            ))));
        }
        if self.offset >= self.len {
            return Poll::Ready(None);
        }
        let end = self.cut_at.unwrap_or(self.len);
        let n = CHUNK.min(end - self.offset);
        let start = self.offset;
        let salt = self.salt;
        let chunk: Vec<u8> = (start..start + n).map(|p| Self::byte_at(p, salt)).collect();
        self.offset += n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.offset >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len - self.offset)
    }
}
