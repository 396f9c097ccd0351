//! Browser adapters of the ports: [`XhrHttp`] (byte-level upload progress, abort on drop),
//! [`BlobSource`] (slices, never the whole file), [`JsTimer`], the page's checkpoint store
//! ([`JsCheckpoints`]; the `'local'` one is the JS layer's, src/bindings/js/local.js),
//! [`NavigatorConnectivity`], the upload [`worker`] that hashes off the main thread, the page's
//! SHA-256 ([`sha256()`]: the browser's) and its JSON reader (the browser's `JSON.parse`).
//!
//! Globals are bound directly (not through `window()`), so the adapters also work in workers.
//! The mini-program build leaves out the `Blob` source, the Worker and the page's SHA-256 and JSON
//! reader (its logic layer has none of Blob, Worker or wasm-bindgen's snippets).

#[cfg(not(feature = "miniprogram"))]
mod blob;
#[cfg(not(feature = "miniprogram"))]
pub(crate) mod json;
pub mod locks;
pub(crate) mod online;
#[cfg(not(feature = "miniprogram"))]
mod sha256;
#[cfg(not(feature = "miniprogram"))]
pub mod spawn;
mod storage;
mod timer;
#[cfg(not(feature = "miniprogram"))]
pub mod worker;
mod xhr;

#[cfg(not(feature = "miniprogram"))]
pub use blob::BlobSource;
pub use online::NavigatorConnectivity;
#[cfg(not(feature = "miniprogram"))]
pub use sha256::sha256;
#[cfg(not(feature = "miniprogram"))]
pub use spawn::settled;
pub use storage::JsCheckpoints;
pub use timer::{next_task, JsTimer};
pub use xhr::XhrHttp;

#[cfg(not(feature = "miniprogram"))]
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::error::Error;

#[cfg(not(feature = "miniprogram"))]
#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    /// A copy of the bytes of an `ArrayBuffer` or a `Uint8Array` (a file's read, a hash the
    /// Worker sent); `None` for any other value.
    #[wasm_bindgen(js_name = smhBytes)]
    fn bytes_of(value: &JsValue) -> Option<Vec<u8>>;
    /// Turns a thrown JS value into a message (for `Network`/`FileRead` errors): an `Error`'s
    /// message, a string itself, else "unknown JavaScript error".
    #[wasm_bindgen(js_name = smhMessage)]
    pub fn js_message(value: &JsValue) -> String;
}

/// [`settled`] in the mini-program build (no snippets): wasm-bindgen-futures' bridge.
#[cfg(feature = "miniprogram")]
pub fn settled(promise: &js_sys::Promise) -> wasm_bindgen_futures::JsFuture {
    promise.clone().into()
}

/// [`js_message`] in the mini-program build, which has no snippets.
#[cfg(feature = "miniprogram")]
pub fn js_message(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| "unknown JavaScript error".to_string())
}

/// A failed read of a file as [`Error::FileRead`], from what JS threw.
#[cfg(not(feature = "miniprogram"))]
fn read_error(value: JsValue) -> Box<Error> {
    Error::FileRead { message: js_message(&value) }.into()
}

/// Maps a thrown JS value to [`Error::Network`].
pub fn js_to_network_error(value: JsValue) -> Error {
    Error::Network { message: js_message(&value) }
}

#[cfg(feature = "miniprogram")]
use wasm_bindgen::JsCast;
