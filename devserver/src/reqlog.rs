//! A bounded log of the requests the `smh` and `cos` origins received (read through `/_dev/log`).
//!
//! OWNER: the SMH side.
//!
//! Entries keep the path but never the query string: signatures and access tokens live there.
//! The [`crate::faults::Observe`] layer records one entry per request, after the response.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::Method;
use serde::Serialize;

/// Most entries kept; older ones are dropped first.
pub const LOG_CAPACITY: usize = 10_000;

/// One request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Increasing from 1 over the server's life (survives `DELETE /_dev/log`).
    pub seq: u64,
    pub time_ms: i64,
    /// `smh` or `cos`.
    pub origin: &'static str,
    pub method: String,
    /// URI path, still percent-encoded, without the query; a token in the path is redacted
    /// ([`redact_path`]).
    pub path: String,
    /// Operation name, see [`classify`].
    pub op: String,
    /// HTTP status answered; 0 when the connection was dropped (fault `reset`, `stall`, `dropReply`).
    pub status: u16,
    /// Request body bytes the server read.
    pub bytes_in: u64,
    /// The fault action applied, if any (`status`, `reset`, `delay`, `stall`, `expired`, `badCrc`,
    /// `dropReply`).
    pub fault: Option<&'static str>,
}

/// The log.
///
/// A `std::sync::Mutex`: each access is one push or one copy, never held across `.await`.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<VecDeque<LogEntry>>,
    seq: AtomicU64,
}

impl RequestLog {
    /// Appends `entry` (its `seq` is assigned here), dropping the oldest beyond [`LOG_CAPACITY`].
    pub fn record(&self, mut entry: LogEntry) {
        entry.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// The path as logged: in `/api/v1/token/{lib}/{token}` (renew, delete; docs/smh-api.md §2.2/§2.3) —
/// the one SMH route with a secret in its path — everything after the library id is replaced
/// by `{token}`, whatever the method, extra segments or empty segments. No other SMH or COS
/// route carries a secret in its path (tokens, signatures and session tokens travel in the
/// query or in headers, which are never logged); the library secret only in the query.
pub fn redact_path(origin: &str, path: &str) -> String {
    if origin == "smh" {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() >= 5 && segments[..3] == ["api", "v1", "token"] {
            return format!("/api/v1/token/{}/{{token}}", segments[3]);
        }
    }
    path.to_string()
}

/// Names the operation of a request from its method, path and query keys.
///
/// cos: the COS API names (`PutObject`, `UploadPart`, `InitiateMultipartUpload`, …).
/// smh: `createToken`, `renewToken`, `deleteToken`, `deleteUserTokens`, `createSpace`,
/// `createDirectory`, `listDirectory`, `directoryInfo`, `headDirectory`, `deleteDirectory`,
/// `begin` (simple and multipart), `renew`, `query`, `confirm`, `cancel`, `fileInfo`, `download`,
/// `headFile`, `deleteFile`, or `unknown`. CORS preflights are answered outside the log
/// ([`crate::cors`]), so no `OPTIONS` reaches it.
pub fn classify(origin: &str, method: &Method, path: &str, query: Option<&str>) -> String {
    let has = |key: &str| form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, _)| k == key);
    if origin == "cos" {
        return cos_op(method, path, &has).to_string();
    }
    smh_op(method, path, &has).to_string()
}

fn cos_op(method: &Method, path: &str, has: &dyn Fn(&str) -> bool) -> &'static str {
    let bucket = path == "/" || path.is_empty();
    match *method {
        Method::PUT if has("partNumber") && has("uploadId") => "UploadPart",
        Method::PUT => "PutObject",
        Method::POST if has("uploads") => "InitiateMultipartUpload",
        Method::POST if has("uploadId") => "CompleteMultipartUpload",
        Method::POST if bucket => "PostObject",
        Method::GET if bucket && has("uploads") => "ListMultipartUploads",
        Method::GET if bucket => "GetBucket",
        Method::GET if has("uploadId") => "ListParts",
        Method::GET => "GetObject",
        Method::HEAD if bucket => "HeadBucket",
        Method::HEAD => "HeadObject",
        Method::DELETE if has("uploadId") => "AbortMultipartUpload",
        Method::DELETE => "DeleteObject",
        _ => "Unknown",
    }
}

fn smh_op(method: &Method, path: &str, has: &dyn Fn(&str) -> bool) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segments.get(2).copied(), method.clone()) {
        (Some("token"), m) => match (segments.len(), m) {
            (3, _) => "createToken",
            (4, Method::DELETE) => "deleteUserTokens",
            (5, Method::POST) => "renewToken",
            (5, Method::DELETE) => "deleteToken",
            _ => "unknown",
        },
        (Some("space"), Method::POST) => "createSpace",
        (Some("directory"), Method::PUT) => "createDirectory",
        (Some("directory"), Method::GET) if has("info") => "directoryInfo",
        (Some("directory"), Method::GET) => "listDirectory",
        (Some("directory"), Method::HEAD) => "headDirectory",
        (Some("directory"), Method::DELETE) => "deleteDirectory",
        (Some("file"), Method::POST) if has("confirm") => "confirm",
        (Some("file"), Method::POST) if has("renew") => "renew",
        (Some("file"), Method::GET) if has("upload") => "query",
        (Some("file"), Method::DELETE) if has("upload") => "cancel",
        (Some("file"), Method::PUT) => "begin",
        (Some("file"), Method::POST) if has("multipart") => "begin",
        (Some("file"), Method::GET) if has("info") => "fileInfo",
        (Some("file"), Method::GET) => "download",
        (Some("file"), Method::HEAD) => "headFile",
        (Some("file"), Method::DELETE) => "deleteFile",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops() {
        assert_eq!(classify("cos", &Method::PUT, "/k", Some("partNumber=1&uploadId=u")), "UploadPart");
        assert_eq!(classify("cos", &Method::PUT, "/k", None), "PutObject");
        assert_eq!(classify("smh", &Method::POST, "/api/v1/file/l/-/ck", Some("confirm&access_token=t")), "confirm");
        assert_eq!(classify("smh", &Method::POST, "/api/v1/file/l/-/a.bin", Some("multipart=1")), "begin");
        assert_eq!(classify("smh", &Method::GET, "/api/v1/token", Some("library_id=x")), "createToken");
        assert_eq!(classify("smh", &Method::POST, "/api/v1/token/l/t", None), "renewToken");
        assert_eq!(redact_path("smh", "/api/v1/token/l/acctkabc"), "/api/v1/token/l/{token}");
        assert_eq!(redact_path("cos", "/api/v1/token/l/acctkabc"), "/api/v1/token/l/acctkabc");
        assert_eq!(redact_path("smh", "/api/v1/token/l/acctkabc/"), "/api/v1/token/l/{token}");
        assert_eq!(redact_path("smh", "//api/v1/token/l//acctkabc/x"), "/api/v1/token/l/{token}");
        assert_eq!(redact_path("smh", "/api/v1/token/l"), "/api/v1/token/l");
    }

    #[test]
    fn bounded() {
        let log = RequestLog::default();
        for _ in 0..LOG_CAPACITY + 5 {
            log.record(LogEntry {
                seq: 0,
                time_ms: 0,
                origin: "cos",
                method: "PUT".into(),
                path: "/".into(),
                op: "PutObject".into(),
                status: 200,
                bytes_in: 0,
                fault: None,
            });
        }
        let entries = log.entries();
        assert_eq!(entries.len(), LOG_CAPACITY);
        assert_eq!(entries[0].seq, 6);
    }
}
