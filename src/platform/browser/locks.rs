//! [`hold`]: one upload of a record at a time across the origin's tabs and workers, with the
//! Web Locks API (`navigator.locks.request(name, {ifAvailable: true}, callback)`): the lock is
//! held while the promise the callback returned is pending, and [`Hold`] settles it when dropped.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Releases its Web Lock when dropped (nothing to release where the API is missing).
pub struct Hold(Option<Function>);

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

thread_local! {
    /// Takes the rejection of a lock request (the page went away while it held the lock), so
    /// that none is reported as unhandled. One closure for the page, not one per request.
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

/// The lock `name` for as long as the returned [`Hold`] lives; `None` when another tab, worker
/// or client of the origin holds it. Granted at once where there is no Web Locks API (WeChat's
/// logic layer is one JavaScript context: the engine's page-wide claims cover it).
pub async fn hold(name: &str) -> Option<Hold> {
    let get =
        |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok().filter(|v| v.is_object());
    let locks = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "locks"));
    let request = locks.as_ref().and_then(|l| Reflect::get(l, &JsValue::from_str("request")).ok());
    let (Some(locks), Some(request)) = (locks, request.and_then(|r| r.dyn_into::<Function>().ok())) else {
        return Some(Hold(None));
    };
    let release: Rc<RefCell<Option<Function>>> = Rc::default();
    let slot = release.clone();
    let mut tell = None;
    let granted = Promise::new(&mut |resolve, _| tell = Some(resolve));
    let tell = tell?;
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got = !lock.is_null();
        let held = if got {
            Promise::new(&mut |resolve, _| *slot.borrow_mut() = Some(resolve))
        } else {
            Promise::resolve(&JsValue::UNDEFINED)
        };
        let _ = tell.call1(&JsValue::UNDEFINED, &JsValue::from_bool(got));
        held.into()
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &JsValue::from_str("ifAvailable"), &JsValue::TRUE);
    match request.call3(&locks, &JsValue::from_str(name), &options, &callback) {
        Ok(pending) => {
            if let Ok(pending) = pending.dyn_into::<Promise>() {
                let _ = IGNORE.with(|ignore| pending.catch(ignore));
            }
        }
        // A lock manager that refuses to work (an opaque origin): the claims alone decide.
        Err(_) => return Some(Hold(None)),
    }
    let got = JsFuture::from(granted).await.ok()?.as_bool()?;
    let release = release.borrow_mut().take();
    got.then(|| Hold(release))
}
