//! The token API (docs/smh-api.md §2): mint, renew, delete.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{self, split_list, MintRequest, Token};
use super::error::{SmhError, SmhResult};
use super::http::{now_ms, Params};
use crate::state::AppState;

fn token_body(token: &Token) -> Json<serde_json::Value> {
    let expires_in = ((token.expires_ms - now_ms() + 999) / 1000).max(0);
    Json(serde_json::json!({ "accessToken": token.token, "expiresIn": expires_in }))
}

/// `GET|POST /api/v1/token?library_id&library_secret&space_id&user_id&client_id&session_id&period&grant`
pub async fn token_create(State(state): State<AppState>, uri: Uri) -> SmhResult<Response> {
    let params = Params::parse(uri.query());
    auth::check_library_secret(&state, params.get("library_id"), params.get("library_secret"))?;
    let request = MintRequest {
        space_ids: split_list(params.get("space_id")),
        grants: split_list(params.get("grant")),
        user_id: params.get("user_id").map(String::from),
        client_id: params.get("client_id").map(String::from),
        session_id: params.get("session_id").map(String::from),
        period: params.get("period").map(String::from),
    };
    let token = auth::mint(&state, request)?;
    Ok(token_body(&token).into_response())
}

/// `POST /api/v1/token/{LibraryId}/{AccessToken}` → 200 `{accessToken, expiresIn}`, the same token
/// with its expiry reset to its period.
pub async fn token_renew(
    State(state): State<AppState>,
    Path((library_id, token)): Path<(String, String)>,
) -> SmhResult<Response> {
    let token = auth::use_token(&state, &library_id, &token)?;
    Ok(token_body(&token).into_response())
}

/// `DELETE /api/v1/token/{LibraryId}/{AccessToken}` → 204, also for unknown tokens.
/// Unconfirmed: docs/devserver-fidelity.md#smh-token-delete-status
pub async fn token_delete(
    State(state): State<AppState>,
    Path((library_id, token)): Path<(String, String)>,
) -> SmhResult<Response> {
    if library_id != state.identity.library_id {
        return Err(SmhError::LibraryNotFound(library_id));
    }
    auth::delete(&state, &token)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/token/{LibraryId}?library_secret&user_id&client_id&session_id` → 204.
/// Unconfirmed: docs/devserver-fidelity.md#smh-token-delete-status
pub async fn token_delete_user(
    State(state): State<AppState>,
    Path(library_id): Path<String>,
    uri: Uri,
) -> SmhResult<Response> {
    let params = Params::parse(uri.query());
    auth::check_library_secret(&state, Some(library_id.as_str()), params.get("library_secret"))?;
    let client_ids = split_list(params.get("client_id"));
    auth::delete_user_tokens(&state, params.get("user_id"), &client_ids, params.get("session_id"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
