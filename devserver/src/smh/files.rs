//! File API (docs/smh-api.md §5, §6): `/api/v1/file/{LibraryId}/{SpaceId}/{FilePath | ConfirmKey}`.
//!
//! A ConfirmKey takes the FilePath position; the query flag tells them apart:
//! - `PUT` begin simple upload; `POST ?multipart` begin multipart upload ([`super::uploads`])
//! - `POST ?renew`, `GET ?upload`, `POST ?confirm`, `DELETE ?upload` on a ConfirmKey
//! - `GET ?info` file info; `GET` → 302 to a signed COS URL (unconfirmed:
//!   docs/devserver-fidelity.md#smh-download-redirect); `HEAD` 200/404 with
//!   `x-smh-*` headers; `DELETE` → 204

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{self, Caller, GRANTS_DELETE_FILE};
use super::error::{SmhError, SmhResult};
use super::http::{iso_ms, Params};
use super::paths::{self, join, parse_target};
use super::tree::{self, Node};
use super::uploads;
use crate::state::AppState;

/// Lifetime of the signed COS URL a download redirects to.
const DOWNLOAD_URL_TTL_SECS: i64 = 15 * 60;

/// Dispatches every method on a file URL.
pub async fn file_route(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> SmhResult<Response> {
    let target = parse_target(uri.path(), "file")?;
    let params = Params::parse(uri.query());
    let caller = auth::authenticate(&state, &headers, &params, &target.library_id, &target.space_id)?;
    let tail = target.tail.as_str();
    match method {
        Method::POST if params.has("confirm") => uploads::upload_confirm(&state, &caller, &params, tail, body).await,
        Method::POST if params.has("renew") => uploads::upload_renew(&state, &caller, tail),
        Method::GET if params.has("upload") => uploads::upload_query(&state, &caller, &params, tail),
        Method::DELETE if params.has("upload") => uploads::upload_cancel(&state, &caller, tail),
        Method::PUT => uploads::upload_begin(&state, &caller, &params, &headers, body, tail, false).await,
        Method::POST if params.has("multipart") => {
            uploads::upload_begin(&state, &caller, &params, &headers, body, tail, true).await
        }
        Method::GET if params.has("info") => file_info(&state, &caller, tail),
        Method::GET => file_download(&state, &caller, tail),
        Method::HEAD => file_head(&state, &caller, tail),
        Method::DELETE => file_delete(&state, &caller, tail),
        _ => Err(SmhError::ApiNotFound),
    }
}

/// The file at `tail`, or 404 FileNotFound.
fn require_file(state: &AppState, caller: &Caller, tail: &str) -> SmhResult<Node> {
    let path = join(&paths::file_segments(tail)?);
    match tree::get(&state.db.lock(), &caller.space.id, &path)? {
        Some(node) if !node.is_dir => Ok(node),
        _ => Err(SmhError::FileNotFound(path)),
    }
}

/// A signed GET URL of the object on the cos origin, made with the bucket owner's key.
fn cos_url(state: &AppState, key: &str) -> String {
    let start = super::http::now_ms() / 1000 - 60;
    let path = format!("/{key}");
    let auth = crate::cos::sign::sign_authorization(
        &state.identity.secret_id,
        &state.identity.secret_key,
        start,
        start + 60 + DOWNLOAD_URL_TTL_SECS,
        "get",
        &path,
        &[],
        &[],
    );
    format!("http://{}{path}?{auth}", state.cos_domain())
}

fn file_info(state: &AppState, caller: &Caller, tail: &str) -> SmhResult<Response> {
    let node = require_file(state, caller, tail)?;
    let mut body = tree::info_json(&node, state.config.media_library);
    if let Some(key) = &node.object_key {
        body["cosUrl"] = serde_json::json!(cos_url(state, key));
    }
    Ok(Json(body).into_response())
}

fn file_download(state: &AppState, caller: &Caller, tail: &str) -> SmhResult<Response> {
    let node = require_file(state, caller, tail)?;
    let key = node.object_key.ok_or_else(|| SmhError::Internal("file without object".into()))?;
    let location = HeaderValue::from_str(&cos_url(state, &key)).map_err(|e| SmhError::Internal(e.to_string()))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

fn file_head(state: &AppState, caller: &Caller, tail: &str) -> SmhResult<Response> {
    let node = require_file(state, caller, tail)?;
    let name = paths::name_of(&node.path);
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    let mut put = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            headers.insert(n, v);
        }
    };
    put("x-smh-type", tree::file_type(name, state.config.media_library));
    put("x-smh-creation-time", &iso_ms(node.created_ms));
    put("x-smh-content-type", &node.content_type);
    put("x-smh-size", &node.size.to_string());
    put("x-smh-etag", &node.etag);
    put("x-smh-crc64", &node.crc64);
    for (k, v) in &node.meta {
        put(k, v);
    }
    Ok(response)
}

fn file_delete(state: &AppState, caller: &Caller, tail: &str) -> SmhResult<Response> {
    caller.require(GRANTS_DELETE_FILE)?;
    let node = require_file(state, caller, tail)?;
    let keys = tree::delete_subtree(&state.db.lock(), &caller.space.id, &node.path)?;
    for key in keys {
        state.store.delete_object(&key)?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
