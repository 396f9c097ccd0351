//! The JavaScript API (wasm-bindgen): [`client::SmhClient`] and [`task::UploadTask`]. A thin skin:
//! options are parsed once into Rust types, errors become `SmhUploadError` objects, and the work
//! is the engine's.

mod client;
mod error;
mod options;
mod task;
mod types;

use wasm_bindgen::prelude::*;

pub use client::SmhClient;
pub use task::UploadTask;

/// Runs when the module is instantiated: panics go to the console (a panic never leaves a task
/// hanging silently — its promise rejects because the wasm call throws).
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}
