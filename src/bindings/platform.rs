//! Which adapters the JS API runs on, chosen when the wasm is built: the browser's by default,
//! WeChat's with the cargo feature `miniprogram` (xtask/src/pkg_miniprogram.rs builds both).
//! Everything else in `bindings` is the same on both platforms.
//!
//! - [`http`]: `XMLHttpRequest` / `wx.request` (with the 10-request pool).
//! - [`file_source`]: a `Blob` / `File`, or a mini-program file `{ filePath | path |
//!   tempFilePath, size }`.
//! - [`local_checkpoints`]: `wx` storage for `checkpoints: 'local'` (in browsers the JS layer's
//!   src/bindings/js/local.js).
//! - [`apply_defaults`]: the platform's defaults, applied before the user's options, and its
//!   word on the network (`navigator.onLine` / `wx.onNetworkStatusChange`).
//! - [`prepare`]: what a new client starts ahead of its first upload (the browser's hashing
//!   Worker).
//! - [`spawn`]: runs a task's flow or a reply (the browser's small executor, src/platform/
//!   browser/spawn.rs; wasm-bindgen-futures in mini-programs).

use std::rc::Rc;

use wasm_bindgen::JsValue;

use crate::engine::ClientConfig;
use crate::platform::{CheckpointStore, FileSource, Http};

#[cfg(not(feature = "miniprogram"))]
mod chosen {
    use super::*;
    use crate::net::Network;
    use crate::platform::browser::{BlobSource, NavigatorConnectivity, XhrHttp};
    use crate::platform::NoCheckpoints;
    use wasm_bindgen::JsCast;

    pub fn http() -> Rc<dyn Http> {
        Rc::new(XhrHttp)
    }

    pub fn file_source(file: JsValue) -> crate::Result<Rc<dyn FileSource>> {
        let blob = file
            .dyn_into::<web_sys::Blob>()
            .map_err(|_| crate::Error::invalid_input("file", "must be a Blob or File"))?;
        Ok(Rc::new(BlobSource::new(blob)?))
    }

    /// None: in browsers the JS layer hands over its own `'local'` store (IndexedDB, else
    /// localStorage: src/bindings/js/local.js), so only a caller without it gets here.
    pub fn local_checkpoints() -> Rc<dyn CheckpointStore> {
        Rc::new(NoCheckpoints)
    }

    /// The browser takes the engine's defaults, chosen for a fast link (docs/design.md §6), and
    /// follows `navigator.onLine`.
    pub fn apply_defaults(config: &mut ClientConfig) {
        config.retry.network = Network(Rc::new(NavigatorConnectivity));
    }

    /// Runs a binding's future on the page's microtask queue.
    pub fn spawn(future: crate::platform::LocalBoxFuture<'static, ()>) {
        crate::platform::browser::spawn::spawn(future);
    }

    /// The hashing Worker starts with the first client rather than with the first upload's
    /// first hash, so that its start-up is over (or under way) when upload() is called.
    pub fn prepare() {
        crate::platform::browser::worker::start();
    }
}

#[cfg(feature = "miniprogram")]
mod chosen {
    use std::time::Duration;

    use super::*;
    use crate::engine::plan::MIB;
    use crate::net::Network;
    use crate::platform::miniprogram::{WxConnectivity, WxFileSource, WxHttp, WxStorageCheckpoints};

    /// Parts in flight by default on a phone: 3 × [`PART_SIZE`] keeps a mobile uplink busy and
    /// leaves most of WeChat's 10 requests to SMH calls and the app.
    const CONCURRENCY: usize = 3;
    /// Part size on a phone. `wx.request` reports no upload progress and allows at most 60 s,
    /// so a part must finish within 60 s while sharing the link with the others in flight:
    /// 3 × 2 MiB in 60 s needs only 0.84 Mbit/s, where the web's 8 MiB parts would need 3.4.
    /// Fewer, larger requests than Tencent's 1 MiB parts, each of them a round trip on a phone.
    const PART_SIZE: u64 = 2 * MIB;
    /// Larger files use multipart: a simple PUT is one request with the same 60 s limit.
    const MULTIPART_THRESHOLD: u64 = 4 * MIB;
    /// A part is aborted when it has not finished after this long: without upload progress the
    /// stall watchdog cannot see bytes move, so it waits as long as `wx.request` itself may.
    const STALL_TIMEOUT: Duration = Duration::from_millis(crate::platform::miniprogram::MAX_TIMEOUT_MS);

    pub fn http() -> Rc<dyn Http> {
        Rc::new(WxHttp)
    }

    pub fn file_source(file: JsValue) -> crate::Result<Rc<dyn FileSource>> {
        Ok(Rc::new(WxFileSource::open(&file)?))
    }

    pub fn local_checkpoints() -> Rc<dyn CheckpointStore> {
        Rc::new(WxStorageCheckpoints)
    }

    pub fn apply_defaults(config: &mut ClientConfig) {
        config.concurrency = CONCURRENCY;
        config.part_size = Some(PART_SIZE);
        config.multipart_threshold = MULTIPART_THRESHOLD;
        config.retry.stall_timeout = STALL_TIMEOUT;
        config.retry.network = Network(Rc::new(WxConnectivity::follow()));
    }

    /// Nothing to start: mini-programs hash in place.
    pub fn prepare() {}

    pub fn spawn(future: crate::platform::LocalBoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }
}

pub use chosen::{apply_defaults, file_source, http, local_checkpoints, prepare, spawn};
