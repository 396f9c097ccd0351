//! The platform-free upload engine. It reaches the world only through the ports in
//! [`crate::platform`] and the service clients in [`crate::smh`] and [`crate::cos`].
//!
//! Where to look:
//! - `upload`: one upload from start to finish — begin or resume, send, complete, clean up;
//! - `flow`: the `flow::Flow` trait, what differs between the services, implemented by
//!   [`smh_flow`] (through SMH) and [`cos_flow`] (straight to COS);
//! - `parts`: sending the parts — slots, retries, stall watchdog, progress, pause/cancel;
//! - `session`: one upload's running state — state machine, progress, the resumable record;
//! - [`checkpoint`]: resumable records in the client's store; [`plan`]: how a file is cut;
//!   [`scheduler`]: the connection slots ([`lock`]: one of them as an async lock); [`client`]:
//!   what a client's uploads share.
//!
//! A part's life, the same in both flows: planned by `plan::Plan::new` (its range:
//! `Plan::part_range`); sent by `parts::send_part` → `parts::put_watched`, with the PUT signed by
//! `Flow::part_request` (SMH: the headers SMH returned; COS: `cos::api::CosApi::put_request`);
//! retried inside `parts::send_part` (`net::retry::Retry`, `Flow::reauthorise` on an expired
//! authorisation); checkpointed by `parts::send_missing_parts` (`Session::record_part`,
//! `Session::save_is_due`); confirmed by `Flow::complete` (SMH: `smh_flow` `confirm`;
//! COS: `cos_flow` `complete_checked`). A resumed part is kept only once its CRC-64, read again
//! from the file, equals the record's (`upload::parts_on_server`). Quick upload and its race with
//! the parts: `smh_flow::quick`.

pub mod checkpoint;
pub mod client;
pub mod control;
pub mod cos_flow;
pub(crate) mod flow;
pub mod lock;
pub(crate) mod parts;
pub mod plan;
pub mod progress;
pub mod scheduler;
pub(crate) mod session;
pub mod smh_flow;
pub mod state;
pub(crate) mod upload;

pub use crate::net::retry::{BackoffConfig, RetryConfig};
pub use checkpoint::Pending;
pub use client::{ClientConfig, Uploader};
pub use control::Control;
pub use cos_flow::{run_cos, CosConfig, CosObject, CosResult, DirectCosUploader};
pub use progress::{Phase, Progress};
pub use smh_flow::{run, SmhUploader, UploadOptions, UploadResult};
pub use state::UploadState;
pub use upload::Observer;

#[cfg(test)]
mod tests;
