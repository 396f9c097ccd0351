//! [`WxStorageCheckpoints`]: checkpoints in the mini-program's storage (`wx.setStorage` /
//! `getStorage` / `removeStorage`, the asynchronous forms, so the logic layer never blocks).
//! WeChat allows 1 MB per key and 10 MB in all; a write it refuses (full storage) loses only
//! that checkpoint, as the port allows: the upload goes on, it just cannot be resumed.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::with_callbacks;
use crate::platform::{CheckpointStore, LocalBoxFuture};
use crate::text::concat;

/// Prefix of every key this SDK writes (the browser store's), so the app's own keys are safe.
pub const KEY_PREFIX: &str = "smh-upload:";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = wx, js_name = getStorage, catch)]
    fn get_storage(options: &Object) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = wx, js_name = setStorage, catch)]
    fn set_storage(options: &Object) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = wx, js_name = removeStorage, catch)]
    fn remove_storage(options: &Object) -> Result<JsValue, JsValue>;
}

/// `wx` storage as a [`CheckpointStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct WxStorageCheckpoints;

/// Calls a storage API with `key` (and `data`); the `success` argument, or `None` on `fail`.
async fn call(api: fn(&Object) -> Result<JsValue, JsValue>, key: &str, data: Option<&str>) -> Option<JsValue> {
    let mut fields = vec![("key", JsValue::from_str(&concat(&[KEY_PREFIX, key])))];
    if let Some(data) = data {
        fields.push(("data", JsValue::from_str(data)));
    }
    let (options, reply) = with_callbacks(&fields);
    api(&options).ok()?;
    JsFuture::from(reply).await.ok()
}

impl CheckpointStore for WxStorageCheckpoints {
    fn get(&self, key: &str) -> LocalBoxFuture<'_, Option<String>> {
        let key = key.to_string();
        Box::pin(async move {
            // `fail` ("data not found") when the key is absent.
            let reply = call(get_storage, &key, None).await?;
            Reflect::get(&reply, &JsValue::from_str("data")).ok()?.as_string()
        })
    }

    fn set(&self, key: &str, value: String) -> LocalBoxFuture<'_, ()> {
        let key = key.to_string();
        Box::pin(async move {
            call(set_storage, &key, Some(&value)).await;
        })
    }

    fn remove(&self, key: &str) -> LocalBoxFuture<'_, ()> {
        let key = key.to_string();
        Box::pin(async move {
            call(remove_storage, &key, None).await;
        })
    }
}
