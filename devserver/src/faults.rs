//! Scripted fault rules for the `smh` and `cos` origins (set through the app origin's `/_dev/faults`).
//!
//! OWNER: the SMH side.

/// The active rules.
#[derive(Debug, Default)]
pub struct Faults {}
