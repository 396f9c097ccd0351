//! The platform-free upload engine: plan, scheduler, retry/backoff, progress, state machine,
//! control signals, and the upload flow itself. It reaches the world only through the ports in
//! [`crate::platform`].

pub mod checkpoint;
pub mod client;
pub mod control;
pub mod plan;
pub mod progress;
pub mod scheduler;
pub mod state;
pub mod upload;

pub use crate::net::retry::{BackoffConfig, RetryConfig};
pub use checkpoint::Pending;
pub use client::{ClientConfig, Uploader};
pub use control::Control;
pub use progress::{Phase, Progress};
pub use state::UploadState;
pub use upload::{Observer, UploadOptions, UploadResult};

#[cfg(test)]
mod tests;
