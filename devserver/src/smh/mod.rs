//! The `smh` origin: the SMH REST API (`/api/v1/...`).
//!
//! OWNER: the SMH side.

use axum::Router;

use crate::state::AppState;

/// Creates the SMH schema and, for `--multi-tenant`, the first space.
pub fn init(_state: &AppState) -> crate::anyhow_free::Result<()> {
    Ok(())
}

/// The spaceId the READY line reports: `-` for single-tenant libraries, else the first space.
pub fn default_space_id(_state: &AppState) -> String {
    "-".to_string()
}

pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
