//! The wasm side of `UploadTask`: `pause`, `resume`, `cancel`, and the observer that hands engine
//! events to the JS layer (src/bindings/js/api.js), which builds the objects the page sees, calls
//! its callbacks and keeps the latest state and progress for the task's getters.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::error::encoded;
use crate::engine::{Control, Observer, Phase, Progress, UploadState};
use crate::json::Writer;
use crate::platform::LocalBoxFuture;

#[wasm_bindgen]
extern "C" {
    /// The JS layer's receiver of one task's events (`events` in src/bindings/js/api.js).
    pub type Events;
    /// The state changed.
    #[wasm_bindgen(method, js_name = s)]
    fn state(this: &Events, state: &str);
    /// A progress report: phase (0 hashing, 1 uploading, 2 confirming), loaded, total, speed,
    /// eta (NaN while unknown), offline.
    #[wasm_bindgen(method, js_name = p)]
    fn progress(this: &Events, phase: u32, loaded: f64, total: f64, speed: f64, eta: f64, offline: bool);
    /// A warning: code and message.
    #[wasm_bindgen(method, js_name = w)]
    fn warning(this: &Events, code: &str, message: &str);
    /// The end: `ok` with the result as JSON text, else an encoded error ([`super::error::encode`]).
    #[wasm_bindgen(method, js_name = d)]
    fn settle(this: &Events, ok: bool, value: &str);
}

/// What the handle and the running upload share.
struct Shared {
    state: Cell<UploadState>,
    /// Whether `events` heard the end: once, from the flow's outcome or at once on cancel.
    settled: Cell<bool>,
    events: Events,
}

impl Shared {
    fn new(events: Events) -> Rc<Shared> {
        Rc::new(Shared { state: Cell::new(UploadState::Preparing), settled: Cell::new(false), events })
    }

    /// Hands the end to the JS layer, unless it has it already (the task was cancelled).
    fn settle(&self, outcome: &crate::Result<String>) {
        if self.settled.replace(true) {
            return;
        }
        match outcome {
            Ok(json) => self.events.settle(true, json),
            Err(error) => self.events.settle(false, &encoded(error)),
        }
    }
}

fn phase_index(phase: Phase) -> u32 {
    match phase {
        Phase::Hashing => 0,
        Phase::Uploading => 1,
        Phase::Confirming => 2,
    }
}

impl Observer for Shared {
    fn on_state(&self, state: UploadState) {
        self.state.set(state);
        self.events.state(state.as_str());
        if state == UploadState::Cancelled {
            // Settled now: the engine may still be cleaning up (an upload the server was
            // opening when cancel() came is cancelled once its reply arrives).
            self.settle(&Err(crate::Error::Aborted.into()));
        }
    }
    fn on_progress(&self, p: &Progress) {
        let eta = p.eta.unwrap_or(f64::NAN);
        self.events.progress(phase_index(p.phase), p.loaded as f64, p.total as f64, p.speed, eta, p.offline);
    }
    fn on_warning(&self, code: &'static str, message: &str) {
        self.events.warning(code, message);
    }
}

/// An upload's flow, its result already JSON text for the JS layer: one boxed future type, so
/// [`UploadTask::spawn`] exists once for both kinds of upload.
pub(super) type Flow = LocalBoxFuture<'static, crate::Result<String>>;

/// One upload (`UploadTask` in the JS layer wraps it).
#[wasm_bindgen(js_name = __Task, skip_typescript)]
pub struct UploadTask {
    shared: Rc<Shared>,
    control: Control,
}

impl UploadTask {
    /// Starts `flow(control, observer)` and returns its handle; `events` hears of it until it
    /// settles.
    pub(super) fn spawn(events: Events, flow: impl FnOnce(Control, Rc<dyn Observer>) -> Flow) -> UploadTask {
        let shared = Shared::new(events);
        let control = Control::new();
        let future = flow(control.clone(), shared.clone() as Rc<dyn Observer>);
        settle_later(shared.clone(), future);
        UploadTask { shared, control }
    }
}

/// `[{<target_name>, name, size, loaded, updatedAt}]` as JSON text (`pendingUploads()`).
fn pending_json(list: Vec<crate::engine::Pending>, target_name: &str) -> String {
    let mut w = Writer::new();
    w.open('[');
    for p in list {
        w.open('{')
            .str_member(target_name, &p.path)
            .str_member("name", &p.name)
            .u64_member("size", p.size)
            .u64_member("loaded", p.loaded)
            .u64_member("updatedAt", p.updated_at as u64)
            .close('}');
    }
    w.close(']').finish()
}

/// Runs `future` and hands its outcome to `shared`'s events once.
fn settle_later(shared: Rc<Shared>, future: Flow) {
    super::platform::spawn(Box::pin(async move { shared.settle(&future.await) }));
}

/// Runs `future` and hands the text it gives to `reply` (`pendingUploads()`,
/// `discardPending()`: the JS layer makes the promise), as a task hands its end to its events:
/// one spawned future for both.
pub(super) fn reply_later(reply: Events, future: Flow) {
    settle_later(Shared::new(reply), future);
}

/// What `pendingUploads()` and `discardPending()` ask of an uploader: SmhClient's and
/// CosUploader's differ only in how they cancel an upload they drop and in the name of where an
/// upload goes.
pub(super) trait PendingUploads: 'static {
    /// The member of a listed upload that says where it goes: `path` (SMH) or `key` (COS).
    const TARGET: &'static str;
    fn list(&self) -> impl Future<Output = Vec<crate::engine::Pending>> + '_;
    fn discard<'a>(&'a self, target: Option<&'a str>) -> impl Future<Output = usize> + 'a;
}

/// `pendingUploads()` (`discard` false): gives `reply` the list as JSON text (`d(true, text)`, as
/// a task's end); or `discardPending(target?)` (`discard` true): gives `reply` how many uploads
/// (as text) were forgotten and cancelled. One export per class for both: one shim, one future.
pub(super) fn reply_pending<U: PendingUploads>(uploader: Rc<U>, discard: bool, target: Option<String>, reply: Events) {
    reply_later(
        reply,
        Box::pin(async move {
            Ok(if discard {
                crate::json::u64_to_string(uploader.discard(target.as_deref()).await as u64)
            } else {
                pending_json(uploader.list().await, U::TARGET)
            })
        }),
    );
}

#[wasm_bindgen(js_class = __Task)]
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

    /// Aborts in-flight requests and cancels the upload on the server (the JS layer documents
    /// when `done()` settles: src/bindings/types.rs).
    pub fn cancel(&self) {
        if !self.shared.state.get().is_final() {
            self.control.cancel();
        }
    }
}
