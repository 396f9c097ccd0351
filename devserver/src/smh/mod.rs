//! The `smh` origin: the SMH REST API (`/api/v1/...`), docs/smh-api.md §10.
//!
//! OWNER: the SMH side.
//!
//! # Routes
//! - `GET|POST /api/v1/token?library_id&library_secret&…` mint; `POST /api/v1/token/{lib}/{token}`
//!   renew; `DELETE /api/v1/token/{lib}/{token}`; `DELETE /api/v1/token/{lib}?library_secret&user_id`
//!   ([`tokens`])
//! - `POST /api/v1/space/{lib}` create a tenant space ([`spaces`])
//! - `PUT|GET|HEAD|DELETE /api/v1/directory/{lib}/{space}/{path}` ([`directories`])
//! - `PUT|POST|GET|HEAD|DELETE /api/v1/file/{lib}/{space}/{path|confirmKey}` ([`files`], [`uploads`])
//! - `OPTIONS *` CORS preflight ([`crate::cors`])
//!
//! Every response carries CORS headers and `X-Request-Id`; errors are SMH's JSON ([`error`]).
//! Faults and the request log wrap the router ([`crate::faults`]).
//!
//! # Layout
//! - [`auth`]: tokens and the per-call token/grant/space check
//! - [`tree`]: directories and files in SQLite; [`paths`]: URL paths and name rules
//! - [`hashes`]: quick-upload hashes; [`quick`]: computing them off the confirm path;
//!   [`http`]: query, JSON bodies, CORS, ids, times

pub mod auth;
pub mod directories;
pub mod error;
pub mod files;
pub mod hashes;
pub mod http;
pub mod paths;
pub mod quick;
pub mod spaces;
pub mod tokens;
pub mod tree;
pub mod uploads;

use axum::routing::{any, delete, post};
use axum::Router;

pub use error::SmhError;
pub use spaces::{default_space_id, init};

use crate::faults::{Observe, Origin};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/token", axum::routing::get(tokens::token_create).post(tokens::token_create))
        .route("/api/v1/token/{library_id}", delete(tokens::token_delete_user))
        .route("/api/v1/token/{library_id}/{token}", post(tokens::token_renew).delete(tokens::token_delete))
        .route("/api/v1/space/{library_id}", post(spaces::space_create))
        .route("/api/v1/directory/{*rest}", any(directories::directory_route))
        .route("/api/v1/file/{*rest}", any(files::file_route))
        .fallback(|| async { SmhError::ApiNotFound })
        .layer(Observe::new(state.clone(), Origin::Smh))
        .layer(axum::middleware::from_fn(http::request_id))
        .layer(crate::cors::layer(
            tower_http::cors::AllowOrigin::mirror_request(),
            &http::CORS_ALLOW_METHODS,
            http::CORS_EXPOSE_HEADERS,
        ))
        .with_state(state)
}
