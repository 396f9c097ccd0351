//! Checkpoint stores: `localStorage` (the `'local'` option) and a user object `{get, set, remove}`
//! whose methods may return promises.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Storage;

use crate::platform::{CheckpointStore, LocalBoxFuture};
use crate::text::concat;

/// Prefix of every key this SDK writes, so it never touches the page's own entries.
pub const KEY_PREFIX: &str = "smh-upload:";

/// `localStorage`, when the global exists and works (it throws in some private modes).
#[derive(Debug, Clone)]
pub struct LocalStorageCheckpoints {
    storage: Storage,
}

impl LocalStorageCheckpoints {
    /// `None` where there is no usable `localStorage` (workers, mini-programs, private modes).
    pub fn new() -> Option<LocalStorageCheckpoints> {
        let global = js_sys::global();
        let value = Reflect::get(&global, &JsValue::from_str("localStorage")).ok()?;
        let storage = value.dyn_into::<Storage>().ok()?;
        // Probe a write: Safari's private mode has a localStorage that throws on setItem.
        let probe = concat(&[KEY_PREFIX, "probe"]);
        storage.set_item(&probe, "1").ok()?;
        storage.remove_item(&probe).ok()?;
        Some(LocalStorageCheckpoints { storage })
    }
}

impl CheckpointStore for LocalStorageCheckpoints {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        let value = self.storage.get_item(&concat(&[KEY_PREFIX, key])).ok().flatten();
        Box::pin(async move { value })
    }
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        let _ = self.storage.set_item(&concat(&[KEY_PREFIX, key]), &value);
        Box::pin(async {})
    }
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        let _ = self.storage.remove_item(&concat(&[KEY_PREFIX, key]));
        Box::pin(async {})
    }
}

/// A user-supplied `{get(key), set(key, value), remove(key)}` object; each call is bounded by the
/// engine (src/engine/checkpoint.rs).
#[derive(Debug, Clone)]
pub struct JsCheckpoints {
    get: Function,
    set: Function,
    remove: Function,
    this: JsValue,
}

impl JsCheckpoints {
    /// `None` unless `object` has the three functions.
    pub fn new(object: &JsValue) -> Option<JsCheckpoints> {
        let f = |name: &str| Reflect::get(object, &JsValue::from_str(name)).ok()?.dyn_into::<Function>().ok();
        Some(JsCheckpoints { get: f("get")?, set: f("set")?, remove: f("remove")?, this: object.clone() })
    }
}

/// What a method returned, awaited as `Promise.resolve` takes it (a promise of any realm, any
/// thenable, or a plain value). How long it may take is the engine's bound.
async fn settle(value: Result<JsValue, JsValue>) -> Option<JsValue> {
    JsFuture::from(Promise::resolve(&value.ok()?)).await.ok()
}

impl CheckpointStore for JsCheckpoints {
    fn page_wide(&self) -> bool {
        false
    }
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        let call = self.get.call1(&self.this, &JsValue::from_str(key));
        Box::pin(async move { settle(call).await.and_then(|v| v.as_string()) })
    }
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        let call = self.set.call2(&self.this, &JsValue::from_str(key), &JsValue::from_str(&value));
        Box::pin(async move {
            settle(call).await;
        })
    }
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        let call = self.remove.call1(&self.this, &JsValue::from_str(key));
        Box::pin(async move {
            settle(call).await;
        })
    }
}
