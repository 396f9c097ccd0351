//! The wasm side of the JavaScript API. A thin skin in two layers: src/bindings/js/ (appended to
//! wasm-bindgen's glue by xtask/src/pkg.rs) is the public `SmhClient`, `CosUploader` and
//! `UploadTask`: it checks the options, builds the objects the page sees and calls its callbacks;
//! the classes here (`__Smh`, `__Cos`, `__Task`) take plain values from it, and the work is the
//! engine's. What JavaScript does natively stays out of the wasm.
//!
//! A panic is a trap at once (the package's wasm is built with `panic=immediate-abort`,
//! xtask/src/pkg.rs): the instance is dead, so no hook runs here. The JS layer notices the trap
//! where every call into the wasm passes (`smh$guard` in js/api.js), rejects every running task
//! with `InternalError` and refuses later calls.

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

#[cfg(feature = "smh-client")]
pub use client::SmhClient;
#[cfg(feature = "cos-uploader")]
pub use cos::CosUploader;
pub use task::UploadTask;
