//! Ports: the small traits through which the platform-free engine reaches the outside world, and
//! the adapters that implement them per platform (`browser` here; `miniprogram` later; native
//! adapters live in the test suite).
//!
//! Adapters only adapt: no retries, no sizing, no decisions.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Result;

#[cfg(target_arch = "wasm32")]
pub mod browser;

/// A boxed, non-`Send` future (the engine is single-threaded, like wasm32).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// HTTP methods the SDK uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }
}

/// Called with the number of body bytes sent so far (monotonic within one request).
pub type ProgressFn = Rc<dyn Fn(u64)>;

/// One HTTP request. The body is shared so a retry sends the same bytes without re-reading.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Rc<[u8]>>,
    /// Upper bound for the whole exchange; the engine adds its own stall watchdog on top.
    pub timeout: Option<Duration>,
    /// Upload progress of the body, where the platform can report it.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the query (tokens, signatures) nor header values (Authorization).
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &crate::error::redact_url(&self.url))
            .field("headers", &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("body_len", &self.body.as_ref().map(|b| b.len()))
            .finish()
    }
}

/// A complete HTTP response (bodies of control-flow replies are small).
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    /// Lowercase header names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends HTTP requests.
///
/// Contract: resolves with any response the server sent, whatever its status (errors are the
/// engine's to interpret); fails with [`crate::Error::Network`] or [`crate::Error::Timeout`]
/// when no response arrived. Dropping the future aborts the request.
pub trait Http {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>>;
}

/// Byte source for one upload. Implementations must not buffer the whole file.
pub trait FileSource {
    /// Total size in bytes, known before the upload starts.
    fn size(&self) -> u64;
    /// Reads `range`; a short read is an error ([`crate::Error::FileRead`]), never silent.
    fn read(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>>;
    /// A string that changes when the file does (name, size, mtime), for checkpoint keys.
    fn fingerprint(&self) -> String;
}

/// Persists upload checkpoints (string key → JSON string).
pub trait CheckpointStore {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>>;
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()>;
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()>;
}

/// Time: sleeping and a monotonic clock, plus wall-clock for comparing with server expirations.
pub trait Timer {
    /// Completes after `duration`. Dropping it cancels the timer.
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'static, ()>;
    /// Monotonic milliseconds (any origin).
    fn now_ms(&self) -> f64;
    /// Unix time in milliseconds.
    fn unix_ms(&self) -> f64;
}

/// A checkpoint store that stores nothing (the `'none'` option).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCheckpoints;

impl CheckpointStore for NoCheckpoints {
    fn get(&self, _key: &str) -> LocalBoxFuture<'_, Option<String>> {
        Box::pin(async { None })
    }
    fn set(&self, _key: &str, _value: String) -> LocalBoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn remove(&self, _key: &str) -> LocalBoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// An in-memory checkpoint store (tests, and pages that opt out of persistence).
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    entries: std::cell::RefCell<std::collections::BTreeMap<String, String>>,
}

impl CheckpointStore for MemoryCheckpoints {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        let value = self.entries.borrow().get(key).cloned();
        Box::pin(async move { value })
    }
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        self.entries.borrow_mut().insert(key.to_string(), value);
        Box::pin(async {})
    }
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        self.entries.borrow_mut().remove(key);
        Box::pin(async {})
    }
}

/// A file held in memory (tests, and small `Uint8Array` inputs).
#[derive(Debug, Clone)]
pub struct MemorySource {
    pub bytes: Rc<[u8]>,
    pub name: String,
}

impl FileSource for MemorySource {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        let out = if range.start <= range.end && range.end <= self.bytes.len() as u64 {
            Ok(self.bytes[range.start as usize..range.end as usize].to_vec())
        } else {
            Err(crate::Error::FileRead { message: format!("range {range:?} outside {} bytes", self.bytes.len()) })
        };
        Box::pin(async move { out })
    }
    fn fingerprint(&self) -> String {
        format!("mem:{}:{}", self.name, self.bytes.len())
    }
}
