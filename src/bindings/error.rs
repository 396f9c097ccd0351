//! Every error crossing into JS is one `Error` object with `name = 'SmhUploadError'` and the
//! fields `code`, `status`, `requestId`, `retryable`.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::error::Error;

/// Builds the JS error for `error`.
pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.message());
    js.set_name("SmhUploadError");
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&js, &JsValue::from_str(k), &v);
    };
    set("code", JsValue::from_str(error.code()));
    set("status", JsValue::from_f64(error.status() as f64));
    set("requestId", error.request_id().map_or(JsValue::NULL, JsValue::from_str));
    set("retryable", JsValue::from_bool(error.retryable()));
    js.into()
}

/// `InvalidInput` naming `option`.
pub fn invalid(option: &str, message: impl Into<String>) -> JsValue {
    to_js(&Error::invalid_input(option, message))
}
