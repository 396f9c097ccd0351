//! A page's SHA-256: the browser's, not the wasm's (which carries none). sha256.js (a
//! wasm-bindgen snippet, whose code also opens the upload Worker's script) computes it in
//! JavaScript for [`sha256`], which must be synchronous (checkpoint keys), and hashes a `Blob`'s
//! quick-upload chain where the Worker cannot run ([`page_chain_hash`]), with WebCrypto where the
//! page has it (secure contexts) and in JavaScript where it does not.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::Blob;

#[wasm_bindgen(module = "/src/platform/browser/sha256.js")]
extern "C" {
    #[wasm_bindgen(js_name = smhSha256)]
    fn js_sha256(bytes: &[u8], out: &mut [u8]);
    /// The chained SHA-256 of docs/smh-api.md §5.8 of `blob` after `previous`, in the page:
    /// resolves with a `Uint8Array(32)`; rejects when `blob` is empty or its read fails. `js`:
    /// SHA-256 in JavaScript even where WebCrypto exists (the browser tests check that path).
    #[wasm_bindgen(js_name = smhPageChainHash)]
    pub(super) fn page_chain_hash(blob: &Blob, previous: Option<Uint8Array>, js: bool) -> Promise;
}

/// SHA-256 of `bytes` ([`crate::platform::sha256`]).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    js_sha256(bytes, &mut out);
    out
}
