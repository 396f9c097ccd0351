//! Tenant spaces (docs/smh-api.md §3) and the SMH schema.
//!
//! A single-tenant library has exactly one space, `-`; a `--multi-tenant` library gets a first
//! space at start-up and more through `POST /api/v1/space/{LibraryId}`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, OptionalExtension};
use serde::Deserialize;

use super::auth::{self, GRANTS_CREATE_SPACE};
use super::error::{SmhError, SmhResult};
use super::http::{now_ms, random_lower, read_json, Params};
use crate::state::AppState;

/// The spaceId of single-tenant libraries.
pub const SINGLE_TENANT_SPACE: &str = "-";
/// Length of the random part of a space id (`space` + 16 characters).
const SPACE_ID_RANDOM_LEN: usize = 16;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS smh_tokens (
    token TEXT PRIMARY KEY, library_id TEXT NOT NULL, space_ids TEXT NOT NULL, grants TEXT NOT NULL,
    user_id TEXT, client_id TEXT, session_id TEXT, period INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS smh_spaces (
    space_id TEXT PRIMARY KEY, multi_album INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS smh_nodes (
    space_id TEXT NOT NULL, path TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL,
    is_dir INTEGER NOT NULL, created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,
    object_key TEXT, size INTEGER, content_type TEXT, etag TEXT, crc64 TEXT, meta TEXT,
    beginning_hash TEXT, full_hash TEXT,
    PRIMARY KEY (space_id, path));
CREATE INDEX IF NOT EXISTS smh_nodes_listing ON smh_nodes (space_id, parent, is_dir, name);
CREATE INDEX IF NOT EXISTS smh_nodes_quick ON smh_nodes (size, beginning_hash);
CREATE INDEX IF NOT EXISTS smh_nodes_object ON smh_nodes (object_key);
CREATE TABLE IF NOT EXISTS smh_uploads (
    confirm_key TEXT PRIMARY KEY, space_id TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
    object_key TEXT NOT NULL, upload_id TEXT, strategy TEXT NOT NULL, filesize INTEGER,
    content_type TEXT NOT NULL, meta TEXT NOT NULL, user_id TEXT, created_ms INTEGER NOT NULL,
    state TEXT NOT NULL, assembled INTEGER NOT NULL DEFAULT 0, result TEXT);
";

/// A tenant space.
#[derive(Debug, Clone)]
pub struct Space {
    pub id: String,
    pub multi_album: bool,
}

/// Creates the SMH schema and the library's first space.
pub fn init(state: &AppState) -> crate::anyhow_free::Result<()> {
    let conn = state.db.lock();
    conn.execute_batch(SCHEMA)?;
    let multi_album = state.config.multi_album;
    if state.config.multi_tenant {
        let spaces: i64 = conn.query_row("SELECT COUNT(*) FROM smh_spaces WHERE space_id <> '-'", [], |r| r.get(0))?;
        if spaces == 0 {
            conn.execute(
                "INSERT INTO smh_spaces (space_id, multi_album, created_ms) VALUES (?1, ?2, ?3)",
                params![new_space_id(), multi_album, now_ms()],
            )?;
        }
    } else {
        conn.execute(
            "INSERT INTO smh_spaces (space_id, multi_album, created_ms) VALUES ('-', ?1, ?2)
             ON CONFLICT (space_id) DO UPDATE SET multi_album = excluded.multi_album",
            params![multi_album, now_ms()],
        )?;
    }
    Ok(())
}

fn new_space_id() -> String {
    format!("space{}", random_lower(SPACE_ID_RANDOM_LEN))
}

/// `-` for single-tenant libraries, else the first space created.
pub fn default_space_id(state: &AppState) -> String {
    if !state.config.multi_tenant {
        return SINGLE_TENANT_SPACE.to_string();
    }
    state
        .db
        .lock()
        .query_row("SELECT space_id FROM smh_spaces WHERE space_id <> '-' ORDER BY rowid LIMIT 1", [], |r| r.get(0))
        .unwrap_or_else(|_| SINGLE_TENANT_SPACE.to_string())
}

/// The space, or 404 SpaceNotFound (`-` exists only in single-tenant libraries and vice versa).
pub fn lookup(state: &AppState, space_id: &str) -> SmhResult<Space> {
    if state.config.multi_tenant == (space_id == SINGLE_TENANT_SPACE) {
        return Err(SmhError::SpaceNotFound(space_id.to_string()));
    }
    let multi_album: Option<bool> = state
        .db
        .lock()
        .query_row("SELECT multi_album FROM smh_spaces WHERE space_id = ?1", [space_id], |r| r.get(0))
        .optional()?;
    match multi_album {
        Some(multi_album) => Ok(Space { id: space_id.to_string(), multi_album }),
        None => Err(SmhError::SpaceNotFound(space_id.to_string())),
    }
}

/// Body of create-space (docs/smh-api.md §3.1); only `isMultiAlbum` is used.
/// Unconfirmed: docs/devserver-fidelity.md#smh-space-create
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceCreateBody {
    pub is_multi_album: Option<bool>,
}

/// `POST /api/v1/space/{LibraryId}` → 201 `{"spaceId"}`. Unconfirmed: docs/devserver-fidelity.md#smh-space-create
pub async fn space_create(
    State(state): State<AppState>,
    Path(library_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> SmhResult<Response> {
    let params = Params::parse(uri.query());
    let token = auth::authenticate_token(&state, &headers, &params, &library_id)?;
    if !state.config.multi_tenant {
        return Err(SmhError::NotMultiSpaceLibrary);
    }
    if !token.has_any(GRANTS_CREATE_SPACE) {
        return Err(SmhError::NoPermission);
    }
    let body: SpaceCreateBody = read_json(body, state.settings().max_json_body).await?;
    let space_id = new_space_id();
    state.db.lock().execute(
        "INSERT INTO smh_spaces (space_id, multi_album, created_ms) VALUES (?1, ?2, ?3)",
        params![space_id, body.is_multi_album.unwrap_or(state.config.multi_album), now_ms()],
    )?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "spaceId": space_id }))).into_response())
}
