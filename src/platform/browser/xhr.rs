//! [`XhrHttp`]: the `Http` port over `XMLHttpRequest`, chosen over `fetch` because only XHR
//! reports upload progress byte by byte. Dropping the future aborts the request.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest, XmlHttpRequestResponseType};

use super::js_to_network_error;
use crate::error::{Error, Result};
use crate::platform::{Body, Http, HttpRequest, HttpResponse, LocalBoxFuture};
use crate::text::{concat, fill};

/// `Http` over `XMLHttpRequest`.
#[derive(Debug, Default, Clone, Copy)]
pub struct XhrHttp;

/// Keeps the handlers alive while the request runs; aborts it if dropped before the end.
struct InFlight {
    xhr: XmlHttpRequest,
    finished: bool,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.xhr.set_onload(None);
        self.xhr.set_onerror(None);
        self.xhr.set_ontimeout(None);
        self.xhr.set_onabort(None);
        if let Ok(upload) = self.xhr.upload() {
            upload.set_onprogress(None);
        }
        if !self.finished {
            let _ = self.xhr.abort();
        }
    }
}

fn parse_headers(raw: &str) -> Vec<(String, String)> {
    // Lines end in CRLF; the CR goes with the trim.
    raw.split('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
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
    if matches!(request.body, Some(Body::Handle(_))) {
        // A part: its `send` (costly under DevTools) in a task of its own, not in one with the
        // other parts of its wave.
        super::next_task().await;
    }
    let xhr = XmlHttpRequest::new().map_err(js_to_network_error)?;
    xhr.open_with_async(request.method.as_str(), &request.url, true).map_err(js_to_network_error)?;
    xhr.set_response_type(XmlHttpRequestResponseType::Arraybuffer);
    if let Some(t) = request.timeout {
        xhr.set_timeout(t.as_millis().min(u32::MAX as u128) as u32);
    }
    for (name, value) in &request.headers {
        xhr.set_request_header(name, value).map_err(|_| refused_header(name))?;
    }
    let resolve: Rc<RefCell<Option<Function>>> = Rc::default();
    let promise = Promise::new(&mut |res, _rej| *resolve.borrow_mut() = Some(res));
    let outcome = |tag: &'static str| {
        let resolve = resolve.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
            if let Some(f) = resolve.borrow_mut().take() {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(tag));
            }
        })
    };
    let (onload, onerror, ontimeout, onabort) =
        (outcome("load"), outcome("error"), outcome("timeout"), outcome("abort"));
    xhr.set_onload(Some(onload.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(ontimeout.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(onabort.as_ref().unchecked_ref()));
    let mut handlers = vec![onload, onerror, ontimeout, onabort];
    if let Some(progress) = request.progress.clone() {
        let onprogress = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let Some(e) = event.dyn_ref::<ProgressEvent>() {
                progress(e.loaded() as u64);
            }
        });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(onprogress.as_ref().unchecked_ref()));
        }
        handlers.push(onprogress);
    }
    let mut guard = InFlight { xhr: xhr.clone(), finished: false, _handlers: handlers };
    let sent = match &request.body {
        // File bytes: the Blob slice itself, streamed by the browser, never copied by us.
        Some(Body::Handle(handle)) => match handle.get::<Blob>() {
            Some(blob) => xhr.send_with_opt_blob(Some(blob)),
            None => {
                return Err(Error::InvalidInput {
                    option: "file".into(),
                    message: "a part body the browser cannot send".into(),
                })
            }
        },
        // Small bodies the SDK built: a JS-owned copy stays valid even if wasm memory grows.
        Some(Body::Bytes(bytes)) => xhr.send_with_opt_buffer_source(Some(&Uint8Array::from(&bytes[..]))),
        None => xhr.send(),
    };
    sent.map_err(js_to_network_error)?;
    let tag = JsFuture::from(promise).await.ok().and_then(|v| v.as_string()).unwrap_or_default();
    guard.finished = true;
    let what = crate::error::redact_url(&request.url).to_string();
    match tag.as_str() {
        "load" => {}
        "timeout" => return Err(Error::Timeout { message: concat(&[request.method.as_str(), " ", &what]) }),
        // Connection refused/reset, or a CORS refusal: the browser does not say which.
        _ => {
            return Err(Error::Network {
                message: fill(
                    "{} {} failed (network error or CORS)",
                    &[request.method.as_str().into(), (&what).into()],
                ),
            })
        }
    }
    let status = xhr.status().map_err(js_to_network_error)?;
    let headers = parse_headers(&xhr.get_all_response_headers().unwrap_or_default());
    let body = match xhr.response() {
        Ok(v) if v.is_instance_of::<js_sys::ArrayBuffer>() => Uint8Array::new(&v).to_vec(),
        _ => Vec::new(),
    };
    Ok(HttpResponse { status, headers, body })
}

impl Http for XhrHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse>> {
        Box::pin(send(request))
    }
}
