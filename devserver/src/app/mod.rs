//! The `app` origin: the customer backend (`POST /token`), `www/` at `/`, `pkg/` at `/pkg/`, and
//! every test hook under `/_dev/`.
//!
//! OWNER: the SMH side.

use axum::Router;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
