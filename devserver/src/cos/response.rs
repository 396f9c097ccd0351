//! Headers every cos response carries (request id, `Date`, `Server`, CORS), the CORS
//! preflight answer, and date formats.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// Headers a browser may read from cos responses (cos-api.md §6): without `ETag` the JS SDKs
/// cannot complete multipart uploads.
pub const EXPOSE_HEADERS: &str =
    "ETag, Content-Length, x-cos-request-id, x-cos-hash-crc64ecma, x-cos-version-id, x-cos-trace-id";
/// Methods the preflight allows.
pub const ALLOW_METHODS: &str = "GET,PUT,POST,DELETE,HEAD";
/// How long browsers may cache a preflight answer, in seconds.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// A fresh request id shaped like COS's (base64 text).
pub fn new_request_id() -> String {
    let bytes: [u8; 30] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Adds `x-cos-request-id` (unless present), `Date`, `Server: tencent-cos` and the CORS
/// headers (`Access-Control-Allow-Origin` echoes `origin`, else `*`).
pub fn add_common_headers(headers: &mut HeaderMap, origin: Option<&HeaderValue>, request_id: &str) {
    if !headers.contains_key("x-cos-request-id") {
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert("x-cos-request-id", value);
        }
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())) {
        headers.insert(header::DATE, date);
    }
    headers.insert(header::SERVER, HeaderValue::from_static("tencent-cos"));
    let origin = origin.cloned().unwrap_or(HeaderValue::from_static("*"));
    if origin != "*" {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
}

/// `OPTIONS` (cos-api.md §6): every origin, method and requested header is allowed, as with
/// Tencent's recommended rule for browser direct upload.
pub fn cors_preflight(request: &HeaderMap) -> Response {
    let allow_headers = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    (
        StatusCode::OK,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS)),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers),
            (header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(PREFLIGHT_MAX_AGE_SECS)),
            (header::CONTENT_LENGTH, HeaderValue::from(0)),
        ],
    )
        .into_response()
}

/// `2020-05-05T03:00:00.000Z` (XML listings).
pub fn iso8601_ms(unix_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(unix_ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

/// RFC 1123 (`Last-Modified`).
pub fn http_date(unix_ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601_ms(1588647600123), "2020-05-05T03:00:00.123Z");
        assert_eq!(http_date(1588647600123), "Tue, 05 May 2020 03:00:00 GMT");
    }
}
