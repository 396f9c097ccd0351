//! [`WxHttp`]: the `Http` port over `wx.request`. Facts it adapts to (WeChat's `wx.request` and
//! network docs):
//!
//! - `success` fires for every HTTP status; `fail` only when no response came (`errMsg`
//!   `request:fail …`, `… timeout`, `… abort`).
//! - The request body is the part's `ArrayBuffer` itself (the handle `readFile` gave
//!   [`WxFileSource`](super::WxFileSource)); bytes the SDK built (JSON) are copied into a new
//!   `ArrayBuffer`. `responseType: 'arraybuffer'` gives the reply's bytes undecoded.
//! - `Referer` cannot be set and `Content-Length` must not be: both are left out. Without a
//!   `Content-Type` WeChat sends `application/json`, so a body without one is declared
//!   `application/octet-stream` (what the bytes are; a browser's XHR sends none).
//! - The longest timeout is 60 s ([`MAX_TIMEOUT_MS`]); no request waits longer.
//! - There is no upload progress on `wx.request` (only `wx.uploadFile`, which is
//!   multipart/form-data POST only): `HttpRequest::progress` is never called, so an upload's
//!   progress moves part by part.
//! - Reply header names keep the server's case; they are lowercased here.
//!
//! Every request holds a place in the [pool](super::pool) while it runs; dropping the future
//! aborts the `RequestTask`.

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::{err_msg, pool, with_callbacks};
use crate::error::{redact_url, Error, Result};
use crate::platform::{Body, Http, HttpRequest, HttpResponse, LocalBoxFuture};
use crate::text::concat;

/// WeChat's longest request timeout (also its default).
pub const MAX_TIMEOUT_MS: u64 = 60_000;

#[wasm_bindgen]
extern "C" {
    /// `wx.request`'s `RequestTask`.
    type RequestTask;
    #[wasm_bindgen(js_namespace = wx, js_name = request, catch)]
    fn wx_request(options: &Object) -> std::result::Result<RequestTask, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn abort(this: &RequestTask) -> std::result::Result<(), JsValue>;
}

/// `Http` over `wx.request`.
#[derive(Debug, Default, Clone, Copy)]
pub struct WxHttp;

/// Aborts the request if the future is dropped before `wx.request` answered.
struct AbortOnDrop {
    task: Option<RequestTask>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.abort();
        }
    }
}

/// The request body as `wx.request` takes it: an `ArrayBuffer`.
fn body_buffer(body: &Body) -> Result<ArrayBuffer> {
    match body {
        Body::Bytes(bytes) => Ok(Uint8Array::from(&bytes[..]).buffer()),
        Body::Handle(handle) => handle.get::<ArrayBuffer>().cloned().ok_or_else(|| {
            Error::FileRead { message: "a part body that is not a mini-program ArrayBuffer".into() }.into()
        }),
    }
}

fn header_object(request: &HttpRequest) -> Object {
    let header = Object::new();
    let mut has_content_type = false;
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("referer")
            || name.eq_ignore_ascii_case("host")
        {
            continue;
        }
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        let _ = Reflect::set(&header, &JsValue::from_str(name), &JsValue::from_str(value));
    }
    if request.body.is_some() && !has_content_type {
        let _ =
            Reflect::set(&header, &JsValue::from_str("Content-Type"), &JsValue::from_str("application/octet-stream"));
    }
    header
}

/// `success`'s argument as an [`HttpResponse`].
fn response(reply: &JsValue) -> HttpResponse {
    let get = |name: &str| Reflect::get(reply, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let status = get("statusCode").as_f64().filter(|s| (0.0..1000.0).contains(s)).unwrap_or(0.0) as u16;
    let mut headers = Vec::new();
    let header = get("header");
    // `is_object`, not `instanceof Object`: the header object may come from another realm.
    if header.is_object() {
        for entry in Object::entries(header.unchecked_ref()).iter() {
            let pair: Array = entry.unchecked_into();
            let name = pair.get(0).as_string().unwrap_or_default().to_ascii_lowercase();
            let value = pair.get(1);
            // A number as JS writes it (`String(n)`), without float formatting in the wasm.
            let number =
                || value.as_f64().and_then(|_| value.unchecked_ref::<js_sys::Number>().to_string_with_radix(10).ok());
            let value = value.as_string().or_else(|| number().map(String::from)).unwrap_or_default();
            headers.push((name, value));
        }
    }
    let data = get("data");
    let body = if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        Uint8Array::new(buffer).to_vec()
    } else {
        data.as_string().map(String::into_bytes).unwrap_or_default()
    };
    HttpResponse { status, headers, body }
}

async fn send(request: HttpRequest) -> Result<HttpResponse> {
    let what = concat(&[request.method.as_str(), " ", redact_url(&request.url)]);
    let timeout_ms = request.timeout.map_or(MAX_TIMEOUT_MS, |t| (t.as_millis() as u64).clamp(1, MAX_TIMEOUT_MS));
    let mut fields = vec![
        ("url", JsValue::from_str(&request.url)),
        ("method", JsValue::from_str(request.method.as_str())),
        ("header", header_object(&request).into()),
        ("responseType", JsValue::from_str("arraybuffer")),
        ("timeout", JsValue::from_f64(timeout_ms as f64)),
    ];
    if let Some(body) = &request.body {
        fields.push(("data", body_buffer(body)?.into()));
    }
    let _permit = pool::acquire().await;
    let (options, reply) = with_callbacks(&fields);
    let task = wx_request(&options)
        .map_err(|e| Error::Network { message: concat(&[&what, ": wx.request threw: ", &err_msg(&e)]) })?;
    let mut guard = AbortOnDrop { task: Some(task) };
    let outcome = JsFuture::from(reply).await;
    guard.task = None;
    match outcome {
        Ok(reply) => Ok(response(&reply)),
        Err(failure) => {
            let message = err_msg(&failure);
            if crate::text::contains(&message, "timeout") {
                Err(Error::Timeout { message: concat(&[&what, ": ", &message]) }.into())
            } else {
                Err(Error::Network { message: concat(&[&what, ": ", &message]) }.into())
            }
        }
    }
}

impl Http for WxHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
        Box::pin(send(request))
    }
}
