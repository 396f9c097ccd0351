//! Hashing off the main thread: the CRC-64 of each part and the quick-upload hashes are computed
//! in one module Worker per page, which reads the same `Blob` slices the page sends.
//!
//! - **Where.** `adapters.js` (page side, a wasm-bindgen snippet) creates the Worker when the
//!   first client is made ([`start`]; a page that only loads the package starts none) with
//!   `new Worker(new URL('…/smh_upload_worker.js', import.meta.url), {type: 'module'})`, shares
//!   it between all uploads of the page and multiplexes requests by id. The Worker
//!   (pkg-template/smh_upload_worker.js, shipped at the package root) gets the page's compiled
//!   `WebAssembly.Module` by `postMessage` — nothing is fetched or compiled twice — and runs the
//!   CRC-64 kernel of src/bindings/worker.rs; SHA-256 goes to WebCrypto's `subtle.digest` where
//!   it exists and to JavaScript where it does not (src/platform/browser/sha256.js, whose code
//!   opens the Worker's script).
//! - **Fallback.** Where the Worker cannot run — no `Worker`, a Content-Security-Policy whose
//!   `worker-src` (or `script-src`) refuses the script, a bundler that did not emit it, a crash —
//!   every request, pending or later, is computed here in the page instead, by the same code (the
//!   CRC-64 in the same Rust, the chain in the same sha256.js), so the results are identical;
//!   only the main thread is busier.
//! - **Bundlers.** Vite and webpack 5 recognise the `new Worker(new URL(…, import.meta.url))`
//!   form and emit `smh_upload_worker.js` with the bundle; other bundlers must copy that file next
//!   to the entry's JS (the package root: `cargo xtask pkg` inlines this snippet into each entry's
//!   glue, xtask/src/snippets.rs), or the fallback is used. A page's CSP
//!   must allow the script's origin in `worker-src` (which falls back to `child-src`, then
//!   `script-src`); inside the Worker the policy of the script's own response applies.
//! - **Errors.** A failed read in the Worker (the file changed or vanished) is
//!   [`Error::FileRead`], like a failed read in the page.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::Blob;

use super::read_error;
use super::sha256::page_chain_hash;
use crate::error::{Error, Result};

#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    /// `via`: 0 auto, 1 worker, 2 page; `exports`: the page's instance's, for the page's kernel.
    #[wasm_bindgen(js_name = smhWorkerCrc64)]
    fn worker_crc64(module: &JsValue, exports: &JsValue, blob: &Blob, via: i32) -> Promise;
    /// `via`: 0 auto, 1 worker, 2 js; `source` (0: none) and `start` name `blob`'s bytes and
    /// `next`'s for the reads ahead ([`ReadAhead`]).
    #[wasm_bindgen(js_name = smhWorkerChainHash)]
    fn worker_chain_hash(
        module: &JsValue,
        blob: &Blob,
        previous: Option<Uint8Array>,
        via: i32,
        source: i32,
        start: f64,
        next: Option<Blob>,
    ) -> Promise;
    #[wasm_bindgen(js_name = smhWorkerStart)]
    fn worker_start(module: &JsValue);
    #[wasm_bindgen(js_name = smhWorkerMemory)]
    fn worker_memory(module: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = smhWorkerReplies)]
    fn worker_replies() -> f64;
    #[wasm_bindgen(js_name = smhWorkerUseScript)]
    fn worker_use_script(url: &str);
    /// Whether a rejection means "compute in the page": the Worker cannot be used.
    #[wasm_bindgen(js_name = smhWorkerUnavailable)]
    fn is_unavailable(error: &JsValue) -> bool;
}

/// Where a hash is computed. Uploads use [`Via::Auto`]; the others exist for the browser tests,
/// which check that every path gives the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The Worker (WebCrypto for SHA-256 where it exists), else the page; the first block's hash
    /// asked while the Worker is still starting is WebCrypto's in the page (adapters.js says
    /// why).
    Auto,
    /// The Worker only, with WebCrypto where it exists: an unavailable Worker is an error.
    Worker,
    /// The Worker only, SHA-256 in JavaScript.
    WorkerJs,
    /// The page's main thread (WebCrypto for SHA-256 where it exists).
    Page,
    /// The page's main thread, SHA-256 in JavaScript.
    PageJs,
}

/// Starts the Worker now, if it is not running (or known unusable): a client was made, so an
/// upload is likely to follow, and the Worker's start-up (a module script instantiating the wasm,
/// tens of ms) then overlaps the page's own work rather than the upload's first hashes. Reads
/// nothing; a Worker that cannot start leaves the page to compute.
pub fn start() {
    #[cfg(not(feature = "miniprogram"))]
    worker_start(&wasm_bindgen::module());
}

/// CRC-64/XZ of `blob`, computed by adapters.js: in the Worker, or in the page by the same wasm
/// kernel over reads of [`crate::platform::HASH_SLICE`] bytes. With [`Via::Auto`] (an upload's
/// part, [`super::BlobSource`]) it waits a task first: the part's XHR `send`, queued the same way
/// just before, goes first, so the first part's byte does not wait for the Worker's start-up (it
/// starts on its first request). Asked when first polled.
pub async fn crc64(blob: Blob, via: Via) -> Result<u64> {
    let how = match via {
        Via::Auto => 0,
        Via::Worker | Via::WorkerJs => 1,
        Via::Page | Via::PageJs => 2,
    };
    let reply = super::settled(&worker_crc64(&wasm_bindgen::module(), &wasm_bindgen::exports(), &blob, how)).await;
    let value = reply.map_err(read_error)?;
    value
        .as_string()
        .and_then(|s| crate::json::parse_u64(&s))
        .ok_or_else(|| Error::FileRead { message: "the upload Worker sent a malformed CRC-64".into() }.into())
}

/// The chained SHA-256 of docs/smh-api.md §5.8 over the 1 MiB blocks of `blob`, continuing from
/// `previous`; `blob` starts on a block boundary of the file.
pub async fn chain_hash(blob: &Blob, previous: Option<[u8; 32]>, via: Via) -> Result<[u8; 32]> {
    chain_hash_ahead(Ok(blob.clone()), previous, via, None).await
}

/// What the next [`chain_hash_ahead`] request will hash, so the Worker reads it early: the file
/// (`source`, a number not 0 that names one file of the page and no other), where this
/// request's blob starts in it, and the blob that follows it there. adapters.js names each
/// range of bytes by these (`source:start-end`): the Worker uses bytes read ahead only for the
/// request of the same range.
pub struct ReadAhead {
    pub source: u32,
    pub start: u64,
    pub next: Option<Blob>,
}

/// [`chain_hash`] of a slice (its failure is the hash's), with the Worker told what comes next
/// (the file hashed in several requests).
pub async fn chain_hash_ahead(
    blob: Result<Blob>,
    previous: Option<[u8; 32]>,
    via: Via,
    ahead: Option<ReadAhead>,
) -> Result<[u8; 32]> {
    let blob = &blob?;
    let previous_js = || previous.map(|p| Uint8Array::from(&p[..]));
    if !matches!(via, Via::Page | Via::PageJs) {
        let how = match via {
            Via::WorkerJs => 2,
            Via::Worker => 1,
            _ => 0,
        };
        let ReadAhead { source, start, next } = ahead.unwrap_or(ReadAhead { source: 0, start: 0, next: None });
        let module = wasm_bindgen::module();
        let hashed = worker_chain_hash(&module, blob, previous_js(), how, source as i32, start as f64, next);
        match super::settled(&hashed).await {
            Err(e) if via == Via::Auto && is_unavailable(&e) => {}
            reply => return hash_of(reply),
        }
    }
    hash_of(super::settled(&page_chain_hash(blob, previous_js(), via == Via::PageJs)).await)
}

/// The 32-byte hash a chain request resolved with, or its failure as [`Error::FileRead`].
fn hash_of(reply: std::result::Result<JsValue, JsValue>) -> Result<[u8; 32]> {
    let value = reply.map_err(read_error)?;
    let bytes = super::bytes_of(&value).unwrap_or_default();
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| Error::FileRead { message: "a malformed hash".into() }.into())
}

/// Bytes of wasm memory the Worker holds (browser tests check it stays flat).
pub async fn worker_memory_bytes() -> Result<f64> {
    let value = super::settled(&worker_memory(&wasm_bindgen::module())).await.map_err(read_error)?;
    value.as_f64().ok_or_else(|| Error::FileRead { message: "the upload Worker sent a malformed size".into() }.into())
}

/// How many requests the Worker has answered on this page (tests check that uploads use it).
pub fn replies() -> u64 {
    worker_replies() as u64
}

/// Browser tests: run the Worker from `url` (e.g. a `blob:` URL of the script) from now on.
pub fn use_worker_script(url: &str) {
    worker_use_script(url);
}
