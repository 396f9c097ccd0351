//! `SmhClient`: parses the client options, picks the browser adapters, starts uploads.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::call::call_user;
use super::error::{invalid, to_js};
use super::options::Reader;
use super::platform;
use super::task::UploadTask;
use crate::engine::{ClientConfig, Pending, SmhUploader};
use crate::error::{Error, Result};
use crate::platform::browser::{JsCheckpoints, JsTimer};
use crate::platform::{CheckpointStore, LocalBoxFuture, NoCheckpoints};
use crate::smh::{SmhTarget, TokenProvider, Tokens};

#[cfg(feature = "smh-client")]
const CLIENT_OPTIONS: &[&str] = &[
    "baseUrl",
    "libraryId",
    "spaceId",
    "userId",
    "accessToken",
    "getAccessToken",
    "allowedDomains",
    "concurrency",
    "partSize",
    "multipartThreshold",
    "retries",
    "requestTimeout",
    "stallTimeout",
    "offlineTimeout",
    "checkpoints",
    "createParents",
    "quickUploadWait",
];

/// Longest timeout accepted: `setTimeout` fires at once beyond 2³¹−1 ms (about 24.8 days).
const MAX_TIMEOUT_MS: u64 = 2_147_483_647;

/// `getAccessToken()`: may return a string, or a promise or any thenable of one, settled within
/// the request timeout.
#[cfg(feature = "smh-client")]
struct JsTokenProvider(Function, Duration);

#[cfg(feature = "smh-client")]
impl TokenProvider for JsTokenProvider {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<String>> {
        let (f, limit) = (self.0.clone(), self.1);
        Box::pin(async move {
            let fail = |message: String| Error::AccessToken { message };
            let value = call_user(&f, "getAccessToken", limit).await.map_err(fail)?;
            value
                .as_string()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| fail("getAccessToken must resolve to a non-empty string".into()))
        })
    }
}

/// An SMH upload client (one per library/space and credentials).
#[cfg(feature = "smh-client")]
#[wasm_bindgen]
pub struct SmhClient {
    uploader: Rc<SmhUploader>,
}

#[cfg(feature = "smh-client")]
#[wasm_bindgen]
impl SmhClient {
    /// Creates a client. Throws `SmhUploadError` (`InvalidInput`) for bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "SmhClientOptions")] options: JsValue,
    ) -> std::result::Result<SmhClient, JsValue> {
        let r = Reader::new(&options, "SmhClient", CLIENT_OPTIONS, false)?;
        let target = SmhTarget {
            base_url: r.required_string("baseUrl")?,
            library_id: r.required_string("libraryId")?,
            space_id: r.string("spaceId")?.unwrap_or_else(|| "-".to_string()),
            user_id: r.string("userId")?,
        };
        let access_token = r.string("accessToken")?;
        let mut config = ClientConfig::new(target);
        read_common(&r, &mut config)?;
        let limit = config.retry.request_timeout;
        let tokens = match (r.function("getAccessToken")?, access_token) {
            (Some(f), initial) => Tokens::from_provider(Rc::new(JsTokenProvider(f, limit)), initial),
            (None, Some(token)) if !token.is_empty() => Tokens::fixed(token),
            _ => return Err(invalid("accessToken", "give `accessToken` or `getAccessToken`")),
        };
        if let Some(create) = r.boolean("createParents")? {
            config.create_parents = create;
        }
        if let Some(ms) = r.integer("quickUploadWait")? {
            if ms > MAX_TIMEOUT_MS {
                return Err(invalid("quickUploadWait", "must be between 0 ms and 2147483647 ms"));
            }
            config.quick_upload_wait = Duration::from_millis(ms);
        }
        let checkpoints = read_checkpoints(&r)?;
        let uploader =
            SmhUploader::new(config, platform::http(), Rc::new(JsTimer), tokens, checkpoints).map_err(|e| to_js(&e))?;
        Ok(SmhClient { uploader: Rc::new(uploader) })
    }

    /// Starts uploading `file` (a `Blob` or `File`) to `path` in the library. Throws
    /// `SmhUploadError` (`InvalidInput`) for a bad file, path or option; everything later is
    /// reported through the task.
    pub fn upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Blob")] file: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "UploadOptions")] options: JsValue,
    ) -> std::result::Result<UploadTask, JsValue> {
        UploadTask::start(self.uploader.clone(), file, path, options)
    }

    /// Unfinished uploads that `upload()` of the same file to the same path would continue
    /// (after a reload, say): `[{path, size, loaded, name, updatedAt}]`, newest first.
    #[wasm_bindgen(js_name = pendingUploads, unchecked_return_type = "Promise<PendingUpload[]>")]
    pub fn pending_uploads(&self) -> Promise {
        let uploader = self.uploader.clone();
        pending_promise(Box::pin(async move { uploader.pending_uploads().await }), "path")
    }

    /// Forgets the unfinished uploads to `path` (all of them without it) and cancels them on
    /// the server; resolves with how many.
    #[wasm_bindgen(js_name = discardPending, unchecked_return_type = "Promise<number>")]
    pub fn discard_pending(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "string")] path: JsValue,
    ) -> std::result::Result<Promise, JsValue> {
        let path = match path.as_string() {
            Some(p) => Some(crate::smh::LibraryPath::parse(&p).map_err(|e| to_js(&e))?.joined()),
            None if path.is_undefined() || path.is_null() => None,
            None => return Err(invalid("path", "must be a string or undefined")),
        };
        let uploader = self.uploader.clone();
        Ok(count_promise(Box::pin(async move { uploader.discard_pending(path.as_deref()).await })))
    }
}

/// `pendingUploads()`: the list as JS objects, the target under `target_name` (`path` / `key`).
pub(super) fn pending_promise(pending: LocalBoxFuture<'static, Vec<Pending>>, target_name: &'static str) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let list = js_sys::Array::new();
        for p in pending.await {
            let o = js_sys::Object::new();
            for (k, v) in [
                (target_name, JsValue::from_str(&p.path)),
                ("name", JsValue::from_str(&p.name)),
                ("size", JsValue::from_f64(p.size as f64)),
                ("loaded", JsValue::from_f64(p.loaded as f64)),
                ("updatedAt", JsValue::from_f64(p.updated_at)),
            ] {
                let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
            }
            list.push(&o);
        }
        Ok(list.into())
    })
}

/// `discardPending(target?)`: resolves with how many uploads were forgotten and cancelled.
pub(super) fn count_promise(discarded: LocalBoxFuture<'static, usize>) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move { Ok(JsValue::from_f64(discarded.await as f64)) })
}

/// Reads the options `SmhClient` and `CosUploader` share into `config` (after the platform's
/// defaults): allowedDomains, concurrency, partSize, multipartThreshold, retries, requestTimeout,
/// stallTimeout, offlineTimeout.
pub(super) fn read_common(r: &Reader, config: &mut ClientConfig) -> std::result::Result<(), JsValue> {
    platform::apply_defaults(config);
    config.allowed_domains = r.strings("allowedDomains")?;
    if let Some(c) = r.integer("concurrency")? {
        // The range is checked once, by `Uploader::new`.
        config.concurrency = usize::try_from(c).unwrap_or(usize::MAX);
    }
    if let Some(p) = r.integer("partSize")? {
        config.part_size = Some(p);
    }
    if let Some(t) = r.integer("multipartThreshold")? {
        config.multipart_threshold = t;
    }
    if let Some(n) = r.integer("retries")? {
        config.retry.max_retries = n.min(100) as u32;
    }
    if let Some(ms) = r.integer("requestTimeout")? {
        if !(100..=MAX_TIMEOUT_MS).contains(&ms) {
            return Err(invalid("requestTimeout", "must be between 100 ms and 2147483647 ms"));
        }
        config.retry.request_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = r.integer("stallTimeout")? {
        if !(100..=MAX_TIMEOUT_MS).contains(&ms) {
            return Err(invalid("stallTimeout", "must be between 100 ms and 2147483647 ms"));
        }
        config.retry.stall_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = r.integer("offlineTimeout")? {
        if ms > MAX_TIMEOUT_MS {
            return Err(invalid("offlineTimeout", "must be between 0 ms and 2147483647 ms"));
        }
        config.retry.offline_timeout = Duration::from_millis(ms);
    }
    Ok(())
}

/// The `checkpoints` option: 'local' (the default), 'none' or a custom `{get, set, remove}`.
pub(super) fn read_checkpoints(r: &Reader) -> std::result::Result<Rc<dyn CheckpointStore>, JsValue> {
    Ok(match r.value("checkpoints") {
        Some(v) if v.as_string().as_deref() == Some("none") => Rc::new(NoCheckpoints),
        // 'local' is the default: IndexedDB, else localStorage (wx storage in mini-programs).
        None => platform::local_checkpoints(),
        Some(v) if v.as_string().as_deref() == Some("local") => platform::local_checkpoints(),
        Some(v) => Rc::new(JsCheckpoints::new(&v).ok_or_else(|| {
            invalid("checkpoints", "must be 'local', 'none' or an object with get, set and remove functions")
        })?),
    })
}
