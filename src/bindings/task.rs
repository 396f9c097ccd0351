//! `UploadTask`: the handle of one upload — `pause`, `resume`, `cancel`, `done()`, `state`,
//! `progress` — and the observer that forwards engine events to the page's callbacks.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use super::error::{invalid, to_js};
use super::options::Reader;
use crate::engine::{
    run, run_cos, Control, CosObject, CosResult, DirectCosUploader, Observer, Phase, Progress, SmhUploader,
    UploadOptions, UploadResult, UploadState,
};
use crate::smh::{Conflict, LibraryPath};
use crate::text::concat;

#[cfg(feature = "smh-client")]
const UPLOAD_OPTIONS: &[&str] =
    &["conflict", "quickUpload", "createParents", "onProgress", "onStateChange", "onWarning", "signal"];
#[cfg(feature = "cos-uploader")]
const COS_UPLOAD_OPTIONS: &[&str] = &["contentType", "meta", "onProgress", "onStateChange", "onWarning", "signal"];

/// What the handle and the running upload share.
struct Shared {
    state: Cell<UploadState>,
    progress: Cell<Progress>,
    on_progress: Option<Function>,
    on_state: Option<Function>,
    on_warning: Option<Function>,
}

fn progress_to_js(p: &Progress) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    let phase = match p.phase {
        Phase::Hashing => "hashing",
        Phase::Uploading => "uploading",
        Phase::Confirming => "confirming",
    };
    set("phase", JsValue::from_str(phase));
    set("loaded", JsValue::from_f64(p.loaded as f64));
    set("total", JsValue::from_f64(p.total as f64));
    set("speed", JsValue::from_f64(p.speed));
    set("eta", p.eta.map_or(JsValue::NULL, JsValue::from_f64));
    if p.offline {
        set("waiting", JsValue::from_str("offline"));
    }
    o.into()
}

/// Calls a page callback; an exception there must not break the upload.
fn call_back(f: &Function, arg: &JsValue) {
    if let Err(e) = f.call1(&JsValue::NULL, arg) {
        web_sys::console::warn_2(&JsValue::from_str("smh-upload: a callback threw:"), &e);
    }
}

impl Observer for Shared {
    fn on_state(&self, state: UploadState) {
        self.state.set(state);
        if let Some(f) = &self.on_state {
            call_back(f, &JsValue::from_str(state.as_str()));
        }
        if state == UploadState::Cancelled {
            // Settled now: the engine may still be cleaning up (an upload the server was
            // opening when cancel() came is cancelled once its reply arrives).
            if let Some(reject) = take_live(|_, shared| std::ptr::eq(shared, self)) {
                let _ = reject.call1(&JsValue::NULL, &to_js(&crate::Error::Aborted));
            }
        }
    }
    fn on_progress(&self, progress: &Progress) {
        self.progress.set(*progress);
        if let Some(f) = &self.on_progress {
            call_back(f, &progress_to_js(progress));
        }
    }
    fn on_warning(&self, code: &'static str, message: &str) {
        let warning = js_sys::Object::new();
        let _ = Reflect::set(&warning, &"code".into(), &JsValue::from_str(code));
        let _ = Reflect::set(&warning, &"message".into(), &JsValue::from_str(message));
        match &self.on_warning {
            Some(f) => call_back(f, &warning),
            None => web_sys::console::warn_2(&JsValue::from_str("smh-upload:"), &JsValue::from_str(message)),
        }
    }
}

#[cfg(feature = "smh-client")]
fn result_to_js(r: &UploadResult) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    set("path", JsValue::from_str(&r.file.path));
    set("name", JsValue::from_str(&r.file.name));
    set("size", JsValue::from_f64(r.file.size.unwrap_or(r.size) as f64));
    set("crc64", JsValue::from_str(r.file.crc64.as_deref().unwrap_or(&r.crc64)));
    set("instant", JsValue::from_bool(r.instant));
    set("isOverwritten", JsValue::from_bool(r.file.is_overwritten));
    set("etag", r.file.etag.as_deref().map_or(JsValue::NULL, JsValue::from_str));
    // JSON.parse of SMH's reply: smaller in wasm than a serde → JS value serializer.
    let info = js_sys::JSON::parse(&r.file.raw.to_json()).unwrap_or(JsValue::NULL);
    set("info", info);
    o.into()
}

#[cfg(feature = "cos-uploader")]
fn cos_result_to_js(r: &CosResult) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    set("key", JsValue::from_str(&r.key));
    set("size", JsValue::from_f64(r.size as f64));
    set("crc64", JsValue::from_str(&r.crc64));
    set("etag", r.etag.as_deref().map_or(JsValue::NULL, JsValue::from_str));
    set("location", JsValue::from_str(&r.location));
    o.into()
}

thread_local! {
    /// Tasks whose promise has not settled: a panic rejects them all (see [`reject_live_tasks`]).
    static LIVE: RefCell<Vec<(u64, Rc<Shared>, Function)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// The task's promise, settled when `future` ends; registered in [`LIVE`] meanwhile.
fn settle_later<T: 'static>(
    shared: Rc<Shared>,
    future: impl std::future::Future<Output = crate::Result<T>> + 'static,
    result_to_js: fn(&T) -> JsValue,
) -> Promise {
    let id = NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    });
    let mut resolve_fn = None;
    let promise = Promise::new(&mut |resolve, reject| {
        resolve_fn = Some(resolve);
        LIVE.with(|live| live.borrow_mut().push((id, shared.clone(), reject)));
    });
    let resolve = resolve_fn.unwrap_or_else(|| Function::new_no_args(""));
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = future.await;
        // Gone when the task was settled earlier (cancelled).
        let Some(reject) = take_live(|i, _| i == id) else { return };
        let _ = match outcome {
            Ok(result) => resolve.call1(&JsValue::NULL, &result_to_js(&result)),
            Err(error) => reject.call1(&JsValue::NULL, &to_js(&error)),
        };
    });
    // The page may never call done(); that must not surface as an unhandled rejection.
    let noop = Closure::<dyn FnMut(JsValue)>::new(|_| {});
    let _ = promise.catch(&noop);
    noop.forget();
    promise
}

/// Removes the live task (id, shared state) `is` accepts and returns its `reject`.
fn take_live(is: impl Fn(u64, &Shared) -> bool) -> Option<Function> {
    LIVE.with(|live| {
        let mut live = live.borrow_mut();
        let at = live.iter().position(|(id, shared, _)| is(*id, shared))?;
        Some(live.swap_remove(at).2)
    })
}

/// Called by the panic hook: a panic aborts the wasm instance, so no task could settle any more;
/// reject every live one (`InternalError`, state `'failed'`) instead of leaving it hanging.
pub fn reject_live_tasks(message: &str) {
    let tasks = LIVE.with(|live| live.try_borrow_mut().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default());
    for (_, shared, reject) in tasks {
        shared.state.set(UploadState::Failed);
        let error = js_sys::Error::new(&concat(&["smh-upload stopped on an internal error: ", message]));
        error.set_name("SmhUploadError");
        for (k, v) in [
            ("code", JsValue::from_str("InternalError")),
            ("status", JsValue::from_f64(0.0)),
            ("requestId", JsValue::NULL),
            ("retryable", JsValue::FALSE),
        ] {
            let _ = Reflect::set(&error, &JsValue::from_str(k), &v);
        }
        let _ = reject.call1(&JsValue::NULL, &error);
    }
}

/// One upload.
#[wasm_bindgen]
pub struct UploadTask {
    shared: Rc<Shared>,
    control: Control,
    done: Promise,
    /// Keeps the `abort` listener alive as long as the task.
    _abort: Option<(AbortSignal, Closure<dyn FnMut()>)>,
}

/// What both kinds of upload read from their options: the callbacks and the signal.
struct Common {
    shared: Rc<Shared>,
    control: Control,
    abort: Option<(AbortSignal, Closure<dyn FnMut()>)>,
}

impl Common {
    fn read(r: &Reader, size: u64) -> Result<Common, JsValue> {
        let signal = match r.value("signal") {
            None => None,
            Some(v) => Some(v.dyn_into::<AbortSignal>().map_err(|_| invalid("signal", "must be an AbortSignal"))?),
        };
        let shared = Rc::new(Shared {
            state: Cell::new(UploadState::Preparing),
            progress: Cell::new(Progress {
                phase: Phase::Uploading,
                loaded: 0,
                total: size,
                speed: 0.0,
                eta: None,
                offline: false,
            }),
            on_progress: r.function("onProgress")?,
            on_state: r.function("onStateChange")?,
            on_warning: r.function("onWarning")?,
        });
        let control = Control::new();
        let abort = match signal {
            Some(signal) => {
                if signal.aborted() {
                    control.cancel();
                }
                let c = control.clone();
                let listener = Closure::<dyn FnMut()>::new(move || c.cancel());
                let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
                Some((signal, listener))
            }
            None => None,
        };
        Ok(Common { shared, control, abort })
    }
}

impl UploadTask {
    #[cfg(feature = "cos-uploader")]
    /// Starts a direct-COS upload of `file` to object `key`.
    pub(super) fn start_cos(
        uploader: Rc<DirectCosUploader>,
        file: JsValue,
        key: JsValue,
        options: JsValue,
    ) -> Result<UploadTask, JsValue> {
        // A File's or Blob's own type is the object's Content-Type unless the options say one
        // (for multipart uploads too, where the bytes carry no type of their own).
        let file_type =
            Reflect::get(&file, &JsValue::from_str("type")).ok().and_then(|t| t.as_string()).filter(|t| !t.is_empty());
        let source = super::platform::file_source(file).map_err(|e| to_js(&e))?;
        let key = key.as_string().ok_or_else(|| invalid("key", "must be a string"))?;
        let key = crate::cos::api::validate_key(&key).map_err(|e| to_js(&e))?;
        let r = Reader::new(&options, "upload", COS_UPLOAD_OPTIONS, true)?;
        let meta = match r.value("meta") {
            None => Vec::new(),
            Some(m) if m.is_object() && !js_sys::Array::is_array(&m) => js_sys::Object::entries(m.unchecked_ref())
                .iter()
                .map(|pair| {
                    let pair = js_sys::Array::from(&pair);
                    match (pair.get(0).as_string(), pair.get(1).as_string()) {
                        (Some(k), Some(v)) => Ok((k, v)),
                        _ => Err(invalid("meta", "must map names to string values")),
                    }
                })
                .collect::<Result<Vec<_>, JsValue>>()?,
            Some(_) => return Err(invalid("meta", "must be an object of name: value strings")),
        };
        let object = CosObject { key, content_type: r.string("contentType")?.or(file_type), meta };
        object.validate().map_err(|e| to_js(&e))?;
        let Common { shared, control, abort } = Common::read(&r, source.size())?;
        let future = run_cos(uploader, source, object, control.clone(), shared.clone() as Rc<dyn Observer>);
        let done = settle_later(shared.clone(), future, cos_result_to_js);
        Ok(UploadTask { shared, control, done, _abort: abort })
    }

    #[cfg(feature = "smh-client")]
    pub(super) fn start(
        uploader: Rc<SmhUploader>,
        file: JsValue,
        path: JsValue,
        options: JsValue,
    ) -> Result<UploadTask, JsValue> {
        let source = super::platform::file_source(file).map_err(|e| to_js(&e))?;
        let path = path.as_string().ok_or_else(|| invalid("path", "must be a string"))?;
        let path = LibraryPath::parse(&path).map_err(|e| to_js(&e))?;
        let r = Reader::new(&options, "upload", UPLOAD_OPTIONS, true)?;
        let conflict = match r.string("conflict")?.as_deref() {
            None | Some("rename") => Conflict::Rename,
            Some("overwrite") => Conflict::Overwrite,
            Some("ask") => Conflict::Ask,
            Some(_) => return Err(invalid("conflict", "must be 'rename', 'overwrite' or 'ask'")),
        };
        let quick_upload = r.boolean("quickUpload")?.unwrap_or(true);
        let create_parents = r.boolean("createParents")?.unwrap_or(uploader.config().create_parents);
        let Common { shared, control, abort } = Common::read(&r, source.size())?;
        let opts = UploadOptions { path, conflict, quick_upload, create_parents };
        let future = run(uploader, source, opts, control.clone(), shared.clone() as Rc<dyn Observer>);
        let done = settle_later(shared.clone(), future, result_to_js);
        Ok(UploadTask { shared, control, done, _abort: abort })
    }
}

#[wasm_bindgen]
impl UploadTask {
    /// Stops sending: in-flight requests are aborted; finished parts are kept.
    pub fn pause(&self) {
        if !self.shared.state.get().is_final() {
            self.control.pause();
        }
    }

    /// Continues a paused upload.
    pub fn resume(&self) {
        self.control.resume();
    }

    /// Aborts in-flight requests and cancels the upload on the server; the state becomes
    /// `'cancelled'` and `done()` rejects with code `Aborted` at once — also while the server is
    /// opening the upload (what it opens is cancelled when its reply arrives). While the server
    /// commits the file (confirm, CompleteMultipartUpload, a quick-upload hit) its answer decides
    /// whether the file exists, so a cancel waits for it, at most the call's time limit
    /// (`requestTimeout`, for a commit plus a second per 32 MiB): a file committed is reported
    /// done; with no answer by then the task is cancelled and its record kept, and `upload()` of
    /// the same file learns whether the file was committed.
    pub fn cancel(&self) {
        if !self.shared.state.get().is_final() {
            self.control.cancel();
        }
    }

    /// Resolves with the uploaded file, or rejects with an `SmhUploadError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<UploadResult>")]
    pub fn done(&self) -> Promise {
        self.done.clone()
    }

    /// `'preparing' | 'hashing' | 'uploading' | 'paused' | 'confirming' | 'done' | 'failed' | 'cancelled'`.
    #[wasm_bindgen(getter, unchecked_return_type = "UploadState")]
    pub fn state(&self) -> String {
        self.shared.state.get().as_str().to_string()
    }

    /// The latest progress report.
    #[wasm_bindgen(getter, unchecked_return_type = "UploadProgress")]
    pub fn progress(&self) -> JsValue {
        progress_to_js(&self.shared.progress.get())
    }
}
