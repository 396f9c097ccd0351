//! The wasm side of the JavaScript API. A thin skin in two layers: src/bindings/js/ (appended to
//! wasm-bindgen's glue by xtask/src/pkg.rs) is the public `SmhClient`, `CosUploader` and
//! `UploadTask`: it checks the options, builds the objects the page sees and calls its callbacks;
//! the classes here (`__Smh`, `__Cos`, `__Task`) take plain values from it, and the work is the
//! engine's. What JavaScript does natively stays out of the wasm.

#[cfg(feature = "smh-client")]
mod client;
mod common;
#[cfg(feature = "cos-uploader")]
mod cos;
mod error;
mod platform;
mod task;
mod types;
mod worker;

use wasm_bindgen::prelude::*;

#[cfg(feature = "smh-client")]
pub use client::SmhClient;
#[cfg(feature = "cos-uploader")]
pub use cos::CosUploader;
pub use task::{reject_live_tasks, UploadTask};

/// Runs when the module is instantiated: a panic is logged to the console and rejects every
/// task still running (the instance aborts after a panic, so they could never settle). The log
/// line is the message alone: the package's wasm carries no panic locations
/// (`-Zlocation-detail=none`, xtask/src/pkg.rs) and no stack (console_error_panic_hook's
/// formatted stack cost the package more than it told).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("panic");
        web_sys::console::error_2(&JsValue::from_str("smh-upload panicked:"), &JsValue::from_str(message));
        task::reject_live_tasks(message);
    }));
}
