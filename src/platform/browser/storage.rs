//! The checkpoint store of a JS object `{get, set, remove}` whose methods may return promises:
//! the page's own, or the JS layer's `'local'` one (src/bindings/js/local.js: IndexedDB, else
//! localStorage).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::platform::{CheckpointStore, LocalBoxFuture};

/// A `{get(key), set(key, value), remove(key)}` object; each call is bounded by the engine
/// (src/engine/checkpoint.rs).
#[derive(Debug, Clone)]
pub struct JsCheckpoints {
    get: Function,
    set: Function,
    remove: Function,
    this: JsValue,
    /// The JS layer's `'local'` store says so (`__smhPageWide: true`): other clients of the page
    /// share its storage ([`CheckpointStore::page_wide`]); a page's own store does not.
    page_wide: bool,
}

impl JsCheckpoints {
    /// `None` unless `object` has the three functions.
    pub fn new(object: &JsValue) -> Option<JsCheckpoints> {
        let f = |name: &str| Reflect::get(object, &JsValue::from_str(name)).ok()?.dyn_into::<Function>().ok();
        let page_wide = Reflect::get(object, &JsValue::from_str("__smhPageWide")).ok()?.is_truthy();
        Some(JsCheckpoints { get: f("get")?, set: f("set")?, remove: f("remove")?, this: object.clone(), page_wide })
    }
}

/// What a method returned, awaited as `Promise.resolve` takes it (a promise of any realm, any
/// thenable, or a plain value). How long it may take is the engine's bound.
async fn settle(value: Result<JsValue, JsValue>) -> Option<JsValue> {
    JsFuture::from(Promise::resolve(&value.ok()?)).await.ok()
}

impl CheckpointStore for JsCheckpoints {
    fn page_wide(&self) -> bool {
        self.page_wide
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
