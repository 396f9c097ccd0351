//! [`IdbCheckpoints`]: the `'local'` checkpoint store over IndexedDB (asynchronous, no 5 MB
//! limit, shared by a site's tabs), falling back to `localStorage` where IndexedDB cannot be
//! opened (some private modes, sandboxed frames). Reached through `js_sys::Reflect`, so it
//! needs no extra `web-sys` bindings.
//!
//! Opening is bounded by [`OPEN_TIMEOUT`]: an `open()` that neither succeeds nor fails (another
//! tab blocking it, a browser that never answers in some private modes) falls back to
//! `localStorage` then. Each later call is bounded by the engine (src/engine/checkpoint.rs).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::storage::{LocalStorageCheckpoints, KEY_PREFIX};
use super::JsTimer;
use crate::platform::{CheckpointStore, LocalBoxFuture, Timer};
use crate::text::concat;

const DB_NAME: &str = "smh-upload";
const STORE: &str = "checkpoints";
/// Longest wait for IndexedDB to open before records go to `localStorage` instead.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where records go once the first call has decided.
enum Backend {
    Unopened,
    Idb(JsValue),
    Local(LocalStorageCheckpoints),
    Nothing,
}

/// IndexedDB, opened on first use; `localStorage` or nothing if it cannot be opened.
#[derive(Clone)]
pub struct IdbCheckpoints {
    backend: Rc<RefCell<Backend>>,
}

impl Default for IdbCheckpoints {
    fn default() -> Self {
        IdbCheckpoints { backend: Rc::new(RefCell::new(Backend::Unopened)) }
    }
}

fn get(target: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

fn call(target: &JsValue, name: &str, args: &[&JsValue]) -> Option<JsValue> {
    let f = get(target, name)?.dyn_into::<Function>().ok()?;
    let array = js_sys::Array::new();
    for a in args {
        array.push(a);
    }
    f.apply(target, &array).ok()
}

/// Resolves with `request.result` on `success`, rejects on `error` (an `IDBRequest`).
async fn settle(request: JsValue) -> Option<JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let req = request.clone();
        let on_success = Closure::once_into_js(move || {
            let result = get(&req, "result").unwrap_or(JsValue::UNDEFINED);
            let _ = resolve.call1(&JsValue::NULL, &result);
        });
        let on_error = Closure::once_into_js(move || {
            let _ = reject.call0(&JsValue::NULL);
        });
        let _ = Reflect::set(&request, &"onsuccess".into(), &on_success);
        let _ = Reflect::set(&request, &"onerror".into(), &on_error);
    });
    JsFuture::from(promise).await.ok()
}

async fn open() -> Option<JsValue> {
    let factory = get(&js_sys::global(), "indexedDB")?;
    let request = call(&factory, "open", &[&JsValue::from_str(DB_NAME), &JsValue::from_f64(1.0)])?;
    let req = request.clone();
    let on_upgrade = Closure::once_into_js(move || {
        if let Some(db) = get(&req, "result") {
            let _ = call(&db, "createObjectStore", &[&JsValue::from_str(STORE)]);
        }
    });
    let _ = Reflect::set(&request, &"onupgradeneeded".into(), &on_upgrade);
    settle(request).await
}

impl IdbCheckpoints {
    /// The backend, opening IndexedDB on the first call.
    async fn backend(&self) -> Rc<RefCell<Backend>> {
        if matches!(*self.backend.borrow(), Backend::Unopened) {
            let opened = match select(Box::pin(open()), JsTimer.sleep(OPEN_TIMEOUT)).await {
                Either::Left((db, _)) => db,
                Either::Right(((), _)) => None,
            };
            let chosen = match opened {
                Some(db) => Backend::Idb(db),
                None => LocalStorageCheckpoints::new().map_or(Backend::Nothing, Backend::Local),
            };
            // Another call may have opened it meanwhile: keep the first.
            let mut slot = self.backend.borrow_mut();
            if matches!(*slot, Backend::Unopened) {
                *slot = chosen;
            }
        }
        self.backend.clone()
    }

    /// `db.transaction(STORE, mode).objectStore(STORE)`.
    fn object_store(db: &JsValue, mode: &str) -> Option<JsValue> {
        let tx = call(db, "transaction", &[&JsValue::from_str(STORE), &JsValue::from_str(mode)])?;
        call(&tx, "objectStore", &[&JsValue::from_str(STORE)])
    }

    async fn request(&self, mode: &str, op: &str, args: &[JsValue]) -> Option<JsValue> {
        let backend = self.backend().await;
        let db = match &*backend.borrow() {
            Backend::Idb(db) => db.clone(),
            _ => return None,
        };
        let store = Self::object_store(&db, mode)?;
        let refs: Vec<&JsValue> = args.iter().collect();
        settle(call(&store, op, &refs)?).await
    }

    /// The `localStorage` fallback, when IndexedDB could not be opened.
    async fn fallback(&self) -> Option<LocalStorageCheckpoints> {
        let backend = self.backend().await;
        let b = backend.borrow();
        match &*b {
            Backend::Local(local) => Some(local.clone()),
            _ => None,
        }
    }
}

impl CheckpointStore for IdbCheckpoints {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        let key = concat(&[KEY_PREFIX, key]);
        Box::pin(async move {
            if let Some(local) = self.fallback().await {
                return local.get(&key[KEY_PREFIX.len()..]).await;
            }
            self.request("readonly", "get", &[JsValue::from_str(&key)]).await.and_then(|v| v.as_string())
        })
    }

    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        let key = concat(&[KEY_PREFIX, key]);
        Box::pin(async move {
            if let Some(local) = self.fallback().await {
                return local.set(&key[KEY_PREFIX.len()..], value).await;
            }
            self.request("readwrite", "put", &[JsValue::from_str(&value), JsValue::from_str(&key)]).await;
        })
    }

    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        let key = concat(&[KEY_PREFIX, key]);
        Box::pin(async move {
            if let Some(local) = self.fallback().await {
                return local.remove(&key[KEY_PREFIX.len()..]).await;
            }
            self.request("readwrite", "delete", &[JsValue::from_str(&key)]).await;
        })
    }
}
