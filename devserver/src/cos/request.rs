//! A cos request as the handlers see it: bucket resolved from the Host (docs/cos-api.md §5.2),
//! key and query percent-decoded, and the operation it names (docs/cos-api.md §9.1).

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use percent_encoding::percent_decode_str;

use super::error::CosError;
use crate::hosts::{cos_host, CosHost};
use crate::state::AppState;

/// Longest object key accepted, in bytes (COS documents 850).
pub const MAX_KEY_BYTES: usize = 850;

/// Sub-resources of the COS API that this imitation does not serve (→ 501 NotImplemented).
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "acl",
    "tagging",
    "cors",
    "lifecycle",
    "policy",
    "versioning",
    "versions",
    "versionId",
    "restore",
    "select",
    "append",
    "website",
    "referer",
    "logging",
    "inventory",
    "domain",
    "replication",
    "encryption",
    "intelligenttiering",
    "object-lock",
    "retention",
    "accelerate",
    "symlink",
    "rename",
    "torrent",
    "delete",
    "location",
    "origin",
];

/// Query keys the served operations understand; an unknown key without a value is treated as
/// an unknown sub-resource (`?acl`-like), an unknown key with a value is ignored.
const KNOWN_QUERY_KEYS: &[&str] = &[
    "uploads",
    "uploadId",
    "partNumber",
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "part-number-marker",
    "max-parts",
    "x-cos-security-token",
];

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    PutObject,
    /// `POST /` with a multipart/form-data body (signed by its form fields, [`super::post`]).
    PostObject,
    GetObject,
    HeadObject,
    DeleteObject,
    InitiateMultipartUpload,
    UploadPart,
    ListParts,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListMultipartUploads,
    GetBucket,
    HeadBucket,
}

/// A parsed cos request (everything but the body).
#[derive(Debug)]
pub struct CosRequest {
    pub method: Method,
    pub headers: HeaderMap,
    /// Host header as sent (may carry `:port`).
    pub host: String,
    /// The decoded request path (raw UTF-8, leading `/`) — what signatures cover.
    pub sign_path: String,
    /// Object key: the decoded path without the leading `/` (and without `/{bucket}` in
    /// path-style requests). Empty for bucket operations.
    pub key: String,
    /// Query pairs, percent-decoded with `+` as space, in request order.
    pub query: Vec<(String, String)>,
    pub bucket: String,
}

/// Percent-decodes a path or header value (lossy UTF-8; `+` stays `+`).
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Query string → decoded pairs (`+` is a space); `a` and `a=` both give `("a", "")`.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Host without its port (`[::1]:80` → `[::1]`).
pub fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    }
}

impl CosRequest {
    /// Resolves the bucket from the Host ([`cos_host`], docs/cos-api.md §5.2; a bucket that is
    /// not ours → 404 NoSuchBucket) and decodes path and query.
    pub fn parse(state: &AppState, parts: &Parts) -> Result<CosRequest, CosError> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let sign_path = decode(parts.uri.path());
        let ours = &state.identity.bucket;
        let path = sign_path.strip_prefix('/').unwrap_or(&sign_path);
        // The Host alone says where the bucket is, never the key: with a loopback Host (the
        // SDKs' `Domain: '127.0.0.1:P'` mode) a key whose first segment is the bucket's name is
        // still that whole key.
        let (bucket, key) = match cos_host(&host, &state.config.allowed_hosts) {
            CosHost::Plain | CosHost::Foreign => (ours.clone(), path.to_string()),
            CosHost::Bucket(bucket) => (bucket, path.to_string()),
            CosHost::PathStyle => {
                let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
                (bucket.to_string(), key.to_string())
            }
        };
        if &bucket != ours {
            return Err(CosError::no_such_bucket());
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(CosError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "KeyTooLong",
                format!("Your key is too long (max {MAX_KEY_BYTES} bytes)."),
            ));
        }
        Ok(CosRequest {
            method: parts.method.clone(),
            headers: parts.headers.clone(),
            host,
            sign_path,
            key,
            query: parse_query(parts.uri.query().unwrap_or("")),
            bucket,
        })
    }

    /// The first value of query key `name` (exact case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// A header as text (`None` if absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The operation, dispatched by method and query *keys* (`?uploads` == `?uploads=`).
    pub fn operation(&self) -> Result<Operation, CosError> {
        if let Some((k, _)) = self.query.iter().find(|(k, v)| {
            UNSUPPORTED_SUBRESOURCES.contains(&k.as_str())
                || (v.is_empty()
                    && !k.starts_with("q-")
                    && !k.starts_with("response-")
                    && !KNOWN_QUERY_KEYS.contains(&k.as_str()))
        }) {
            return Err(CosError::not_implemented(&format!("The ?{k} sub-resource")));
        }
        if self.headers.contains_key("x-cos-copy-source") {
            return Err(CosError::not_implemented("PUT Object - Copy"));
        }
        let upload_id = self.has_param("uploadId");
        let op = match (&self.method, self.key.is_empty()) {
            (&Method::GET, true) if self.has_param("uploads") => Operation::ListMultipartUploads,
            (&Method::GET, true) => Operation::GetBucket,
            (&Method::HEAD, true) => Operation::HeadBucket,
            (&Method::POST, true) => Operation::PostObject,
            (_, true) => return Err(CosError::not_implemented(&format!("{} on the bucket", self.method))),
            (&Method::PUT, false) if self.has_param("partNumber") && upload_id => Operation::UploadPart,
            (&Method::PUT, false) if self.has_param("partNumber") || upload_id => {
                return Err(CosError::invalid_argument("UploadPart needs both partNumber and uploadId."))
            }
            (&Method::PUT, false) => Operation::PutObject,
            (&Method::GET, false) if upload_id => Operation::ListParts,
            (&Method::GET, false) => Operation::GetObject,
            (&Method::HEAD, false) => Operation::HeadObject,
            (&Method::DELETE, false) if upload_id => Operation::AbortMultipartUpload,
            (&Method::DELETE, false) => Operation::DeleteObject,
            (&Method::POST, false) if self.has_param("uploads") => Operation::InitiateMultipartUpload,
            (&Method::POST, false) if upload_id => Operation::CompleteMultipartUpload,
            _ => {
                return Err(CosError::new(
                    axum::http::StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                ))
            }
        };
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("uploads&prefix=r%2F100%25+%D1%84&x="),
            vec![("uploads".into(), "".into()), ("prefix".into(), "r/100% ф".into()), ("x".into(), "".into())]
        );
        assert_eq!(decode("/a+b%20c"), "/a+b c");
    }

    #[test]
    fn ports() {
        assert_eq!(strip_port("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
