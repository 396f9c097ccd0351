//! WeChat mini-program adapters of the ports, over the `wx.*` APIs of the logic layer:
//! [`WxHttp`] (`wx.request`, at most [`MAX_REQUESTS_IN_FLIGHT`] at once, abort on drop),
//! [`WxFileSource`] (`FileSystemManager.readFile` of one range at a time, never the whole file),
//! [`WxStorageCheckpoints`] (`wx.setStorage` / `getStorage`) and [`WxConnectivity`]
//! (`wx.onNetworkStatusChange`). Time is the browser's
//! [`JsTimer`](super::browser::JsTimer): `setTimeout` exists in the logic layer too.
//!
//! The logic layer has no `WebAssembly`, `fetch`, `XMLHttpRequest`, `TextEncoder`, `URL` or DOM;
//! these adapters name only `wx.*`, reached as the free identifier `wx` (what every mini-program
//! module does), so they need nothing on the global object.
//!
//! Built only with the cargo feature `miniprogram` (see xtask/src/pkg_miniprogram.rs); like
//! every adapter, they adapt and decide nothing.

// The pool is plain Rust, so its unit tests also run natively (`cargo test`).
mod pool;
pub use pool::MAX_REQUESTS_IN_FLIGHT;

#[cfg(target_arch = "wasm32")]
mod file;
#[cfg(target_arch = "wasm32")]
mod network;
#[cfg(target_arch = "wasm32")]
mod request;
#[cfg(target_arch = "wasm32")]
mod storage;

#[cfg(target_arch = "wasm32")]
pub use file::WxFileSource;
#[cfg(target_arch = "wasm32")]
pub use network::WxConnectivity;
#[cfg(target_arch = "wasm32")]
pub use request::{WxHttp, MAX_TIMEOUT_MS};
#[cfg(target_arch = "wasm32")]
pub use storage::WxStorageCheckpoints;

#[cfg(target_arch = "wasm32")]
use js_sys::{Object, Promise, Reflect};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::JsValue;

#[cfg(target_arch = "wasm32")]
/// The `errMsg` of a `fail` callback's argument (WeChat reports every failure that way), or
/// the message of a thrown error; any URL in it loses its query (signatures live there).
fn err_msg(value: &JsValue) -> String {
    let message = Reflect::get(value, &JsValue::from_str("errMsg"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| super::browser::js_message(value));
    let words: Vec<&str> = message
        .split(' ')
        .map(|word| if crate::text::contains(word, "://") { crate::error::redact_url(word) } else { word })
        .collect();
    crate::text::join(&words, " ")
}

#[cfg(target_arch = "wasm32")]
/// A `wx.*` options object whose `success` / `fail` settle the returned promise (the
/// callback style every `wx` API takes; promise styles vary by base library).
fn with_callbacks(fields: &[(&str, JsValue)]) -> (Object, Promise) {
    let options = Object::new();
    for (name, value) in fields {
        let _ = Reflect::set(&options, &JsValue::from_str(name), value);
    }
    let promise = Promise::new(&mut |resolve, reject| {
        let _ = Reflect::set(&options, &JsValue::from_str("success"), &resolve);
        let _ = Reflect::set(&options, &JsValue::from_str("fail"), &reject);
    });
    (options, promise)
}
