//! What the wasm sides of `SmhClient` and `CosUploader` share: their common options and the
//! calls of the page's async functions.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::platform;
use crate::engine::ClientConfig;
use crate::platform::browser::JsCheckpoints;
use crate::platform::{CheckpointStore, NoCheckpoints};

/// Calls the JS layer's wrapper of a page function (`getAccessToken`, `getCredentials`): given
/// the time limit in ms it returns a promise of text, rejected with the text of the message when
/// the page's function threw, rejected, gave an unusable value or did not settle in time.
pub(super) async fn call_page(f: &Function, limit: Duration) -> std::result::Result<String, String> {
    let text = |v: JsValue| v.as_string().unwrap_or_default();
    let promise = f.call1(&JsValue::NULL, &JsValue::from_f64(limit.as_millis() as f64)).map_err(text)?;
    JsFuture::from(promise.unchecked_into::<Promise>()).await.map(text).map_err(text)
}

/// The number at `index` of the JS layer's `numbers`, NaN (or missing) meaning absent.
pub(super) fn number(numbers: &[f64], index: usize) -> Option<f64> {
    numbers.get(index).copied().filter(|n| !n.is_nan())
}

/// What `SmhClient` and `CosUploader` share, on top of the platform's defaults:
/// `allowedDomains` (JSON text of an array of strings), then in `numbers` concurrency,
/// partSize, multipartThreshold, retries, requestTimeout, stallTimeout and offlineTimeout (the
/// JS layer checked each is a safe integer in its range).
pub(super) fn read_common(config: &mut ClientConfig, allowed_domains: Option<String>, numbers: &[f64]) {
    platform::apply_defaults(config);
    config.allowed_domains = allowed_domains.map(|text| {
        let list = crate::json::parse(text.as_bytes()).ok();
        let items = list.as_ref().and_then(|v| v.as_array()).unwrap_or_default();
        items.iter().filter_map(|item| item.as_str().map(String::from)).collect()
    });
    if let Some(c) = number(numbers, 0) {
        // The range is checked once, by `Uploader::new`.
        config.concurrency = c as usize;
    }
    if let Some(p) = number(numbers, 1) {
        config.part_size = Some(p as u64);
    }
    if let Some(t) = number(numbers, 2) {
        config.multipart_threshold = t as u64;
    }
    if let Some(n) = number(numbers, 3) {
        config.retry.max_retries = n.min(100.0) as u32;
    }
    if let Some(ms) = number(numbers, 4) {
        config.retry.request_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = number(numbers, 5) {
        config.retry.stall_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = number(numbers, 6) {
        config.retry.offline_timeout = Duration::from_millis(ms as u64);
    }
}

/// The `checkpoints` option as the JS layer hands it: `null` for 'none', a `{get, set, remove}`
/// (the page's, or in browsers the JS layer's 'local' one), else (`undefined`) the platform's
/// 'local' one (wx storage in mini-programs).
pub(super) fn read_checkpoints(value: JsValue) -> Rc<dyn CheckpointStore> {
    match JsCheckpoints::new(&value) {
        Some(store) => Rc::new(store),
        None if value.is_null() => Rc::new(NoCheckpoints),
        None => platform::local_checkpoints(),
    }
}
