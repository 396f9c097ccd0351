//! [`JsTimer`]: `setTimeout` (cancelled on drop), `performance.now()` and `Date.now()`; and
//! [`next_task`], which lets the page's event loop run before costly browser calls.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::platform::{LocalBoxFuture, Timer};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = "setTimeout", catch)]
    fn set_timeout(handler: &Function, timeout: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = "clearTimeout")]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now, catch)]
    fn performance_now() -> Result<f64, JsValue>;
}

/// Timers over the JS globals (pages, workers, mini-programs).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsTimer;

/// A pending timeout; clears it when dropped early.
#[must_use = "timeouts cancel on drop"]
struct Timeout {
    id: Option<JsValue>,
    _closure: Closure<dyn FnMut()>,
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            clear_timeout(&id);
        }
    }
}

/// Completes in a later task of the event loop (`setTimeout(0)`).
///
/// Starting a part costs the main thread a `Blob.slice`, a message to the upload Worker and an
/// XHR `send`, each a few ms (tens under DevTools' network tracking, which registers every
/// body). Done for every part of a wave in one task, they made tasks of 100–200 ms; awaited
/// before each, every part starts in a task of its own and the page stays responsive.
pub async fn next_task() {
    JsTimer.sleep(Duration::ZERO).await;
}

impl Timer for JsTimer {
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move {
            let resolve: Rc<RefCell<Option<Function>>> = Rc::default();
            let promise = Promise::new(&mut |res, _rej| *resolve.borrow_mut() = Some(res));
            let closure = {
                let resolve = resolve.clone();
                Closure::<dyn FnMut()>::new(move || {
                    if let Some(f) = resolve.borrow_mut().take() {
                        let _ = f.call0(&JsValue::NULL);
                    }
                })
            };
            // setTimeout fires at once for delays beyond 2³¹−1 ms.
            let ms = (duration.as_secs_f64() * 1000.0).min(2_147_483_647.0);
            let id = set_timeout(closure.as_ref().unchecked_ref(), ms).ok();
            let mut timeout = Timeout { id, _closure: closure };
            if timeout.id.is_none() {
                return;
            }
            let _ = JsFuture::from(promise).await;
            timeout.id = None;
        })
    }

    fn now_ms(&self) -> f64 {
        performance_now().unwrap_or_else(|_| js_sys::Date::now())
    }

    fn unix_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}
