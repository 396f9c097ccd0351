//! [`XhrHttp`]: the `Http` port over `XMLHttpRequest`, chosen over `fetch` because only XHR
//! reports upload progress byte by byte. Dropping the future aborts the request. The request is
//! opened, sent and heard in adapters.js (a JS function per event handler costs far less than
//! a wasm closure each); the wasm reads the reply.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::Blob;

use super::js_to_network_error;
use crate::error::{Error, Result};
use crate::json::Writer;
use crate::platform::{Body, Http, HttpRequest, HttpResponse, LocalBoxFuture, ProgressFn};
use crate::text::{fill, split};

#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    /// An `XMLHttpRequest` that adapters.js opened and sent (or will send in a later task).
    type Request;
    /// Opens and sends the request, its event handlers in JavaScript (adapters.js says what it takes).
    #[wasm_bindgen(js_name = smhXhr, catch)]
    fn start(
        exports: &JsValue,
        method: &str,
        url: &str,
        headers: &str,
        body: &JsValue,
        timeout: u32,
        progress: usize,
    ) -> std::result::Result<Request, JsValue>;
    /// The request's end: the status when loaded, else the message of the timeout (adapters.js).
    #[wasm_bindgen(method, getter = smhEnd)]
    fn end(this: &Request) -> Promise;
    /// Gives up on the request, sent or still to be sent.
    #[wasm_bindgen(method, js_name = smhAbort)]
    fn abort(this: &Request);
    /// The response headers as `name\nvalue\n…`, names lowercased, both trimmed.
    #[wasm_bindgen(js_name = smhHeaders)]
    fn response_headers(xhr: &Request) -> String;
    /// The response body (empty when there is none).
    #[wasm_bindgen(js_name = smhBody)]
    fn response_body(xhr: &Request) -> Vec<u8>;
}

/// `Http` over `XMLHttpRequest`.
#[derive(Debug, Default, Clone, Copy)]
pub struct XhrHttp;

/// Keeps the progress callback alive while the request runs; aborts it if dropped before the end.
struct InFlight {
    xhr: Request,
    finished: bool,
    _progress: Option<Box<ProgressFn>>,
}

/// Hands the upload's progress to the request's callback (adapters.js calls it, as a task's poll).
///
/// # Safety
/// `progress` must be an [`InFlight`]'s callback, alive: adapters.js calls this only until the
/// request ends or is aborted, which [`InFlight`]'s drop does first.
#[cfg(not(feature = "miniprogram"))]
#[no_mangle]
pub unsafe extern "C" fn smh_progress(progress: usize, loaded: f64) {
    (unsafe { &*(progress as *const ProgressFn) })(loaded as u64);
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.finished {
            // Its abort event clears the progress handler (adapters.js) before the closure goes.
            self.xhr.abort();
        }
    }
}

/// The pairs of adapters.js's `name\nvalue\n…` (no header line holds a line break).
fn header_pairs(text: &str) -> Vec<(String, String)> {
    let mut fields = split(text, b'\n');
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        pairs.push((name.to_string(), value.to_string()));
    }
    pairs
}

/// A header `setRequestHeader` refused (a value holding CR/LF, say). Header values come from
/// server replies (SMH's upload headers) and carry signatures, so the message names the header
/// but never shows its value; and since no retry can send it, the error is final.
fn refused_header(name: &str) -> Error {
    let is_token =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let name = if is_token { name } else { "(an invalid header name)" };
    Error::InvalidResponse {
        status: 0,
        message: fill("the browser refuses to send the `{}` header the server gave", &[name.into()]),
    }
}

async fn send(request: HttpRequest) -> Result<HttpResponse> {
    let mut headers = Writer::new();
    headers.open('[');
    for (name, value) in &request.headers {
        headers.str(name).str(value);
    }
    let headers = headers.close(']').finish();
    let body = match &request.body {
        // File bytes: the Blob slice itself, streamed by the browser, never copied by us.
        Some(Body::Handle(handle)) => match handle.get::<Blob>() {
            Some(blob) => blob.into(),
            None => {
                return Err(Error::InvalidInput {
                    option: "file".into(),
                    message: "a part body the browser cannot send".into(),
                }
                .into())
            }
        },
        // Small bodies the SDK built: a JS-owned copy stays valid even if wasm memory grows.
        Some(Body::Bytes(bytes)) => Uint8Array::from(&bytes[..]).into(),
        None => JsValue::UNDEFINED,
    };
    let timeout = request.timeout.map_or(0, |t| crate::platform::whole_ms(t).min(u32::MAX.into()) as u32);
    let progress = request.progress.clone().map(Box::new);
    let xhr = start(
        &wasm_bindgen::exports(),
        request.method.as_str(),
        &request.url,
        &headers,
        &body,
        timeout,
        progress.as_deref().map_or(0, |p| p as *const ProgressFn as usize),
    )
    .map_err(js_to_network_error)?;
    let ended = super::settled(&xhr.end());
    let mut guard = InFlight { xhr, finished: false, _progress: progress };
    let end = match ended.await {
        Ok(end) => end,
        // The name of a header the browser refused, or the network's failure (its message is
        // adapters.js's) or what open() or send() threw.
        Err(e) => {
            return Err(match e.as_string() {
                Some(name) => refused_header(&name).into(),
                None => js_to_network_error(e).into(),
            })
        }
    };
    guard.finished = true;
    let Some(status) = end.as_f64() else {
        return Err(Error::Timeout { message: end.as_string().unwrap_or_default() }.into());
    };
    let headers = header_pairs(&response_headers(&guard.xhr));
    Ok(HttpResponse { status: status as u16, headers, body: response_body(&guard.xhr) })
}

impl Http for XhrHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
        Box::pin(send(request))
    }
}
