//! Object handlers: PutObject, GetObject (with Range), HeadObject, DeleteObject, and the
//! request-body helpers UploadPart shares.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;

use super::error::CosError;
use super::request::CosRequest;
use super::response::http_date;
use crate::state::AppState;
use crate::store::{etag_unquoted, BodyStream, ObjectMeta};

/// A request body that sends nothing for this long fails with 400 RequestTimeout.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Total size of `x-cos-meta-*` names and values (COS: 2 KB).
pub const MAX_USER_METADATA_BYTES: usize = 2048;
/// Content-Type of objects stored without one. Unconfirmed: docs/devserver-fidelity.md#cos-default-content-type
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// Request headers stored with an object and returned by GET/HEAD (besides `x-cos-meta-*`).
const STORED_HEADERS: &[&str] = &["cache-control", "content-disposition", "content-encoding", "expires"];
/// GET query parameters that override response headers.
const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// `Content-Length` of a PUT: required (411 MissingContentLength), chunked bodies are refused
/// (the SDKs never send them).
pub fn content_length(req: &CosRequest) -> Result<u64, CosError> {
    match req.header("content-length") {
        None => Err(CosError::new(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        )),
        Some(len) => len.trim().parse().map_err(|_| CosError::invalid_argument("Content-Length is not a number.")),
    }
}

/// `Content-MD5`: base64 of 16 bytes, else 400 InvalidDigest.
pub fn content_md5(req: &CosRequest) -> Result<Option<[u8; 16]>, CosError> {
    let Some(value) = req.headers.get("content-md5") else { return Ok(None) };
    base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes().trim_ascii())
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            CosError::new(StatusCode::BAD_REQUEST, "InvalidDigest", "The Content-MD5 you specified is not valid.")
        })
}

/// Content-Type and the headers stored with an object (PutObject, InitiateMultipartUpload).
pub fn stored_headers(req: &CosRequest) -> Result<(String, BTreeMap<String, String>), CosError> {
    let mut stored = BTreeMap::new();
    let mut metadata_bytes = 0;
    for (name, value) in &req.headers {
        let name = name.as_str();
        let is_meta = name.starts_with("x-cos-meta-");
        if !is_meta && !STORED_HEADERS.contains(&name) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        if value.is_empty() {
            continue; // node sends an empty Cache-Control
        }
        if is_meta {
            metadata_bytes += name.len() - "x-cos-meta-".len() + value.len();
        }
        stored.insert(name.to_string(), value.to_string());
    }
    if metadata_bytes > MAX_USER_METADATA_BYTES {
        return Err(CosError::new(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            format!(
                "Your metadata headers exceed the maximum allowed metadata size ({MAX_USER_METADATA_BYTES} bytes)."
            ),
        ));
    }
    let content_type = req.header("content-type").filter(|t| !t.is_empty()).unwrap_or(DEFAULT_CONTENT_TYPE);
    Ok((content_type.to_string(), stored))
}

/// The request body, taken by the handler that reads it (an unread body is drained by the
/// dispatcher before an error answer).
pub fn take(body: &mut Option<Body>) -> Body {
    body.take().unwrap_or_else(Body::empty)
}

/// The request body as a [`BodyStream`] that fails with `TimedOut` after
/// [`BODY_IDLE_TIMEOUT`] without data.
pub fn body_stream(body: Body) -> BodyStream {
    Box::pin(futures_util::stream::unfold(Some(body.into_data_stream()), |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "request body stalled")), None)),
        }
    }))
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}

/// `ETag` + `x-cos-hash-crc64ecma` of a write.
pub fn write_headers(etag: &str, crc64: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    insert(&mut headers, "etag", etag);
    insert(&mut headers, "x-cos-hash-crc64ecma", &crc64.to_string());
    headers
}

/// Headers of GET/HEAD: size, type, ETag, Last-Modified, whole-object CRC, stored headers.
fn object_headers(meta: &ObjectMeta) -> HeaderMap {
    let mut headers = write_headers(&meta.etag, meta.crc64);
    insert(&mut headers, "content-type", &meta.content_type);
    insert(&mut headers, "content-length", &meta.size.to_string());
    insert(&mut headers, "last-modified", &http_date(meta.last_modified_ms));
    insert(&mut headers, "accept-ranges", "bytes");
    for (name, value) in &meta.headers {
        insert(&mut headers, name, value);
    }
    headers
}

/// PUT /{key}
pub async fn object_put(state: &AppState, req: &CosRequest, body: &mut Option<Body>) -> Result<Response, CosError> {
    let len = content_length(req)?;
    let md5 = content_md5(req)?;
    let (content_type, stored) = stored_headers(req)?;
    // Pre-check only (a race may still overwrite). Unconfirmed: docs/devserver-fidelity.md#cos-forbid-overwrite
    if req.header("x-cos-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && state.store.head(&req.key)?.is_some()
    {
        return Err(CosError::new(StatusCode::CONFLICT, "FileAlreadyExists", "The object already exists."));
    }
    let meta = state.store.put_object(&req.key, &content_type, stored, body_stream(take(body)), len, md5).await?;
    Ok((StatusCode::OK, write_headers(&meta.etag, meta.crc64), [(header::CONTENT_LENGTH, "0")]).into_response())
}

/// A satisfiable `Range: bytes=…` as an inclusive range; `Ok(None)` = serve the whole object
/// (no Range, a malformed one, or several ranges — all ignored as RFC 9110 allows).
fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, CosError> {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else { return Ok(None) };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => (first, last.min(size.saturating_sub(1))),
        (Ok(first), Err(_)) if last.is_empty() => (first, size.saturating_sub(1)),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => (size.saturating_sub(suffix), size.saturating_sub(1)),
        _ => return Ok(None),
    };
    if range.0 >= size {
        return Err(CosError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidRange",
            "The requested range is not satisfiable.",
        )
        .with_header(header::CONTENT_RANGE, &format!("bytes */{size}")));
    }
    Ok(Some(range))
}

/// `If-Match` → 412, `If-None-Match` → 304.
fn check_conditions(req: &CosRequest, meta: &ObjectMeta) -> Result<(), CosError> {
    let etag = etag_unquoted(&meta.etag);
    let matches = |list: &str| list.split(',').any(|e| e.trim() == "*" || etag_unquoted(e) == etag);
    if req.header("if-match").is_some_and(|v| !matches(v)) {
        return Err(CosError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the preconditions you specified did not hold.",
        ));
    }
    if req.header("if-none-match").is_some_and(matches) {
        return Err(CosError::new(StatusCode::NOT_MODIFIED, "NotModified", "Not Modified"));
    }
    Ok(())
}

/// GET and HEAD /{key}; the body streams from the open files (never whole in memory).
pub async fn object_get(req: &CosRequest, state: &AppState, head: bool) -> Result<Response, CosError> {
    let (meta, bytes) = state.store.open_object(&req.key)?.ok_or_else(CosError::no_such_key)?;
    check_conditions(req, &meta)?;
    let mut headers = object_headers(&meta);
    for (param, name) in RESPONSE_OVERRIDES {
        if let Some(value) = req.param(param) {
            insert(&mut headers, name, value);
        }
    }
    let range = if head { None } else { parse_range(req.header("range"), meta.size)? };
    let (status, start, len) = match range {
        Some((first, last)) => {
            insert(&mut headers, "content-range", &format!("bytes {first}-{last}/{}", meta.size));
            insert(&mut headers, "content-length", &(last - first + 1).to_string());
            (StatusCode::PARTIAL_CONTENT, first, last - first + 1)
        }
        None => (StatusCode::OK, 0, meta.size),
    };
    if head {
        return Ok((status, headers).into_response());
    }
    let body = Body::from_stream(bytes.into_stream(start, len).map_err(crate::store::StoreError::from)?);
    Ok((status, headers, body).into_response())
}

/// DELETE /{key}: 204 whether or not it existed.
pub fn object_delete(state: &AppState, req: &CosRequest) -> Result<Response, CosError> {
    state.store.delete_object(&req.key)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range(Some("bytes=90-200"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=10-"), 100).unwrap(), Some((10, 99)));
        assert_eq!(parse_range(Some("bytes=-10"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=-1000"), 100).unwrap(), Some((0, 99)));
        assert_eq!(parse_range(Some("bytes=5-1"), 100).unwrap(), None);
        assert_eq!(parse_range(Some("items=0-1"), 100).unwrap(), None);
        assert_eq!(parse_range(None, 100).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=100-"), 100).unwrap_err().status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(parse_range(Some("bytes=0-0"), 0).unwrap_err().status, StatusCode::RANGE_NOT_SATISFIABLE);
    }
}
