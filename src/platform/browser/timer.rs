//! [`JsTimer`]: `setTimeout` (cancelled on drop), `performance.now()` and `Date.now()`; and
//! [`next_task`], which lets the page's event loop run before costly browser calls.

use std::time::Duration;

use futures::FutureExt;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::settled;
use crate::platform::{LocalBoxFuture, Timer};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now, catch)]
    fn performance_now() -> Result<f64, JsValue>;
}

/// Timers over the JS globals (pages, workers, mini-programs).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsTimer;

/// Completes in a later task of the event loop (`setTimeout(0)`).
///
/// Starting a part costs the main thread a `Blob.slice`, a message to the upload Worker and an
/// XHR `send`, each a few ms (tens under DevTools' network tracking, which registers every
/// body). Done for every part of a wave in one task, they made tasks of 100–200 ms; awaited
/// before each, every part starts in a task of its own and the page stays responsive.
pub fn next_task() -> LocalBoxFuture<'static, ()> {
    JsTimer.sleep(Duration::ZERO)
}

impl Timer for JsTimer {
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'static, ()> {
        // setTimeout fires at once for delays beyond 2³¹−1 ms.
        let timeout = Timeout::start((duration.as_secs_f64() * 1000.0).min(2_147_483_647.0));
        Box::pin(settled(&timeout.promise()).map(move |_| drop(timeout)))
    }

    fn now_ms(&self) -> f64 {
        performance_now().unwrap_or_else(|_| js_sys::Date::now())
    }

    fn unix_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

// In browsers the timeout and its promise are made in adapters.js: a JS callback costs far less
// than a wasm closure.
#[cfg(not(feature = "miniprogram"))]
#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    #[wasm_bindgen(extends = Promise)]
    type Sleeping;
    #[wasm_bindgen(js_name = smhSleep)]
    fn sleep(ms: f64) -> Sleeping;
    #[wasm_bindgen(method, js_name = smhClear)]
    fn clear(this: &Sleeping);
}

/// A pending timeout; cleared when dropped (a no-op once it fired).
#[cfg(not(feature = "miniprogram"))]
struct Timeout(Sleeping);

#[cfg(not(feature = "miniprogram"))]
impl Timeout {
    fn start(ms: f64) -> Timeout {
        Timeout(sleep(ms))
    }
    /// Resolves when the timeout fires.
    fn promise(&self) -> Promise {
        self.0.clone()
    }
}

#[cfg(not(feature = "miniprogram"))]
impl Drop for Timeout {
    fn drop(&mut self) {
        self.0.clear();
    }
}

// The mini-program build has no snippets: its timeout's handler is a wasm closure.
#[cfg(feature = "miniprogram")]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = "setTimeout", catch)]
    fn set_timeout(handler: &js_sys::Function, timeout: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = "clearTimeout")]
    fn clear_timeout(id: &JsValue);
}

/// A pending timeout (none if `setTimeout` refused it: then its promise is resolved); cleared
/// when dropped.
#[cfg(feature = "miniprogram")]
struct Timeout {
    id: Option<JsValue>,
    promise: Promise,
    _handler: Closure<dyn FnMut()>,
}

#[cfg(feature = "miniprogram")]
impl Timeout {
    fn start(ms: f64) -> Timeout {
        let mut resolve = None;
        let promise = Promise::new(&mut |res, _rej| resolve = Some(res));
        let handler = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = resolve.take() {
                let _ = f.call0(&JsValue::NULL);
            }
        });
        let id = set_timeout(handler.as_ref().unchecked_ref(), ms).ok();
        let promise = if id.is_some() { promise } else { Promise::resolve(&JsValue::UNDEFINED) };
        Timeout { id, promise, _handler: handler }
    }
    fn promise(&self) -> Promise {
        self.promise.clone()
    }
}

#[cfg(feature = "miniprogram")]
impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            clear_timeout(id);
        }
    }
}
