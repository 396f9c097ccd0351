//! The wasm side of `CosUploader`: direct uploads to a COS bucket with temporary credentials (the
//! SDK signs each request with q-sign). The JS layer (src/bindings/js/cos.js) checks the options;
//! tasks, progress and errors are `SmhClient`'s.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use wasm_bindgen::prelude::*;

use super::common::{at, call_page, read_common, text, PageCall};
use super::error::thrown;
use super::task::{reply_pending, Events, PendingUploads, UploadTask};
use crate::cos::credentials::CredentialProvider;
use crate::engine::{run_cos, ClientConfig, CosConfig, CosObject, CosResult, DirectCosUploader, Pending};
use crate::error::{Error, Result};
use crate::json::{Value, Writer};
use crate::platform::browser::JsTimer;
use crate::platform::LocalBoxFuture;
use crate::smh::SmhTarget;

/// `getCredentials()` through the JS layer, which hands them over as JSON text so that every
/// accepted shape goes through one parser ([`crate::cos::credentials::parse`]).
struct JsCredentialProvider(PageCall, Duration);

impl CredentialProvider for JsCredentialProvider {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<Value>> {
        Box::pin(call_page(&self.0, self.1).map(|text| {
            let fail = |message: String| Box::new(Error::Credentials { message });
            crate::json::parse(text.map_err(fail)?.as_bytes())
                .map_err(|_| fail("getCredentials resolved to an object that is not JSON".into()))
        }))
    }
}

/// Uploads straight to one COS bucket (`CosUploader` in the JS layer wraps it).
#[wasm_bindgen(js_name = __Cos, skip_typescript)]
pub struct CosUploader {
    uploader: Rc<DirectCosUploader>,
}

#[wasm_bindgen(js_class = __Cos)]
impl CosUploader {
    /// The options as the JS layer checked them, in an array: [`read_common`]'s, then bucket,
    /// region, domain and getCredentials (the JS layer's wrapper).
    #[wasm_bindgen(constructor)]
    pub fn new(values: JsValue) -> std::result::Result<CosUploader, JsValue> {
        let cos = CosConfig {
            bucket: text(&values, 9).unwrap_or_default(),
            region: text(&values, 10).unwrap_or_default(),
            domain: text(&values, 11),
        };
        // The SMH target is not used by a direct-COS uploader.
        let mut config = ClientConfig::new(SmhTarget {
            base_url: String::new(),
            library_id: String::new(),
            space_id: String::new(),
            user_id: None,
        });
        let checkpoints = read_common(&mut config, &values);
        let get_credentials = at(&values, 12).unchecked_into::<PageCall>();
        let provider = Rc::new(JsCredentialProvider(get_credentials, config.retry.request_timeout));
        let http = super::platform::http();
        let uploader =
            DirectCosUploader::new(cos, config, http, Rc::new(JsTimer), provider, checkpoints).map_err(thrown)?;
        super::platform::prepare();
        Ok(CosUploader { uploader: Rc::new(uploader) })
    }

    /// Starts uploading `file` to the object `key`; `meta` is JSON text of `[[name, value], …]`.
    pub fn upload(
        &self,
        file: JsValue,
        key: &str,
        content_type: Option<String>,
        meta: &str,
        events: Events,
    ) -> std::result::Result<UploadTask, JsValue> {
        let source = super::platform::file_source(file).map_err(thrown)?;
        let key = crate::cos::api::validate_key(key).map_err(thrown)?;
        let pairs = crate::json::parse(meta.as_bytes()).ok();
        let meta = pairs
            .as_ref()
            .and_then(|v| v.as_array())
            .unwrap_or_default()
            .iter()
            .filter_map(|pair| match pair.as_array()? {
                [name, value] => Some((name.as_str()?.to_string(), value.as_str()?.to_string())),
                _ => None,
            })
            .collect();
        let object = CosObject { key, content_type, meta };
        object.validate().map_err(thrown)?;
        let uploader = self.uploader.clone();
        Ok(UploadTask::spawn(events, move |control, observer| {
            Box::pin(async move { Ok(result_json(&run_cos(uploader, source, object, control, observer).await?)) })
        }))
    }

    /// `pendingUploads()` / `discardPending(key?)`: [`reply_pending`] (a discarded upload's
    /// multipart upload is aborted).
    pub fn pending(&self, discard: bool, key: Option<String>, reply: Events) -> std::result::Result<(), JsValue> {
        let key = match key {
            Some(k) => Some(crate::cos::api::validate_key(&k).map_err(thrown)?),
            None => None,
        };
        reply_pending(self.uploader.clone(), discard, key, reply);
        Ok(())
    }
}

impl PendingUploads for DirectCosUploader {
    const TARGET: &'static str = "key";
    fn list(&self) -> impl Future<Output = Vec<Pending>> + '_ {
        self.pending_uploads()
    }
    fn discard<'a>(&'a self, key: Option<&'a str>) -> impl Future<Output = usize> + 'a {
        self.discard_pending(key)
    }
}

/// The result `done()` resolves with, as JSON text.
fn result_json(r: &CosResult) -> String {
    let mut w = Writer::new();
    w.open('{')
        .str_member("key", &r.key)
        .u64_member("size", r.size)
        .str_member("crc64", &r.crc64)
        .key("etag")
        .value(&r.etag.as_deref().into())
        .str_member("location", &r.location)
        .close('}')
        .finish()
}
