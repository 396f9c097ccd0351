//! Directory API (docs/smh-api.md §4): `/api/v1/directory/{LibraryId}/{SpaceId}/{DirPath}`.
//!
//! - `PUT` create (with parents), `?conflict_resolution_strategy=ask|rename`, `?with_inode=1`
//! - `GET` list, `?marker&limit[&by-marker=1]&filter=onlyDir|onlyFile`; `GET ?info` details
//! - `HEAD` exists → 200 / 404
//! - `DELETE` → 204, recursively (the devserver has no recycle bin)

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::auth::{self, Caller, GRANTS_CREATE_DIRECTORY, GRANTS_DELETE_DIRECTORY};
use super::error::{SmhError, SmhResult};
use super::http::{iso_ms, now_ms, Params};
use super::paths::{self, join, parse_target};
use super::tree::{self, ListFilter, Strategy};
use crate::state::AppState;

/// Page size when `limit` is absent (docs/smh-api.md §4.2).
pub const DEFAULT_LIST_LIMIT: usize = 20;
/// Largest page (docs/smh-api.md §4.2); larger values are clamped.
pub const MAX_LIST_LIMIT: usize = 1000;

/// Dispatches every method on a directory URL.
pub async fn directory_route(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    _body: Body,
) -> SmhResult<Response> {
    let target = parse_target(uri.path(), "directory")?;
    let params = Params::parse(uri.query());
    let caller = auth::authenticate(&state, &headers, &params, &target.library_id, &target.space_id)?;
    let segments = paths::directory_segments(&target.tail)?;
    match method {
        Method::PUT => directory_create(&state, &caller, &params, segments),
        Method::GET if params.has("info") => directory_info(&state, &caller, segments),
        Method::GET => directory_list(&state, &caller, &params, segments),
        Method::HEAD => directory_head(&state, &caller, segments),
        Method::DELETE => directory_delete(&state, &caller, segments),
        _ => Err(SmhError::ApiNotFound),
    }
}

/// Directory rules of the library/space kind (docs/smh-api.md §1.3, §4.1).
fn check_directory_allowed(state: &AppState, caller: &Caller, depth: usize) -> SmhResult<()> {
    if caller.space.multi_album {
        if depth > 1 {
            return Err(SmhError::DirectoryLevelExceed);
        }
    } else if state.config.media_library {
        return Err(SmhError::DirectoryNotAllowed);
    }
    Ok(())
}

fn directory_create(state: &AppState, caller: &Caller, params: &Params, segments: Vec<String>) -> SmhResult<Response> {
    caller.require(GRANTS_CREATE_DIRECTORY)?;
    let Some((name, parents)) = segments.split_last() else {
        return Err(SmhError::EmptyPath);
    };
    check_directory_allowed(state, caller, segments.len())?;
    let strategy = Strategy::parse(params.get("conflict_resolution_strategy"), Strategy::Ask)?;
    if strategy == Strategy::Overwrite {
        // Directories know only ask|rename (docs/smh-api.md §4.1).
        return Err(SmhError::InvalidConflictResolutionStrategy);
    }
    let space = &caller.space.id;
    let now = now_ms();
    let mut conn = state.db.lock();
    let tx = conn.transaction()?;
    for depth in 1..=parents.len() {
        let path = join(&segments[..depth]);
        match tree::get(&tx, space, &path)? {
            Some(node) if node.is_dir => {}
            Some(_) => return Err(SmhError::SameNameDirectoryOrFileExists(path)),
            None => tree::insert_dir(&tx, space, &path, now)?,
        }
    }
    let (path, _) = tree::resolve_conflict(&tx, space, &join(parents), name, true, strategy)?;
    tree::insert_dir(&tx, space, &path, now)?;
    tx.commit()?;
    let mut body = json!({ "path": path.split('/').collect::<Vec<_>>(), "creationTime": iso_ms(now) });
    if params.get("with_inode") == Some("1") {
        body["inode"] = json!(paths::inode_of(space, &path));
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The directory at `segments`, or 404 DirectoryNotFound.
fn require_dir(state: &AppState, space: &str, segments: &[String]) -> SmhResult<Option<tree::Node>> {
    let path = join(segments);
    if path.is_empty() {
        return Ok(None);
    }
    match tree::get(&state.db.lock(), space, &path)? {
        Some(node) if node.is_dir => Ok(Some(node)),
        _ => Err(SmhError::DirectoryNotFound(path)),
    }
}

fn directory_list(state: &AppState, caller: &Caller, params: &Params, segments: Vec<String>) -> SmhResult<Response> {
    let space = &caller.space.id;
    require_dir(state, space, &segments)?;
    let limit = match params.get("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n > 0 => n.min(MAX_LIST_LIMIT),
            _ => return Err(SmhError::ParamInvalid("limit must be a positive integer".to_string())),
        },
    };
    let filter = match params.get("filter") {
        None => ListFilter::All,
        Some("onlyDir") => ListFilter::OnlyDir,
        Some("onlyFile") => ListFilter::OnlyFile,
        Some(_) => return Err(SmhError::ParamInvalid("filter must be onlyDir or onlyFile".to_string())),
    };
    // The marker is opaque to clients: `d:` or `f:` + the last name returned.
    let after = match params.get("marker") {
        None => None,
        Some(marker) => match marker.split_at_checked(2) {
            Some(("d:", name)) => Some((true, name)),
            Some(("f:", name)) => Some((false, name)),
            _ => return Err(SmhError::MarkerNotFound),
        },
    };
    let parent = join(&segments);
    let mut nodes = tree::list(&state.db.lock(), space, &parent, after, limit + 1, filter)?;
    let next_marker = (nodes.len() > limit).then(|| {
        nodes.truncate(limit);
        nodes.last().map(|n| format!("{}:{}", if n.is_dir { "d" } else { "f" }, paths::name_of(&n.path)))
    });
    let media = state.config.media_library;
    let mut body = json!({
        "path": segments,
        "contents": nodes.iter().map(|n| tree::entry_json(n, media)).collect::<Vec<_>>(),
    });
    if let Some(Some(marker)) = next_marker {
        body["nextMarker"] = json!(marker);
    }
    Ok(Json(body).into_response())
}

/// `GET ?info`: a directory's or a file's details (new API, docs/smh-api.md §4.3).
fn directory_info(state: &AppState, caller: &Caller, segments: Vec<String>) -> SmhResult<Response> {
    let path = join(&segments);
    if path.is_empty() {
        return Ok(Json(json!({ "path": [], "type": "dir" })).into_response());
    }
    let node = tree::get(&state.db.lock(), &caller.space.id, &path)?.ok_or(SmhError::DirectoryNotFound(path))?;
    Ok(Json(tree::info_json(&node, state.config.media_library)).into_response())
}

fn directory_head(state: &AppState, caller: &Caller, segments: Vec<String>) -> SmhResult<Response> {
    require_dir(state, &caller.space.id, &segments)?;
    Ok(StatusCode::OK.into_response())
}

fn directory_delete(state: &AppState, caller: &Caller, segments: Vec<String>) -> SmhResult<Response> {
    caller.require(GRANTS_DELETE_DIRECTORY)?;
    if segments.is_empty() {
        return Err(SmhError::EmptyPath);
    }
    require_dir(state, &caller.space.id, &segments)?;
    let keys = tree::delete_subtree(&state.db.lock(), &caller.space.id, &join(&segments))?;
    // The store takes the db lock itself: delete objects only after releasing ours.
    for key in keys {
        state.store.delete_object(&key)?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
