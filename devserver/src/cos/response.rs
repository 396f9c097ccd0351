//! Headers every cos response carries (request id, `Date`, `Server`), what its CORS allows, and
//! date formats.

use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::Response;
use base64::Engine as _;

/// Headers a browser may read from cos responses (docs/cos-api.md §6): without `ETag` the JS SDKs
/// cannot complete multipart uploads, and without `Date` they cannot correct a skewed clock.
pub const EXPOSE_HEADERS: &[&str] = &[
    "etag",
    "content-length",
    "date",
    "x-cos-request-id",
    "x-cos-hash-crc64ecma",
    "x-cos-version-id",
    "x-cos-trace-id",
];
/// Methods a preflight allows: every origin, method and requested header is allowed, as with
/// Tencent's recommended rule for browser direct upload (docs/cos-api.md §6).
pub const ALLOW_METHODS: [Method; 5] = [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::HEAD];

/// A fresh request id shaped like COS's (base64 text).
pub fn new_request_id() -> String {
    let bytes: [u8; 30] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Adds `x-cos-request-id` (unless present), `Date` and `Server: tencent-cos` (CORS is the
/// router's layer, [`super::router`]).
pub fn add_common_headers(headers: &mut HeaderMap, request_id: &str) {
    if !headers.contains_key("x-cos-request-id") {
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert("x-cos-request-id", value);
        }
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())) {
        headers.insert(header::DATE, date);
    }
    headers.insert(header::SERVER, HeaderValue::from_static("tencent-cos"));
}

/// `2020-05-05T03:00:00.000Z` (XML listings).
pub fn iso8601_ms(unix_ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
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

/// Response header names as COS writes them. hyper writes names in lowercase, but
/// cos-python-sdk-v5 copies the response headers into a plain dict and reads `ETag` (and
/// callers `Content-Length`, …) case-sensitively — `upload_file` fails with `KeyError: 'ETag'`
/// otherwise. COS itself sends `x-cos-*` in lowercase.
const HEADER_CASES: &[(&str, &str)] = &[
    ("ETag", "0"),
    ("Content-Length", "0"),
    ("Content-Type", "0"),
    ("Content-Range", "0"),
    ("Last-Modified", "0"),
    ("Accept-Ranges", "0"),
    ("Cache-Control", "0"),
    ("Content-Disposition", "0"),
    ("Content-Encoding", "0"),
    ("Content-Language", "0"),
    ("Expires", "0"),
    ("Date", "0"),
    ("Server", "0"),
    ("Vary", "0"),
    ("Access-Control-Allow-Origin", "0"),
    ("Access-Control-Allow-Methods", "0"),
    ("Access-Control-Allow-Headers", "0"),
    ("Access-Control-Expose-Headers", "0"),
    ("Access-Control-Max-Age", "0"),
];

static HEADER_CASE_EXTENSIONS: tokio::sync::OnceCell<axum::http::Extensions> = tokio::sync::OnceCell::const_new();

/// Makes hyper write `response`'s header names in COS's case ([`HEADER_CASES`]).
///
/// hyper writes a response's header names as recorded in a header-case map among the
/// response's extensions; that map type is private to hyper, so we let hyper build one by
/// parsing (once, in memory, with `preserve_header_case`) a request that carries those names,
/// and copy that request's extensions into each response.
pub async fn use_cos_header_case(response: &mut Response) {
    let extensions = HEADER_CASE_EXTENSIONS.get_or_init(capture_header_case).await;
    response.extensions_mut().extend(extensions.clone());
}

async fn capture_header_case() -> axum::http::Extensions {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client, server) = tokio::io::duplex(16 * 1024);
    let (tx, rx) = tokio::sync::oneshot::channel::<axum::http::Extensions>();
    let tx = std::sync::Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |request: axum::http::Request<hyper::body::Incoming>| {
        let mut extensions = request.extensions().clone();
        extensions.remove::<hyper::upgrade::OnUpgrade>();
        if let Some(tx) = tx.lock().ok().and_then(|mut tx| tx.take()) {
            let _ = tx.send(extensions);
        }
        async { Ok::<_, std::convert::Infallible>(axum::http::Response::new(String::new())) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(hyper_util::rt::TokioIo::new(server), service);
    let serving = tokio::spawn(connection);
    let mut request = String::from("GET / HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in HEADER_CASES {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let captured = async {
        client.write_all(request.as_bytes()).await.ok()?;
        let extensions = rx.await.ok()?;
        let mut sink = Vec::new();
        let _ = client.read_to_end(&mut sink).await;
        Some(extensions)
    };
    let extensions = tokio::time::timeout(std::time::Duration::from_secs(5), captured).await.ok().flatten();
    serving.abort();
    extensions.unwrap_or_else(|| {
        tracing::warn!("cos: could not capture header cases; response headers stay lowercase");
        axum::http::Extensions::new()
    })
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
