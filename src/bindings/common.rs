//! What the wasm sides of `SmhClient` and `CosUploader` share: their common options and the
//! calls of the page's async functions.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::platform;
use crate::engine::ClientConfig;
use crate::platform::browser::JsCheckpoints;
use crate::platform::{CheckpointStore, NoCheckpoints};

#[wasm_bindgen]
extern "C" {
    /// The JS layer's wrapper of a page function (`getAccessToken`, `getCredentials`;
    /// `smh$bounded` in src/bindings/js/api.js): given the time limit in ms it returns a promise
    /// of text, rejected with the text of the message when the page's function threw, rejected,
    /// gave an unusable value or did not settle in time. It never throws itself.
    pub(super) type PageCall;
    #[wasm_bindgen(method, js_name = call)]
    fn call_with_limit(this: &PageCall, this_arg: &JsValue, ms: f64) -> Promise;
}

/// Calls `f` with `limit`: the text its promise resolves with, or the message it rejects with.
pub(super) fn call_page(f: &PageCall, limit: Duration) -> impl Future<Output = Result<String, String>> + 'static {
    fn as_text(v: JsValue) -> String {
        v.as_string().unwrap_or_default()
    }
    let promise = f.call_with_limit(&JsValue::NULL, crate::platform::whole_ms(limit) as f64);
    crate::platform::browser::settled(&promise).map(|settled| settled.map(as_text).map_err(as_text))
}

/// Item `index` of the array of options the JS layer hands a constructor (`undefined` past its
/// end).
pub(super) fn at(values: &JsValue, index: u32) -> JsValue {
    Reflect::get(values, &index.into()).unwrap_or_default()
}

/// The string at `index` of a constructor's options.
pub(super) fn text(values: &JsValue, index: u32) -> Option<String> {
    at(values, index).as_string()
}

/// The number at `index` of a constructor's options, NaN (or missing) meaning absent.
pub(super) fn number(values: &JsValue, index: u32) -> Option<f64> {
    at(values, index).as_f64().filter(|n| !n.is_nan())
}

/// What `SmhClient` and `CosUploader` share, on top of the platform's defaults, from the first
/// items of the options array: `allowedDomains` (JSON text of an array of strings), then
/// concurrency, partSize, multipartThreshold, retries, requestTimeout, stallTimeout and
/// offlineTimeout (the JS layer checked each is a safe integer in its range), then
/// `checkpoints` (its store is returned; [`read_checkpoints`]). Each class's own follow.
pub(super) fn read_common(config: &mut ClientConfig, values: &JsValue) -> Rc<dyn CheckpointStore> {
    platform::apply_defaults(config);
    config.allowed_domains = text(values, 0).map(|text| {
        let list = crate::json::parse(text.as_bytes()).ok();
        let items = list.as_ref().and_then(|v| v.as_array()).unwrap_or_default();
        items.iter().filter_map(|item| item.as_str().map(String::from)).collect()
    });
    if let Some(c) = number(values, 1) {
        // The range is checked once, by `Uploader::new`.
        config.concurrency = c as usize;
    }
    if let Some(p) = number(values, 2) {
        config.part_size = Some(p as u64);
    }
    if let Some(t) = number(values, 3) {
        config.multipart_threshold = t as u64;
    }
    if let Some(n) = number(values, 4) {
        config.retry.max_retries = n.min(100.0) as u32;
    }
    if let Some(ms) = number(values, 5) {
        config.retry.request_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = number(values, 6) {
        config.retry.stall_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = number(values, 7) {
        config.retry.offline_timeout = Duration::from_millis(ms as u64);
    }
    read_checkpoints(at(values, 8))
}

/// The `checkpoints` option as the JS layer hands it: `null` for 'none', a `{get, set, remove}`
/// (the page's, or in browsers the JS layer's 'local' one), else (`undefined`) the platform's
/// 'local' one (wx storage in mini-programs).
fn read_checkpoints(value: JsValue) -> Rc<dyn CheckpointStore> {
    match JsCheckpoints::new(&value) {
        Some(store) => Rc::new(store),
        None if value.is_null() => Rc::new(NoCheckpoints),
        None => platform::local_checkpoints(),
    }
}
