//! `CosUploader`: direct uploads to a COS bucket with temporary credentials (the SDK signs each
//! request with q-sign). Options, tasks, progress and errors are `SmhClient`'s.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::call::call_user;
use super::client::{count_promise, pending_promise, read_checkpoints, read_common};
use super::error::{invalid, to_js};
use super::options::Reader;
use super::task::UploadTask;
use crate::cos::credentials::CredentialProvider;
use crate::engine::{ClientConfig, CosConfig, DirectCosUploader};
use crate::error::{Error, Result};
use crate::json::Value;
use crate::platform::browser::JsTimer;
use crate::platform::LocalBoxFuture;
use crate::smh::SmhTarget;

const COS_OPTIONS: &[&str] = &[
    "bucket",
    "region",
    "domain",
    "getCredentials",
    "allowedDomains",
    "concurrency",
    "partSize",
    "multipartThreshold",
    "retries",
    "requestTimeout",
    "stallTimeout",
    "offlineTimeout",
    "checkpoints",
];

/// `getCredentials()`: may return the credentials, or a promise or any thenable of them, settled
/// within the request timeout; read as JSON so that every accepted shape goes through one parser
/// ([`crate::cos::credentials::parse`]).
struct JsCredentialProvider(Function, Duration);

impl CredentialProvider for JsCredentialProvider {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<Value>> {
        let (f, limit) = (self.0.clone(), self.1);
        Box::pin(async move {
            let fail = |message: String| Error::Credentials { message };
            let value = call_user(&f, "getCredentials", limit).await.map_err(fail)?;
            if !value.is_object() {
                return Err(fail("getCredentials must resolve to an object".into()));
            }
            let text = js_sys::JSON::stringify(&value)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| fail("getCredentials resolved to an object that is not JSON".into()))?;
            crate::json::parse(text.as_bytes())
                .map_err(|_| fail("getCredentials resolved to an object that is not JSON".into()))
        })
    }
}

/// Uploads straight to one COS bucket with temporary credentials.
#[wasm_bindgen]
pub struct CosUploader {
    uploader: Rc<DirectCosUploader>,
}

#[wasm_bindgen]
impl CosUploader {
    /// Creates an uploader. Throws `SmhUploadError`: `InvalidInput` for bad options,
    /// `DomainNotAllowed` when `allowedDomains` does not allow the bucket's domain.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "CosUploaderOptions")] options: JsValue,
    ) -> std::result::Result<CosUploader, JsValue> {
        let r = Reader::new(&options, "CosUploader", COS_OPTIONS, false)?;
        let cos = CosConfig {
            bucket: r.required_string("bucket")?,
            region: r.required_string("region")?,
            domain: r.string("domain")?,
        };
        let provider = r.function("getCredentials")?.ok_or_else(|| {
            invalid("getCredentials", "is required: an async function returning temporary credentials")
        })?;
        // The SMH target is not used by a direct-COS uploader.
        let mut config = ClientConfig::new(SmhTarget {
            base_url: String::new(),
            library_id: String::new(),
            space_id: String::new(),
            user_id: None,
        });
        read_common(&r, &mut config)?;
        let checkpoints = read_checkpoints(&r)?;
        let provider = Rc::new(JsCredentialProvider(provider, config.retry.request_timeout));
        let uploader =
            DirectCosUploader::new(cos, config, super::platform::http(), Rc::new(JsTimer), provider, checkpoints)
                .map_err(|e| to_js(&e))?;
        Ok(CosUploader { uploader: Rc::new(uploader) })
    }

    /// Starts uploading `file` to the object `key`. Throws `SmhUploadError` (`InvalidInput`)
    /// for a bad file, key or option; everything later is reported through the task.
    #[wasm_bindgen(unchecked_return_type = "CosUploadTask")]
    pub fn upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Blob")] file: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CosUploadOptions")] options: JsValue,
    ) -> std::result::Result<UploadTask, JsValue> {
        UploadTask::start_cos(self.uploader.clone(), file, key, options)
    }

    /// Unfinished uploads that `upload()` of the same file to the same key would continue:
    /// `[{key, size, loaded, name, updatedAt}]`, newest first.
    #[wasm_bindgen(js_name = pendingUploads, unchecked_return_type = "Promise<PendingCosUpload[]>")]
    pub fn pending_uploads(&self) -> Promise {
        let uploader = self.uploader.clone();
        pending_promise(Box::pin(async move { uploader.pending_uploads().await }), "key")
    }

    /// Forgets the unfinished uploads to `key` (all of them without it) and aborts them on COS;
    /// resolves with how many.
    #[wasm_bindgen(js_name = discardPending, unchecked_return_type = "Promise<number>")]
    pub fn discard_pending(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "string")] key: JsValue,
    ) -> std::result::Result<Promise, JsValue> {
        let key = match key.as_string() {
            Some(k) => Some(crate::cos::api::validate_key(&k).map_err(|e| to_js(&e))?),
            None if key.is_undefined() || key.is_null() => None,
            None => return Err(invalid("key", "must be a string or undefined")),
        };
        let uploader = self.uploader.clone();
        Ok(count_promise(Box::pin(async move { uploader.discard_pending(key.as_deref()).await })))
    }
}
