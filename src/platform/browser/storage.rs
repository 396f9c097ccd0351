//! The checkpoint store of a JS object `{get, set, remove}` whose methods may return promises:
//! the page's own, or the JS layer's `'local'` one (src/bindings/js/local.js: IndexedDB, else
//! localStorage).

use futures::FutureExt;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::settled;
use crate::platform::{CheckpointStore, LocalBoxFuture};

#[wasm_bindgen]
extern "C" {
    /// A `{get, set, remove}` store as the JS layer hands it over (`smh$store` in
    /// src/bindings/js/api.js): the store's methods as they were when the client was made, each
    /// called at once and returning a promise of what it gave, as `Promise.resolve` takes it (a
    /// promise of any realm, any thenable, or a plain value), rejected if it threw; and whether
    /// the store is page-wide.
    #[derive(Debug, Clone)]
    type Store;
    #[wasm_bindgen(method)]
    fn get(this: &Store, key: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn set(this: &Store, key: &str, value: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn remove(this: &Store, key: &str) -> Promise;
    /// The JS layer's `'local'` store says so: other clients of the page share its storage
    /// ([`CheckpointStore::page_wide`]); a page's own store does not.
    #[wasm_bindgen(method, getter)]
    fn wide(this: &Store) -> bool;
}

/// A `{get(key), set(key, value), remove(key)}` store; each call is bounded by the engine
/// (src/engine/checkpoint.rs).
#[derive(Debug, Clone)]
pub struct JsCheckpoints {
    store: Store,
    page_wide: bool,
}

impl JsCheckpoints {
    /// The JS layer's store; `None` for `null` or `undefined` (no store given).
    pub fn new(value: &JsValue) -> Option<JsCheckpoints> {
        if value.is_null() || value.is_undefined() {
            return None;
        }
        let store: Store = value.clone().unchecked_into();
        Some(JsCheckpoints { page_wide: store.wide(), store })
    }
}

// A failed call reads as no value, and a failed write is forgotten: how long a call may take is
// the engine's bound.
impl CheckpointStore for JsCheckpoints {
    fn page_wide(&self) -> bool {
        self.page_wide
    }
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        Box::pin(settled(&self.store.get(key)).map(|value| value.ok()?.as_string()))
    }
    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        Box::pin(settled(&self.store.set(key, &value)).map(drop))
    }
    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        Box::pin(settled(&self.store.remove(key)).map(drop))
    }
}
