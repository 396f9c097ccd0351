//! A bounded log of the requests the `smh` and `cos` origins received (read through `/_dev/log`).
//!
//! OWNER: the SMH side.

/// The log.
#[derive(Debug, Default)]
pub struct RequestLog {}
