//! smh-upload: an upload SDK for Tencent Smart Media Hosting (SMH, 智能媒资托管).
//!
//! The client asks SMH for upload authorisation (control flow), sends the bytes straight to the
//! COS bucket domain SMH returns — only if it is on the allow-list — and confirms with SMH, with
//! quick upload (秒传) by hash, CRC64 integrity checks, retries, renewals, pause/resume/cancel.
//!
//! # Layout
//! - [`engine`]: platform-free — plan, scheduler, retry, progress, state machine, upload flow.
//! - [`smh`]: SMH API client (paths, tokens, begin/renew/confirm/cancel).
//! - [`cos`]: the COS data path (domain allow-list, PUT, error XML, CRC-64 with combine).
//! - [`hash`]: quick-upload hashes.
//! - [`platform`]: ports (`Http`, `FileSource`, `CheckpointStore`, `Timer`) and the browser
//!   adapters.
//! - `bindings` (wasm32 only): the JavaScript API (`SmhClient`, `UploadTask`).

// A wasm built with one JS class only (cargo features `smh-client` / `cos-uploader`; the
// browser package's per-class entries, xtask/src/pkg.rs) leaves the other class's helpers unused.
#![cfg_attr(not(all(feature = "smh-client", feature = "cos-uploader")), allow(unused))]

pub mod cos;
pub mod engine;
pub mod error;
pub mod hash;
pub mod json;
pub mod platform;
pub mod smh;
pub mod vecmap;

#[cfg(target_arch = "wasm32")]
mod bindings;

/// What the panic hook does; exposed only so the browser tests can check it.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use bindings::reject_live_tasks as __reject_live_tasks;
#[cfg(all(target_arch = "wasm32", feature = "cos-uploader"))]
pub use bindings::CosUploader;
#[cfg(all(target_arch = "wasm32", feature = "smh-client"))]
pub use bindings::SmhClient;
#[cfg(target_arch = "wasm32")]
pub use bindings::UploadTask;
pub use error::{Error, Result};
