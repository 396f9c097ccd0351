//! smh-upload: an upload SDK for Tencent Smart Media Hosting (SMH, 智能媒资托管).
//!
//! The client asks SMH for upload authorisation (control flow), sends the bytes straight to the
//! COS bucket domain SMH returns — only if it is on the allow-list — and confirms with SMH, with
//! quick upload (秒传) by hash, CRC64 integrity checks, retries, renewals, pause/resume/cancel.
//!
//! # Layout
//! From the top down; each module imports only those below it:
//! - `bindings` (wasm32 only): the JavaScript API (`SmhClient`, `CosUploader`, `UploadTask`).
//! - [`engine`]: platform-free — plan, part machinery, progress, state machine, checkpoints, and
//!   the two upload flows (through SMH, straight to COS).
//! - [`smh`]: SMH API client (paths, tokens, begin/renew/confirm/cancel).
//! - [`cos`]: the COS API (domain allow-list, signing, PUT, multipart calls, error XML).
//! - [`net`]: retry policy, the one retry loop, time limits, percent-encoding.
//! - [`platform`]: ports (`Http`, `FileSource`, `CheckpointStore`, `Timer`) and the browser
//!   and mini-program adapters.
//! - Leaves: [`checksum`] (CRC-64, quick-upload hashes), [`date`], [`json`], [`lock`],
//!   [`vecmap`], [`error`].

// A wasm built with one JS class only (cargo features `smh-client` / `cos-uploader`; the
// browser package's per-class entries, xtask/src/pkg.rs) leaves the other class's helpers unused.
#![cfg_attr(not(all(feature = "smh-client", feature = "cos-uploader")), allow(unused))]

pub mod checksum;
pub mod cos;
pub mod date;
pub mod engine;
pub mod error;
pub mod json;
pub mod net;
pub mod platform;
pub mod smh;
pub(crate) mod text;
pub mod vecmap;

#[cfg(target_arch = "wasm32")]
mod bindings;

#[cfg(all(target_arch = "wasm32", feature = "cos-uploader"))]
pub use bindings::CosUploader;
#[cfg(all(target_arch = "wasm32", feature = "smh-client"))]
pub use bindings::SmhClient;
#[cfg(target_arch = "wasm32")]
pub use bindings::UploadTask;
pub use error::{Error, Result};
