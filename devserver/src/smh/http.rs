//! HTTP plumbing shared by the smh handlers: query parameters, bounded JSON bodies, CORS,
//! request ids, timestamps and random identifiers.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use rand::distr::{Alphanumeric, SampleString};
use serde::de::DeserializeOwned;

use super::error::{SmhError, SmhResult, REQUEST_ID_HEADER};

/// Methods the smh origin allows cross-origin (docs/smh-api.md §8).
/// Unconfirmed: docs/devserver-fidelity.md#smh-cors
pub const CORS_ALLOW_METHODS: [Method; 6] =
    [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::HEAD, Method::OPTIONS];
/// Headers a browser may read from smh responses (docs/smh-api.md §8).
/// Unconfirmed: docs/devserver-fidelity.md#smh-cors
pub const CORS_EXPOSE_HEADERS: &[&str] = &[
    "x-request-id",
    "etag",
    "x-smh-type",
    "x-smh-creation-time",
    "x-smh-content-type",
    "x-smh-size",
    "x-smh-etag",
    "x-smh-crc64",
];

/// Query parameters, percent-decoded (`+` = space). A valueless flag (`?multipart`) maps to `""`.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        Params(map)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The value, `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Reads a JSON body of at most `max` bytes; an empty body is `T::default()`.
/// Larger → 413 RequestEntityTooLarge; not JSON → 400 ParamInvalid.
pub async fn read_json<T: DeserializeOwned + Default>(body: Body, max: usize) -> SmhResult<T> {
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| SmhError::RequestEntityTooLarge(max))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| SmhError::ParamInvalid(format!("request body is not valid JSON: {e}")))
}

/// A fresh request id (24 hex characters).
pub fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

/// `len` random lowercase alphanumerics.
pub fn random_lower(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len).to_ascii_lowercase()
}

/// `len` random lowercase hex digits (`len` even).
pub fn random_hex(len: usize) -> String {
    let bytes: Vec<u8> = (0..len / 2).map(|_| rand::random::<u8>()).collect();
    hex::encode(bytes)
}

pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// ISO-8601 UTC with milliseconds, `2021-01-01T00:15:00.000Z` (the format of every SMH time).
pub fn iso_ms(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Adds `X-Request-Id` to every response that has none (errors carry theirs already).
pub async fn request_id(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if !response.headers().contains_key(REQUEST_ID_HEADER) {
        if let Ok(id) = HeaderValue::from_str(&new_request_id()) {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_flags_and_plus() {
        let p = Params::parse(Some("multipart&a=x+y%2Fz&empty="));
        assert!(p.has("multipart"));
        assert_eq!(p.get("multipart"), None);
        assert_eq!(p.get("a"), Some("x y/z"));
        assert!(p.has("empty"));
    }

    #[test]
    fn iso_ms_formats_utc_millis() {
        assert_eq!(iso_ms(1_609_459_200_123), "2021-01-01T00:00:00.123Z");
    }
}
