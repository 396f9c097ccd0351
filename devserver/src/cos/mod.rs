//! The `cos` origin: the COS XML API of the one bucket bound to the library.
//!
//! OWNER: the COS side.

use axum::Router;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
