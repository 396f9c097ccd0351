//! The wasm side of `SmhClient`: the JS layer (src/bindings/js/smh.js) checks the options and
//! hands over plain values; this picks the platform's adapters and starts uploads.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use wasm_bindgen::prelude::*;

use super::common::{at, call_page, number, read_common, text, PageCall};
use super::error::thrown;
use super::platform;
use super::task::{reply_pending, Events, PendingUploads, UploadTask};
use crate::engine::{run, ClientConfig, Pending, SmhUploader, UploadOptions, UploadResult};
use crate::error::{Error, Result};
use crate::json::Writer;
use crate::platform::browser::JsTimer;
use crate::platform::LocalBoxFuture;
use crate::smh::{Conflict, LibraryPath, SmhTarget, TokenProvider, Tokens};

/// `getAccessToken()` through the JS layer (which checks it gave a non-empty string).
struct JsTokenProvider(PageCall, Duration);

impl TokenProvider for JsTokenProvider {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<String>> {
        Box::pin(call_page(&self.0, self.1).map(|token| token.map_err(|message| Error::AccessToken { message }.into())))
    }
}

/// An SMH upload client (`SmhClient` in the JS layer wraps it).
#[wasm_bindgen(js_name = __Smh, skip_typescript)]
pub struct SmhClient {
    uploader: Rc<SmhUploader>,
}

#[wasm_bindgen(js_class = __Smh)]
impl SmhClient {
    /// The options as the JS layer checked them, in an array: [`read_common`]'s, then baseUrl,
    /// libraryId, spaceId, userId, accessToken, getAccessToken (the JS layer's wrapper),
    /// createParents (0, 1, NaN for absent) and quickUploadWait.
    #[wasm_bindgen(constructor)]
    pub fn new(values: JsValue) -> std::result::Result<SmhClient, JsValue> {
        let target = SmhTarget {
            base_url: text(&values, 9).unwrap_or_default(),
            library_id: text(&values, 10).unwrap_or_default(),
            space_id: text(&values, 11).unwrap_or_default(),
            user_id: text(&values, 12),
        };
        let mut config = ClientConfig::new(target);
        let checkpoints = read_common(&mut config, &values);
        let limit = config.retry.request_timeout;
        let tokens = match (at(&values, 14).dyn_into::<js_sys::Function>(), text(&values, 13)) {
            (Ok(f), initial) => Tokens::from_provider(Rc::new(JsTokenProvider(f.unchecked_into(), limit)), initial),
            (Err(_), token) => Tokens::fixed(token.unwrap_or_default()),
        };
        if let Some(create) = number(&values, 15) {
            config.create_parents = create != 0.0;
        }
        if let Some(ms) = number(&values, 16) {
            config.quick_upload_wait = Duration::from_millis(ms as u64);
        }
        let uploader =
            SmhUploader::new(config, platform::http(), Rc::new(JsTimer), tokens, checkpoints).map_err(thrown)?;
        platform::prepare();
        Ok(SmhClient { uploader: Rc::new(uploader) })
    }

    /// Starts uploading `file` to `path`; `conflict` 0 rename, 1 overwrite, 2 ask.
    pub fn upload(
        &self,
        file: JsValue,
        path: &str,
        conflict: u8,
        quick_upload: bool,
        create_parents: Option<bool>,
        events: Events,
    ) -> std::result::Result<UploadTask, JsValue> {
        let source = platform::file_source(file).map_err(thrown)?;
        let path = LibraryPath::parse(path).map_err(thrown)?;
        let conflict = match conflict {
            1 => Conflict::Overwrite,
            2 => Conflict::Ask,
            _ => Conflict::Rename,
        };
        let create_parents = create_parents.unwrap_or(self.uploader.config().create_parents);
        let options = UploadOptions { path, conflict, quick_upload, create_parents };
        let uploader = self.uploader.clone();
        Ok(UploadTask::spawn(events, move |control, observer| {
            Box::pin(async move { Ok(result_json(&run(uploader, source, options, control, observer).await?)) })
        }))
    }

    /// `pendingUploads()` / `discardPending(path?)`: [`reply_pending`].
    pub fn pending(&self, discard: bool, path: Option<String>, reply: Events) -> std::result::Result<(), JsValue> {
        let path = match path {
            Some(p) => Some(LibraryPath::parse(&p).map_err(thrown)?.joined()),
            None => None,
        };
        reply_pending(self.uploader.clone(), discard, path, reply);
        Ok(())
    }
}

impl PendingUploads for SmhUploader {
    const TARGET: &'static str = "path";
    fn list(&self) -> impl Future<Output = Vec<Pending>> + '_ {
        self.pending_uploads()
    }
    fn discard<'a>(&'a self, path: Option<&'a str>) -> impl Future<Output = usize> + 'a {
        self.discard_pending(path)
    }
}

/// The result `done()` resolves with, as JSON text.
fn result_json(r: &UploadResult) -> String {
    let mut w = Writer::new();
    w.open('{')
        .str_member("path", &r.file.path)
        .str_member("name", &r.file.name)
        .u64_member("size", r.file.size.unwrap_or(r.size))
        .str_member("crc64", r.file.crc64.as_deref().unwrap_or(&r.crc64))
        .key("instant")
        .value(&r.instant.into())
        .key("isOverwritten")
        .value(&r.file.is_overwritten.into())
        .key("etag")
        .value(&r.file.etag.as_deref().into())
        .key("info")
        .value(&r.file.raw)
        .close('}')
        .finish()
}
