//! Ports: the small traits through which the platform-free engine reaches the outside world, and
//! the adapters that implement them per platform (`browser` here; `miniprogram` later; native
//! adapters live in the test suite).
//!
//! Adapters only adapt: no retries, no sizing, no decisions.
//!
//! **Part bodies are platform handles** (docs/design.md §2): a [`FileSource`] hands the engine each
//! part as a [`Body`] it never reads — a browser `Blob` slice, a mini-program `ArrayBuffer` — plus
//! the part's CRC-64, computed where it is cheapest and while the part is being sent. The
//! platform's [`Http`] sends the handle. Quick-upload hashing goes through the source too
//! ([`FileSource::chain_hash`]), so a platform can run it off the main thread.

use std::any::Any;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Result;
use crate::text::fill;

#[cfg(target_arch = "wasm32")]
pub mod browser;
/// The WeChat mini-program adapters (built with the `miniprogram` feature; the pool's tests run
/// natively).
#[cfg(any(all(target_arch = "wasm32", feature = "miniprogram"), test))]
pub mod miniprogram;

/// The wasm's heap allocator: Talc instead of std's dlmalloc, for both packages (browser and
/// mini-program), because it is smaller in the package (the `size` section of `cargo xtask
/// bench` measures it); Talc grows the heap with `memory.grow` like dlmalloc, and the hashing
/// kernels allocate nothing per byte, so their speed does not depend on it.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

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

/// File bytes as the platform holds them: the engine passes the handle from the
/// [`FileSource`] that made it to the [`Http`] of the same platform, which knows its type.
#[derive(Clone)]
pub struct Handle {
    len: u64,
    value: Rc<dyn Any>,
}

impl Handle {
    /// Wraps a platform value of `len` bytes.
    pub fn new<T: 'static>(len: u64, value: T) -> Handle {
        Handle { len, value: Rc::new(value) }
    }
    /// The platform value, if it is a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.value.downcast_ref::<T>()
    }
}

/// A request body. Shared, so a retry sends the same body without re-reading the file.
#[derive(Clone)]
pub enum Body {
    /// Bytes in wasm memory: what the SDK builds itself (JSON, XML) and in-memory files.
    Bytes(Rc<[u8]>),
    /// File bytes the platform holds; the engine never copies them.
    Handle(Handle),
}

impl Body {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Handle(handle) => handle.len,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes, when they are in wasm memory.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(bytes) => Some(bytes),
            Body::Handle(_) => None,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(Rc::from(bytes))
    }
}

/// One HTTP request.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    /// Upper bound for the whole exchange; the engine adds its own stall watchdog on top.
    pub timeout: Option<Duration>,
    /// Upload progress of the body, where the platform can report it.
    pub progress: Option<ProgressFn>,
}

impl HttpRequest {
    /// A request without a time limit of its own and without progress reports.
    pub fn new(method: Method, url: String, headers: Vec<(String, String)>, body: Option<Body>) -> HttpRequest {
        HttpRequest { method, url, headers, body, timeout: None, progress: None }
    }
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
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
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

/// One part ready to send: its body and its CRC-64 (CRC-64/XZ, as COS's
/// `x-cos-hash-crc64ecma`), which may still be computing while the body is sent.
pub struct Part {
    pub body: Body,
    pub crc64: LocalBoxFuture<'static, Result<u64>>,
}

/// Byte source for one upload. Implementations must not buffer the whole file.
///
/// Only [`FileSource::read`] is required: the defaults of [`FileSource::part`] and
/// [`FileSource::chain_hash`] read the bytes into wasm memory and process them there. Platforms
/// override them to send file handles untouched and to hash off the main thread.
pub trait FileSource {
    /// Total size in bytes, known before the upload starts.
    fn size(&self) -> u64;
    /// Reads `range` into memory; a short read is an error ([`crate::Error::FileRead`]).
    fn read(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>>;
    /// A string that changes when the file does (name, size, mtime), for checkpoint keys.
    fn fingerprint(&self) -> String;
    /// The file's own name, where the platform knows it (shown by `pendingUploads()`).
    fn name(&self) -> Option<String> {
        None
    }
    /// Whether [`FileSource::fingerprint`] changes whenever the content does (it carries a
    /// modification time): then a resumable record is found by it alone, without hashing the
    /// file's first MiB before the first byte goes out.
    fn stable_identity(&self) -> bool {
        false
    }

    /// Part `range` as a body to send, and its CRC-64.
    fn part(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Part>> {
        Box::pin(async move {
            let bytes = read_exact(self, range).await?;
            let crc = crate::checksum::crc64::checksum(&bytes);
            Ok(Part { body: Body::from(bytes), crc64: Box::pin(async move { Ok(crc) }) })
        })
    }

    /// The chained SHA-256 of docs/smh-api.md §5.8 over the 1 MiB blocks of `range` (which starts on a
    /// block boundary), continuing from `previous` (the raw hash of the blocks before it). The
    /// default hashes the bytes it reads one block per call of [`sha256`].
    fn chain_hash(&self, range: Range<u64>, previous: Option<[u8; 32]>) -> LocalBoxFuture<'_, Result<[u8; 32]>> {
        Box::pin(async move {
            let bytes = read_exact(self, range).await?;
            let mut hash = previous;
            let mut input = Vec::new(); // the previous hash ‖ the block
            for (i, block) in bytes.chunks(crate::checksum::QUICK_UPLOAD_BLOCK as usize).enumerate() {
                if i > 0 {
                    next_task().await;
                }
                input.clear();
                input.extend_from_slice(hash.as_ref().map_or(&[][..], |h| &h[..]));
                input.extend_from_slice(block);
                hash = Some(sha256(&input));
            }
            hash.ok_or_else(|| crate::Error::FileRead { message: "no bytes to hash".into() }.into())
        })
    }
}

/// SHA-256 of `bytes`, at once: in Rust natively and in the mini-program (whose logic layer has
/// no WebCrypto), in the browser's JavaScript in a page (src/platform/browser/sha256.js), whose
/// wasm carries no SHA-256. Synchronous, so a page computes it without WebCrypto: in a page,
/// meant for small inputs (a checkpoint key); a page's file bytes are hashed by its source's
/// [`FileSource::chain_hash`] (the upload Worker, WebCrypto).
#[cfg(any(not(target_arch = "wasm32"), feature = "miniprogram"))]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
#[cfg(all(target_arch = "wasm32", not(feature = "miniprogram")))]
pub use browser::sha256;

/// Bytes hashed in one synchronous call where the hashing runs on the app's own thread in wasm
/// (a mini-program's logic layer; a page's CRC-64 without the upload Worker): without a JIT
/// (WeChat on iOS interprets wasm) SHA-256 runs at ~10 MB/s, so 256 KiB keep each call near
/// 25 ms, and taps and progress callbacks run in between (`cargo xtask bench --only phone`).
pub const HASH_SLICE: usize = 256 * 1024;

/// `d` in whole milliseconds, as `Duration::as_millis` counts them, without its `u128`
/// arithmetic (which pulls 128-bit helpers into the wasm).
pub fn whole_ms(d: Duration) -> u64 {
    d.as_secs().saturating_mul(1000).saturating_add(d.subsec_millis().into())
}

/// Completes in a later task of the event loop, so that what waits on the app's thread (taps,
/// timers, replies) runs before more work does. A macrotask (`setTimeout(0)`): a resolved
/// promise would run before a mini-program's taps are handled. Natively (tests), at once.
#[cfg(target_arch = "wasm32")]
pub use browser::next_task;
/// Natively (tests), at once.
#[cfg(not(target_arch = "wasm32"))]
pub async fn next_task() {}

thread_local! {
    /// The records the JavaScript context's uploads hold (every client of the page or
    /// mini-program): [`hold_record`].
    static HELD: std::cell::RefCell<crate::vecmap::VecSet<String>> = const { std::cell::RefCell::new(crate::vecmap::VecSet::new()) };
}

#[cfg(target_arch = "wasm32")]
use browser::locks;
/// Natively one process runs every upload: [`HELD`] alone decides.
#[cfg(not(target_arch = "wasm32"))]
mod locks {
    pub struct Hold;
    pub async fn hold(_: &str) -> Option<Hold> {
        Some(Hold)
    }
    pub async fn held(_: &str) -> bool {
        false
    }
}

/// Holds record `key` for one upload against the other uploads of the JavaScript context (every
/// client of the page; all of a mini-program, which has one context) and, in browsers, of the
/// origin's other tabs and workers (the Web Locks API); `None` while one of them holds it.
/// Released when dropped.
pub async fn hold_record(key: &str) -> Option<Hold> {
    let held = HELD.with(|held| held.borrow_mut().insert(key.to_string()));
    // Dropped (so released here) if another tab holds the lock.
    let mut hold = held.then(|| Hold { key: key.to_string(), _lock: None })?;
    hold._lock = Some(locks::hold(&crate::text::concat(&["smh-upload:", key])).await?);
    Some(hold)
}

/// Whether an upload of another tab or worker of the origin holds record `key` now
/// ([`hold_record`]), asked without holding it; `false` where the page holds it.
pub async fn record_held_elsewhere(key: &str) -> bool {
    !HELD.with(|held| held.borrow().contains(key)) && locks::held(&crate::text::concat(&["smh-upload:", key])).await
}

/// A record held by [`hold_record`].
pub struct Hold {
    key: String,
    /// The Web Lock that holds it against other tabs, released when dropped.
    _lock: Option<locks::Hold>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        HELD.with(|held| held.borrow_mut().remove(&self.key));
    }
}

/// Reads `range` from `source`, failing if it gives fewer or more bytes (the file changed).
pub async fn read_exact<S: FileSource + ?Sized>(source: &S, range: Range<u64>) -> Result<Vec<u8>> {
    let want = range.end - range.start;
    let bytes = source.read(range.clone()).await?;
    if bytes.len() as u64 != want {
        return Err(crate::Error::FileRead {
            message: fill(
                "expected {} bytes at offset {}, got {}; the file changed",
                &[want.into(), range.start.into(), (bytes.len() as u64).into()],
            ),
        }
        .into());
    }
    Ok(bytes)
}

/// Persists upload checkpoints (string key → JSON string). Failures are not errors: a store
/// that cannot write simply forgets, and the upload goes on.
pub trait CheckpointStore {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>>;
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()>;
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()>;
    /// `false` for a store that keeps nothing, so the engine skips the work of checkpointing.
    fn enabled(&self) -> bool {
        true
    }
    /// Whether other clients of the page may use the same storage through their own instance
    /// (the page's IndexedDB, localStorage, wx storage): their index updates are serialised
    /// page-wide. A page's custom store says `false` and gets a lock of its own, so that a
    /// store that hangs holds up no other client.
    fn page_wide(&self) -> bool {
        true
    }
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

/// Whether the device has a network, as the platform tells it (`navigator.onLine`,
/// `wx.onNetworkStatusChange`). Offline, a request fails at once: the engine waits for the
/// network instead of spending retries ([`crate::net::retry::wait_online`]).
pub trait Connectivity {
    /// `false` only when the platform says there is no network at all.
    fn is_online(&self) -> bool;
    /// Completes once the platform says the network is back (at once when online). Dropping it
    /// stops waiting.
    fn until_online(&self) -> LocalBoxFuture<'static, ()>;
}

/// A network that is always there: native code, tests, platforms that cannot tell.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysOnline;

impl Connectivity for AlwaysOnline {
    fn is_online(&self) -> bool {
        true
    }
    fn until_online(&self) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// A checkpoint store that stores nothing (the `'none'` option).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCheckpoints;

impl CheckpointStore for NoCheckpoints {
    fn enabled(&self) -> bool {
        false
    }
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
    entries: std::cell::RefCell<crate::vecmap::VecMap<String, String>>,
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
            Err(crate::Error::FileRead { message: format!("range {range:?} outside {} bytes", self.bytes.len()) }
                .into())
        };
        Box::pin(async move { out })
    }
    fn fingerprint(&self) -> String {
        format!("mem:{}:{}", self.name, self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_ms_counts_as_as_millis_does() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(999_999),
            Duration::from_millis(100),
            Duration::from_nanos(2_147_483_647_999_999),
            Duration::from_secs(u64::MAX / 1000),
        ] {
            assert_eq!(u128::from(whole_ms(d)), d.as_millis(), "{d:?}");
        }
        assert_eq!(whole_ms(Duration::MAX), u64::MAX, "saturates");
    }
}
