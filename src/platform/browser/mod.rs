//! Browser adapters of the ports: [`XhrHttp`] (byte-level upload progress, abort on drop),
//! [`BlobSource`] (slices, never the whole file), [`JsTimer`], the page's checkpoint store
//! ([`JsCheckpoints`]; the `'local'` one is the JS layer's, src/bindings/js/local.js),
//! [`NavigatorConnectivity`], and the upload [`worker`] that hashes off the main thread.
//!
//! Globals are bound directly (not through `window()`), so the adapters also work in workers.

mod blob;
pub mod locks;
pub(crate) mod online;
mod storage;
mod timer;
pub mod worker;
mod xhr;

pub use blob::BlobSource;
pub use online::NavigatorConnectivity;
pub use storage::JsCheckpoints;
pub use timer::{next_task, JsTimer};
pub use xhr::XhrHttp;

use wasm_bindgen::JsValue;

use crate::error::Error;

/// Turns a thrown JS value into a message (for `Network`/`FileRead` errors).
pub fn js_message(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| "unknown JavaScript error".to_string())
}

/// Maps a thrown JS value to [`Error::Network`].
pub fn js_to_network_error(value: JsValue) -> Error {
    Error::Network { message: js_message(&value) }
}

use wasm_bindgen::JsCast;
