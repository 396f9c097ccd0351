//! The JavaScript API (wasm-bindgen): [`client::SmhClient`], [`cos::CosUploader`] and
//! [`task::UploadTask`]. A thin skin:
//! options are parsed once into Rust types, errors become `SmhUploadError` objects, and the work
//! is the engine's.

mod client;
#[cfg(feature = "cos-uploader")]
mod cos;
mod error;
mod options;
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
/// line is the message and where it was raised; no stack (console_error_panic_hook's formatted
/// stack cost the package more than it told).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload().downcast_ref::<&str>().map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        web_sys::console::error_1(&JsValue::from_str(&format!("smh-upload panicked{place}: {message}")));
        task::reject_live_tasks(&message);
    }));
}
