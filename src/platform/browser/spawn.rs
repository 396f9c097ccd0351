//! [`spawn`]: runs the bindings' futures (an upload's flow, a `pendingUploads()` reply) on the
//! page's microtask queue. The smallest executor that does it: a task is polled by a raw export
//! ([`smh_poll_task`]) that adapters.js queues (`smhSchedule`) when the task is woken, once until
//! it runs; wasm-bindgen-futures' own queue looks up `queueMicrotask` on the global object and
//! keeps a wasm closure for it, which the page's wasm need not carry. The mini-program build
//! (no snippets) spawns with wasm-bindgen-futures.
//!
//! The export is reached through the glue's exports (`wasm_bindgen::exports()`), which the
//! package's JS layer guards (`smh$guard` in src/bindings/js/api.js): a trap in a poll stops the
//! instance as one in any other call into the wasm does.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::platform::LocalBoxFuture;

#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    /// Calls `exports.smh_poll_task(task)` in a microtask.
    #[wasm_bindgen(js_name = smhSchedule)]
    fn schedule(exports: &JsValue, task: usize);
    /// Calls `exports.smh_settle(slot, 1)` when `promise` fulfils, `(slot, 2)` when it rejects,
    /// unless its handle was taken by then.
    #[wasm_bindgen(js_name = smhAwait)]
    fn watch(exports: &JsValue, promise: &Promise, slot: usize) -> JsValue;
    /// The value the promise of `handle` settled with; after this call the promise's
    /// settlement calls nothing.
    #[wasm_bindgen(js_name = smhTake)]
    fn take(handle: &JsValue) -> JsValue;
}

/// A spawned future, until it completes.
struct Task {
    future: RefCell<Option<LocalBoxFuture<'static, ()>>>,
    /// Whether a poll is queued (waking it again until then queues nothing more).
    queued: Cell<bool>,
}

/// Runs `future` to its end, first polled in a microtask.
pub fn spawn(future: LocalBoxFuture<'static, ()>) {
    wake(Rc::new(Task { future: RefCell::new(Some(future)), queued: Cell::new(false) }));
}

/// Queues a poll of `task`, unless one is queued; the queued poll owns this reference.
fn wake(task: Rc<Task>) {
    if !task.queued.replace(true) {
        schedule(&wasm_bindgen::exports(), Rc::into_raw(task) as usize);
    }
}

/// Polls the task `task` ([`wake`] gave its reference to the queue).
///
/// # Safety
/// `task` must come from [`wake`], once.
#[no_mangle]
pub unsafe extern "C" fn smh_poll_task(task: usize) {
    let task = unsafe { Rc::from_raw(task as *const Task) };
    task.queued.set(false);
    let waker = unsafe { Waker::from_raw(clone(Rc::as_ptr(&task).cast())) };
    let mut slot = task.future.borrow_mut();
    if let Some(future) = slot.as_mut() {
        if future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
            *slot = None;
        }
    }
}

// A waker is a counted reference to its task.
const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake_owned, wake_by_ref, release);

unsafe fn clone(task: *const ()) -> RawWaker {
    unsafe { Rc::increment_strong_count(task.cast::<Task>()) };
    RawWaker::new(task, &VTABLE)
}

unsafe fn wake_owned(task: *const ()) {
    wake(unsafe { Rc::from_raw(task.cast::<Task>()) });
}

unsafe fn wake_by_ref(task: *const ()) {
    unsafe { Rc::increment_strong_count(task.cast::<Task>()) };
    unsafe { wake_owned(task) };
}

unsafe fn release(task: *const ()) {
    drop(unsafe { Rc::from_raw(task.cast::<Task>()) });
}

/// Where a promise's settlement lands: how it settled (0 not yet, 1 fulfilled, 2 rejected) and
/// who waits for it.
#[derive(Default)]
struct Slot {
    state: Cell<u32>,
    waker: Cell<Option<Waker>>,
}

/// A promise's settlement as a future, as `wasm_bindgen_futures::JsFuture` gives it (its value
/// or its rejection), without wasm closures: adapters.js hands the settlement to the raw export
/// [`smh_settle`], as it does a task's poll. Dropped before the promise settles (a cleared
/// sleep, an aborted request), it detaches from the promise, whose settlement then reaches no
/// wasm and leaves nothing behind.
pub struct Settled {
    handle: JsValue,
    slot: Box<Slot>,
}

/// `promise`'s settlement.
pub fn settled(promise: &Promise) -> Settled {
    let slot = Box::<Slot>::default();
    Settled { handle: watch(&wasm_bindgen::exports(), promise, &*slot as *const Slot as usize), slot }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.slot.state.get() {
            0 => {
                self.slot.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
            1 => Poll::Ready(Ok(take(&self.handle))),
            _ => Poll::Ready(Err(take(&self.handle))),
        }
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        // The slot goes with the future: the promise must no longer reach it.
        take(&self.handle);
    }
}

/// Records how the promise of `slot` settled and wakes its waiter.
///
/// # Safety
/// `slot` must be a [`Settled`]'s, alive: adapters.js calls this only until its handle is taken,
/// which [`Settled`]'s drop does.
#[no_mangle]
pub unsafe extern "C" fn smh_settle(slot: usize, state: u32) {
    let slot = unsafe { &*(slot as *const Slot) };
    slot.state.set(state);
    if let Some(waker) = slot.waker.take() {
        waker.wake();
    }
}
