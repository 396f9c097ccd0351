//! Calling the page's own async functions (`getAccessToken`, `getCredentials`): what they return
//! is awaited as `Promise.resolve` would take it — a promise of any realm (another frame's, a
//! polyfill's), any thenable, or a plain value — and for no longer than a bound, so that a
//! function whose promise never settles cannot hold an upload for ever.

use std::time::Duration;

use futures::future::{select, Either};
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::platform::browser::{js_message, JsTimer};
use crate::platform::Timer;
use crate::text::{concat, fill};

/// `name()`, awaited with `Promise.resolve` semantics for at most `limit`; the error is the
/// message of a typed error (it names `name` and what went wrong).
pub(super) async fn call_user(f: &Function, name: &str, limit: Duration) -> Result<JsValue, String> {
    let value = f.call0(&JsValue::NULL).map_err(|e| concat(&[name, " threw: ", &js_message(&e)]))?;
    let settled = JsFuture::from(Promise::resolve(&value));
    match select(settled, JsTimer.sleep(limit)).await {
        Either::Left((Ok(value), _)) => Ok(value),
        Either::Left((Err(e), _)) => Err(concat(&[name, " rejected: ", &js_message(&e)])),
        Either::Right(_) => Err(fill(
            "{} did not settle within {} ms (requestTimeout)",
            &[name.into(), (limit.as_millis() as u64).into()],
        )),
    }
}
