//! [`hold`]: one upload of a record at a time across the origin's tabs and workers, with the
//! Web Locks API (`navigator.locks.request(name, {ifAvailable: true}, callback)`, in
//! adapters.js): the lock is held while the promise the callback returned is pending, and [`Hold`]
//! settles it when dropped.

use js_sys::Function;
use std::future::Future;
use wasm_bindgen::JsValue;

#[cfg(not(feature = "miniprogram"))]
use {futures::FutureExt, js_sys::Promise, wasm_bindgen::prelude::wasm_bindgen, wasm_bindgen::JsCast};

// WeChat's logic layer has no Web Locks and the mini-program build no snippets: there every
// lock is granted (one JavaScript context: the engine's page-wide claims cover it).
#[cfg(not(feature = "miniprogram"))]
#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    #[wasm_bindgen(js_name = smhHoldLock)]
    fn hold_lock(name: &str) -> Promise;
    #[wasm_bindgen(js_name = smhLockHeld)]
    fn lock_held(name: &str) -> Promise;
}

/// Releases its Web Lock when dropped (nothing to release where the API is missing).
pub struct Hold(Option<Function>);

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

/// The lock `name` for as long as the returned [`Hold`] lives; `None` when another tab, worker
/// or client of the origin holds it.
#[cfg(not(feature = "miniprogram"))]
pub fn hold(name: &str) -> impl Future<Output = Option<Hold>> {
    // adapters.js resolves with the release function, or null, and never rejects (were it to,
    // the lock would count as granted, its release a call that throws and is ignored).
    super::settled(&hold_lock(name)).map(|release| {
        let release = release.unwrap_or(JsValue::UNDEFINED);
        (!release.is_null()).then(|| Hold(Some(release.unchecked_into())))
    })
}

/// Whether a tab, worker or client of the origin (this one too) holds the lock `name` now, asked
/// without taking it.
#[cfg(not(feature = "miniprogram"))]
pub fn held(name: &str) -> impl Future<Output = bool> {
    super::settled(&lock_held(name)).map(|held| held.is_ok_and(|held| held.is_truthy()))
}

/// [`hold`] in mini-programs: granted.
#[cfg(feature = "miniprogram")]
pub fn hold(_name: &str) -> impl Future<Output = Option<Hold>> {
    std::future::ready(Some(Hold(None)))
}

/// [`held`] in mini-programs: never.
#[cfg(feature = "miniprogram")]
pub fn held(_name: &str) -> impl Future<Output = bool> {
    std::future::ready(false)
}
