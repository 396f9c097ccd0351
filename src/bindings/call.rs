//! Calling the page's own async functions (`getAccessToken`, `getCredentials`): what they return
//! is awaited as `Promise.resolve` would take it — a promise of any realm (another frame's, a
//! polyfill's), any thenable, or a plain value — and for no longer than a bound, so that a
//! function whose promise never settles cannot hold an upload for ever.

use std::time::Duration;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::engine::timeout::with_timeout;
use crate::error::Error;
use crate::platform::browser::{js_message, JsTimer};

/// Why a call gave no value.
pub(super) enum Failed {
    /// It threw synchronously (the message).
    Threw(String),
    /// Its promise rejected (the message).
    Rejected(String),
    /// It had not settled after the bound (ms).
    TimedOut(u64),
}

impl Failed {
    /// The message of a typed error about `name` (`getAccessToken`, …).
    pub(super) fn describe(&self, name: &str) -> String {
        match self {
            Failed::Threw(m) => format!("{name} threw: {m}"),
            Failed::Rejected(m) => format!("{name} rejected: {m}"),
            Failed::TimedOut(ms) => format!("{name} did not settle within {ms} ms (requestTimeout)"),
        }
    }
}

/// `f()`, awaited with `Promise.resolve` semantics for at most `limit`.
pub(super) async fn call_user(f: &Function, limit: Duration) -> Result<JsValue, Failed> {
    let value = f.call0(&JsValue::NULL).map_err(|e| Failed::Threw(js_message(&e)))?;
    let settled = async {
        JsFuture::from(Promise::resolve(&value)).await.map_err(|e| Error::Network { message: js_message(&e) })
    };
    match with_timeout(&JsTimer, limit, "", settled).await {
        Ok(value) => Ok(value),
        Err(Error::Timeout { .. }) => Err(Failed::TimedOut(limit.as_millis() as u64)),
        Err(e) => Err(Failed::Rejected(match e {
            Error::Network { message } => message,
            other => other.to_string(),
        })),
    }
}
