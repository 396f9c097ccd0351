//! Upload tasks (docs/smh-api.md §5): begin (simple `PUT`, multipart `POST ?multipart`), quick upload,
//! renew, query, confirm, cancel — all on `/api/v1/file/{LibraryId}/{SpaceId}/…`.
//!
//! An upload authorisation is real: the object key is opaque (`{libraryId}/{spaceId}/{hex}`),
//! the headers carry a q-sign signature made with a temporary COS credential scoped to that key
//! (and upload id), which the cos origin verifies. Confirm checks what the bucket really holds.
//!
//! Task states in `smh_uploads.state`: `open` → `confirming` (one confirm at a time) → `confirmed`;
//! a failed confirm returns to `open`; cancel deletes the row.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Caller, GRANTS_BEGIN, GRANTS_CONFIRM, GRANTS_OVERWRITE};
use super::error::{SmhError, SmhResult};
use super::hashes::QUICK_MIN_SIZE;
use super::http::{iso_ms, now_ms, random_hex, read_json, Params};
use super::paths::{self, content_type_of, join, parent_of};
use super::quick;
use super::tree::{self, NewFile, Strategy};
use crate::state::AppState;
use crate::store::{CredentialScope, StoreError};

/// Prefix of the request headers kept as file metadata (docs/smh-api.md §5).
const META_HEADER_PREFIX: &str = "x-smh-meta-";
/// Length of a confirmKey (hex digits).
const CONFIRM_KEY_LEN: usize = 32;
/// Length of the random part of an object key (hex digits).
const OBJECT_KEY_RANDOM_LEN: usize = 32;
/// Content type of the part PUTs of a multipart upload.
const MULTIPART_PART_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Multipart,
}

/// One row of `smh_uploads`.
#[derive(Debug, Clone)]
struct Task {
    confirm_key: String,
    path: String,
    kind: Kind,
    object_key: String,
    upload_id: Option<String>,
    strategy: Strategy,
    content_type: String,
    meta: BTreeMap<String, String>,
    created_ms: i64,
    state: String,
    /// The multipart upload was completed into the object (a later confirm step failed).
    assembled: bool,
    /// The confirm response, once confirmed.
    result: Option<String>,
}

/// Body of begin (docs/smh-api.md §5.1); `size` is a string (JS) or a number (Android).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeginBody {
    size: Option<Value>,
    beginning_hash: Option<String>,
    full_hash: Option<String>,
}

/// Body of confirm (docs/smh-api.md §5.6); `crc64` a decimal string (or a number).
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmBody {
    crc64: Option<Value>,
}

/// A decimal u64 given as a JSON string or number; `None` for null/empty.
fn json_u64(value: Option<&Value>, field: &str) -> SmhResult<Option<u64>> {
    let invalid = || SmhError::ParamInvalid(format!("{field} must be a non-negative integer"));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| invalid()),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(invalid),
        Some(_) => Err(invalid()),
    }
}

fn parse_kind(s: &str) -> Kind {
    if s == "multipart" {
        Kind::Multipart
    } else {
        Kind::Simple
    }
}

fn load_task(conn: &Connection, space: &str, confirm_key: &str) -> SmhResult<Option<Task>> {
    let task = conn
        .query_row(
            "SELECT confirm_key, path, kind, object_key, upload_id, strategy, content_type, meta, created_ms,
                    state, assembled, result
             FROM smh_uploads WHERE confirm_key = ?1 AND space_id = ?2",
            params![confirm_key, space],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, bool>(10)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            },
        )
        .optional()?;
    let Some((
        confirm_key,
        path,
        kind,
        object_key,
        upload_id,
        strategy,
        content_type,
        meta,
        created_ms,
        state,
        assembled,
        result,
    )) = task
    else {
        return Ok(None);
    };
    Ok(Some(Task {
        confirm_key,
        path,
        kind: parse_kind(&kind),
        object_key,
        upload_id,
        strategy: Strategy::parse(Some(&strategy), Strategy::Rename)?,
        content_type,
        meta: serde_json::from_str(&meta).unwrap_or_default(),
        created_ms,
        state,
        assembled,
        result,
    }))
}

/// The task of `confirm_key` in the caller's space; 404 UploadNotFound when unknown or cancelled.
fn find_task(state: &AppState, caller: &Caller, confirm_key: &str) -> SmhResult<Task> {
    load_task(&state.db.lock(), &caller.space.id, confirm_key)?.ok_or(SmhError::UploadNotFound)
}

/// Media-library and multi-album placement rules for a file (docs/smh-api.md §1.3, §5.10).
fn check_file_placement(state: &AppState, caller: &Caller, segments: &[String]) -> SmhResult<()> {
    if caller.space.multi_album {
        match segments.len() {
            1 => return Err(SmhError::UploadToRootDirectoryNotAllowed),
            2 => {}
            _ => return Err(SmhError::DirectoryLevelExceed),
        }
    } else if state.config.media_library && segments.len() > 1 {
        return Err(SmhError::DirectoryNotAllowed);
    }
    if state.config.media_library {
        // A media library takes images and videos only (docs/smh-api.md §5.10).
        // Unconfirmed: docs/devserver-fidelity.md#smh-media-extensions
        let name = segments.last().map(String::as_str).unwrap_or("");
        if content_type_of(name).1 == "file" {
            return Err(SmhError::ExtnameNotAllowed(paths::extension(name).unwrap_or_default()));
        }
    }
    Ok(())
}

/// Parent must be a directory (uploads never create parents, docs/smh-api.md §4.5); then the
/// conflict strategy decides the final path.
fn place(conn: &Connection, space: &str, path: &str, strategy: Strategy) -> SmhResult<(String, bool)> {
    let parent = parent_of(path);
    if !tree::is_dir(conn, space, parent)? {
        return Err(SmhError::DirectoryNotFound(parent.to_string()));
    }
    tree::resolve_conflict(conn, space, parent, paths::name_of(path), false, strategy)
}

fn meta_from_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with(META_HEADER_PREFIX))
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect()
}

/// Mints a credential for the task and renders the upload parameters (docs/smh-api.md §5.1/§5.2).
fn authorisation(state: &AppState, task: &Task) -> SmhResult<Value> {
    let ttl = state.settings().upload_ttl.as_secs() as i64;
    let scope = CredentialScope {
        key: task.object_key.clone(),
        upload_id: task.upload_id.clone(),
        owner: task.confirm_key.clone(),
    };
    let credential = state.store.mint_credential(scope, ttl)?;
    let path = format!("/{}", task.object_key);
    let signature = crate::cos::sign::sign_authorization(
        &credential.secret_id,
        &credential.secret_key,
        credential.start,
        credential.expires,
        "put",
        &path,
        &[],
        &[],
    );
    let content_type = match task.kind {
        Kind::Simple => task.content_type.as_str(),
        Kind::Multipart => MULTIPART_PART_CONTENT_TYPE,
    };
    let mut body = json!({
        "domain": state.cos_domain(),
        "path": path,
        "headers": {
            "Authorization": signature,
            "x-cos-security-token": credential.token,
            "Content-Type": content_type,
        },
        "confirmKey": task.confirm_key,
        "expiration": iso_ms(credential.expires * 1000),
        "availableDomainNum": 1,
    });
    if let Some(upload_id) = &task.upload_id {
        body["uploadId"] = json!(upload_id);
    }
    Ok(body)
}

/// `PUT …/{FilePath}` (simple) or `POST …/{FilePath}?multipart` → 201 / 202 / 200.
pub async fn upload_begin(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    headers: &HeaderMap,
    body: Body,
    tail: &str,
    multipart: bool,
) -> SmhResult<Response> {
    caller.require(GRANTS_BEGIN)?;
    let segments = paths::file_segments(tail)?;
    check_file_placement(state, caller, &segments)?;
    let strategy = Strategy::parse(params.get("conflict_resolution_strategy"), Strategy::Rename)?;
    if strategy == Strategy::Overwrite {
        caller.require(GRANTS_OVERWRITE)?;
    }
    let body: BeginBody = read_json(body, state.settings().max_json_body).await?;
    let size = match json_u64(body.size.as_ref(), "size")? {
        Some(size) => Some(size),
        None => params
            .get("filesize")
            .map(|s| s.parse::<u64>().map_err(|_| SmhError::ParamInvalid("filesize must be an integer".into())))
            .transpose()?,
    };
    let space = caller.space.id.clone();
    let path = join(&segments);
    {
        let conn = state.db.lock();
        if let (Some(quota), Some(size)) = (state.settings().quota_bytes, size) {
            if tree::space_usage(&conn, &space)?.saturating_add(size) > quota {
                return Err(SmhError::QuotaLimitReached);
            }
        }
        place(&conn, &space, &path, strategy)?;
    }

    if let (Some(size), Some(beginning)) = (size, body.beginning_hash.as_deref()) {
        if size >= QUICK_MIN_SIZE {
            let beginning = beginning.to_ascii_lowercase();
            let full = body.full_hash.as_deref().map(str::to_ascii_lowercase);
            // Files of this size confirmed just now may still be hashing (see `quick`).
            state.quick.settled(size).await;
            let candidate = tree::quick_candidate(&state.db.lock(), size, &beginning, full.as_deref())?;
            match (candidate, full) {
                (Some(source), Some(full)) => {
                    let hashes = (beginning, full);
                    if let Some(done) = quick_create(state, caller, &path, strategy, headers, &source, hashes).await? {
                        return Ok(done);
                    }
                }
                // Unconfirmed: docs/devserver-fidelity.md#smh-quick-202-body
                (Some(_), None) => return Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response()),
                (None, _) => {}
            }
        }
    }

    let object_key = format!("{}/{}/{}", state.identity.library_id, space, random_hex(OBJECT_KEY_RANDOM_LEN));
    let content_type = content_type_of(paths::name_of(&path)).0.to_string();
    let upload_id = if multipart {
        Some(state.store.initiate_multipart(&object_key, &content_type, BTreeMap::new())?)
    } else {
        None
    };
    let task = Task {
        confirm_key: random_hex(CONFIRM_KEY_LEN),
        path,
        kind: if multipart { Kind::Multipart } else { Kind::Simple },
        object_key,
        upload_id,
        strategy,
        content_type,
        meta: meta_from_headers(headers),
        created_ms: now_ms(),
        state: "open".to_string(),
        assembled: false,
        result: None,
    };
    state.db.lock().execute(
        "INSERT INTO smh_uploads (confirm_key, space_id, path, kind, object_key, upload_id, strategy, filesize,
                                  content_type, meta, user_id, created_ms, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'open')",
        params![
            task.confirm_key,
            space,
            task.path,
            if multipart { "multipart" } else { "simple" },
            task.object_key,
            task.upload_id,
            strategy.as_str(),
            size.map(|s| s as i64),
            task.content_type,
            serde_json::to_string(&task.meta)?,
            caller.user_id,
            task.created_ms
        ],
    )?;
    let body = authorisation(state, &task)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Quick upload hit: copies the stored object and creates the file now. `None` when the source
/// vanished meanwhile (the caller then proceeds with a normal upload).
async fn quick_create(
    state: &AppState,
    caller: &Caller,
    path: &str,
    strategy: Strategy,
    headers: &HeaderMap,
    source: &str,
    hashes: (String, String),
) -> SmhResult<Option<Response>> {
    let space = &caller.space.id;
    let object_key = format!("{}/{}/{}", state.identity.library_id, space, random_hex(OBJECT_KEY_RANDOM_LEN));
    let object = match state.store.copy_object(source, &object_key).await {
        Ok(object) => object,
        Err(StoreError::NoSuchKey) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let file = NewFile {
        path: path.to_string(),
        object_key,
        size: object.size,
        content_type: content_type_of(paths::name_of(path)).0.to_string(),
        etag: object.etag,
        crc64: object.crc64,
        meta: meta_from_headers(headers),
        hashes: Some(hashes),
    };
    let body = store_file(state, space, file, strategy, None)?;
    Ok(Some((StatusCode::OK, Json(body)).into_response()))
}

/// Places and inserts a file whose object is already stored (confirm, quick upload, seed);
/// `confirm_key` also marks that task confirmed in the same transaction. On failure the new
/// object is deleted unless a task still owns it. Returns the confirm-shaped body.
fn store_file(
    state: &AppState,
    space: &str,
    mut file: NewFile,
    strategy: Strategy,
    confirm_key: Option<&str>,
) -> SmhResult<Value> {
    let placed = (|| -> SmhResult<(Value, Option<String>)> {
        let mut conn = state.db.lock();
        let tx = conn.transaction()?;
        let (final_path, overwrites) = place(&tx, space, &file.path, strategy)?;
        let replaced_key =
            if overwrites { tree::get(&tx, space, &final_path)?.and_then(|n| n.object_key) } else { None };
        file.path = final_path;
        let node = tree::put_file(&tx, space, &file, now_ms())?;
        let mut body = tree::info_json(&node, state.config.media_library);
        body["isOverwritten"] = json!(overwrites);
        if let Some(confirm_key) = confirm_key {
            tx.execute(
                "UPDATE smh_uploads SET state = 'confirmed', result = ?1 WHERE confirm_key = ?2",
                params![body.to_string(), confirm_key],
            )?;
        }
        tx.commit()?;
        Ok((body, replaced_key))
    })();
    match placed {
        Ok((body, replaced_key)) => {
            if let Some(old) = replaced_key.filter(|k| *k != file.object_key) {
                state.store.delete_object(&old)?;
            }
            Ok(body)
        }
        Err(e) => {
            if confirm_key.is_none() {
                state.store.delete_object(&file.object_key)?;
            }
            Err(e)
        }
    }
}

/// [`store_file`] for an object just stored (confirm, seed), whose quick-upload hashes are not
/// known yet: a file of at least [`QUICK_MIN_SIZE`] is marked pending before its row is
/// committed and hashed in the background after (see [`quick`]).
fn store_new_file(
    state: &AppState,
    space: &str,
    file: NewFile,
    strategy: Strategy,
    confirm_key: Option<&str>,
) -> SmhResult<Value> {
    let indexed = file.size >= QUICK_MIN_SIZE;
    let object_key = file.object_key.clone();
    if indexed {
        state.quick.mark_pending(&object_key, file.size);
    }
    let stored = store_file(state, space, file, strategy, confirm_key);
    match (&stored, indexed) {
        (Ok(_), true) => quick::hash_in_background(state, object_key),
        (Err(_), true) => state.quick.finish(&object_key),
        (_, false) => {}
    }
    stored
}

/// `POST …/{ConfirmKey}?renew` → 200 fresh upload parameters; the old ones stay valid until they
/// expire. Simple uploads cannot be renewed (400 ParamInvalid, docs/smh-api.md §10.9).
/// Unconfirmed: docs/devserver-fidelity.md#smh-renew-simple
pub fn upload_renew(state: &AppState, caller: &Caller, confirm_key: &str) -> SmhResult<Response> {
    caller.require(GRANTS_BEGIN)?;
    let task = find_task(state, caller, confirm_key)?;
    if task.state == "confirmed" {
        return Err(SmhError::UploadComplete);
    }
    if task.kind == Kind::Simple {
        return Err(SmhError::ParamInvalid("only multipart uploads can be renewed; begin again".into()));
    }
    Ok(Json(authorisation(state, &task)?).into_response())
}

/// `GET …/{ConfirmKey}?upload` → the task, its uploaded parts and fresh upload parameters.
pub fn upload_query(state: &AppState, caller: &Caller, params: &Params, confirm_key: &str) -> SmhResult<Response> {
    caller.require(GRANTS_BEGIN)?;
    let task = find_task(state, caller, confirm_key)?;
    let confirmed = task.state == "confirmed";
    let final_path =
        task.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()).map(|r| r["path"].clone());
    let requested: Vec<&str> = task.path.split('/').collect();
    let mut body = json!({
        "confirmed": confirmed,
        "path": final_path.unwrap_or_else(|| json!(requested)),
        "type": tree::file_type(paths::name_of(&task.path), state.config.media_library),
        "creationTime": iso_ms(task.created_ms),
        "conflictResolutionStrategy": task.strategy.as_str(),
        "force": false,
        "confirmKey": task.confirm_key,
        "availableDomainNum": 1,
    });
    if let Some(upload_id) = &task.upload_id {
        body["uploadId"] = json!(upload_id);
        let parts = match state.store.list_parts(upload_id)? {
            Some((_, parts)) if !task.assembled => parts,
            _ => Vec::new(),
        };
        body["parts"] = json!(parts
            .iter()
            .map(|p| json!({
                "PartNumber": p.number, "LastModified": iso_ms(p.last_modified_ms),
                "ETag": p.etag, "Size": p.size,
            }))
            .collect::<Vec<_>>());
    }
    if !confirmed && params.get("no_upload_part_info") != Some("1") {
        let mut info = authorisation(state, &task)?;
        if let Some(map) = info.as_object_mut() {
            map.remove("confirmKey");
            map.remove("availableDomainNum");
        }
        body["uploadPartInfo"] = info;
    }
    Ok(Json(body).into_response())
}

/// `POST …/{ConfirmKey}?confirm[&conflict_resolution_strategy]` body `{crc64?}` → 200 file info.
pub async fn upload_confirm(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    confirm_key: &str,
    body: Body,
) -> SmhResult<Response> {
    caller.require(GRANTS_CONFIRM)?;
    let body: ConfirmBody = read_json(body, state.settings().max_json_body).await?;
    let expected_crc = json_u64(body.crc64.as_ref(), "crc64")?;
    let space = caller.space.id.clone();
    // Claim the task so that two confirms cannot both assemble it.
    let claimed = state.db.lock().execute(
        "UPDATE smh_uploads SET state = 'confirming' WHERE confirm_key = ?1 AND space_id = ?2 AND state = 'open'",
        params![confirm_key, space],
    )?;
    if claimed == 0 {
        let task = find_task(state, caller, confirm_key)?;
        // Confirmed, or another confirm is running: 409 UploadComplete for both.
        // Unconfirmed: docs/devserver-fidelity.md#smh-confirm-twice
        tracing::debug!(state = %task.state, "smh: confirm of a task that is not open");
        return Err(SmhError::UploadComplete);
    }
    // The confirm runs to its end in a task of its own: a client that gives up waiting (its
    // request timed out, the connection dropped) must not leave the task `confirming` forever —
    // its retry hears UploadComplete and then watches the task until it reads confirmed.
    let (state, caller, params, key) = (state.clone(), caller.clone(), params.clone(), confirm_key.to_string());
    let confirm = tokio::spawn(async move {
        let result = confirm_claimed(&state, &caller, &params, &key, expected_crc).await;
        if result.is_err() {
            // The task stays open so the client can fix and retry, or cancel (docs/smh-api.md §10.11).
            // Unconfirmed: docs/devserver-fidelity.md#smh-failed-confirm-stays-open
            state.db.lock().execute(
                "UPDATE smh_uploads SET state = 'open' WHERE confirm_key = ?1 AND state = 'confirming'",
                [&key],
            )?;
        }
        result
    });
    confirm.await.map_err(|e| SmhError::Internal(format!("confirm task: {e}")))?
}

async fn confirm_claimed(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    confirm_key: &str,
    expected_crc: Option<u64>,
) -> SmhResult<Response> {
    let space = caller.space.id.clone();
    let task = find_task(state, caller, confirm_key)?;
    let strategy = Strategy::parse(params.get("conflict_resolution_strategy"), task.strategy)?;
    if strategy == Strategy::Overwrite && task.strategy != Strategy::Overwrite {
        caller.require(GRANTS_OVERWRITE)?;
    }
    // Early conflict check, before the parts are assembled.
    place(&state.db.lock(), &space, &task.path, strategy)?;

    let object = match (task.kind, &task.upload_id) {
        (Kind::Multipart, Some(upload_id)) if !task.assembled => {
            let object = complete_parts(state, upload_id, expected_crc).await?;
            state.db.lock().execute("UPDATE smh_uploads SET assembled = 1 WHERE confirm_key = ?1", [confirm_key])?;
            object
        }
        _ => {
            // Unconfirmed: docs/devserver-fidelity.md#smh-upload-incomplete
            let object = state.store.head(&task.object_key)?.ok_or(SmhError::UploadIncomplete)?;
            if let Some(expected) = expected_crc.filter(|e| *e != object.crc64) {
                tracing::debug!(expected, actual = object.crc64, "smh: confirm crc64 mismatch");
                return Err(SmhError::BadCrc64 { actual: object.crc64 });
            }
            object
        }
    };
    let file = NewFile {
        path: task.path.clone(),
        object_key: task.object_key.clone(),
        size: object.size,
        content_type: task.content_type.clone(),
        etag: object.etag,
        crc64: object.crc64,
        meta: task.meta.clone(),
        hashes: None,
    };
    let body = store_new_file(state, &space, file, strategy, Some(confirm_key))?;
    state.store.revoke_credentials(confirm_key)?;
    Ok(Json(body).into_response())
}

/// Checks the parts SMH-style (contiguous from 1, non-last ≥ min part size) and completes the
/// COS multipart upload with the CRC check.
async fn complete_parts(
    state: &AppState,
    upload_id: &str,
    expected_crc: Option<u64>,
) -> SmhResult<crate::store::ObjectMeta> {
    let min_part_size = state.settings().min_part_size;
    let (_, parts) = state.store.list_parts(upload_id)?.ok_or(SmhError::MultipartUploadIncomplete(1))?;
    if parts.is_empty() {
        return Err(SmhError::MultipartUploadIncomplete(1));
    }
    for (i, part) in parts.iter().enumerate() {
        let expected = i as u32 + 1;
        if part.number != expected {
            return Err(SmhError::MultipartUploadIncomplete(expected));
        }
        if i + 1 < parts.len() && part.size < min_part_size {
            return Err(SmhError::MultipartUploadPartTooSmall(part.number));
        }
    }
    let list = parts.iter().map(|p| (p.number, None)).collect();
    match state.store.complete_multipart(upload_id, list, min_part_size, expected_crc).await {
        Ok(object) => Ok(object),
        Err(StoreError::BadCrc64 { actual }) => Err(SmhError::BadCrc64 { actual }),
        Err(StoreError::EntityTooSmall(n)) => Err(SmhError::MultipartUploadPartTooSmall(n)),
        Err(StoreError::InvalidPart(n)) => Err(SmhError::MultipartUploadIncomplete(n)),
        Err(StoreError::NoSuchUpload) => Err(SmhError::MultipartUploadIncomplete(1)),
        Err(e) => Err(e.into()),
    }
}

/// `DELETE …/{ConfirmKey}?upload` → 204 (unconfirmed: docs/devserver-fidelity.md#smh-delete-status):
/// aborts the COS multipart upload (or deletes the simple
/// object), revokes the credentials, forgets the task. Confirmed tasks: 409 UploadComplete.
pub fn upload_cancel(state: &AppState, caller: &Caller, confirm_key: &str) -> SmhResult<Response> {
    caller.require(GRANTS_BEGIN)?;
    let task = find_task(state, caller, confirm_key)?;
    if task.state != "open" {
        return Err(SmhError::UploadComplete);
    }
    if let (Some(upload_id), false) = (&task.upload_id, task.assembled) {
        state.store.abort_multipart(upload_id)?;
    }
    state.store.delete_object(&task.object_key)?;
    state.store.revoke_credentials(confirm_key)?;
    state.db.lock().execute("DELETE FROM smh_uploads WHERE confirm_key = ?1", [confirm_key])?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Open tasks for `/_dev/uploads`: `(confirmKey, spaceId, path, kind, uploadId, state)`.
pub fn open_tasks(state: &AppState) -> SmhResult<Vec<Value>> {
    let conn = state.db.lock();
    let mut stmt = conn.prepare(
        "SELECT confirm_key, space_id, path, kind, upload_id, state, object_key FROM smh_uploads
         WHERE state <> 'confirmed' ORDER BY created_ms",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(json!({
            "confirmKey": r.get::<_, String>(0)?, "spaceId": r.get::<_, String>(1)?,
            "path": r.get::<_, String>(2)?, "kind": r.get::<_, String>(3)?,
            "uploadId": r.get::<_, Option<String>>(4)?, "state": r.get::<_, String>(5)?,
            "key": r.get::<_, String>(6)?,
        }))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Test hook `/_dev/seed`: stores `bytes` as a confirmed file at `path` (parents created),
/// indexed for quick upload. Returns the confirm-shaped body.
pub async fn seed_file(state: &AppState, space: &str, path: &str, bytes: bytes::Bytes) -> SmhResult<Value> {
    let segments = paths::file_segments(path)?;
    let path = join(&segments);
    {
        let conn = state.db.lock();
        let now = now_ms();
        for depth in 1..segments.len() {
            let dir = join(&segments[..depth]);
            match tree::get(&conn, space, &dir)? {
                Some(node) if node.is_dir => {}
                Some(_) => return Err(SmhError::SameNameDirectoryOrFileExists(dir)),
                None => tree::insert_dir(&conn, space, &dir, now)?,
            }
        }
    }
    let object_key = format!("{}/{}/{}", state.identity.library_id, space, random_hex(OBJECT_KEY_RANDOM_LEN));
    let content_type = content_type_of(paths::name_of(&path)).0.to_string();
    let len = bytes.len() as u64;
    let stream: crate::store::BodyStream = Box::pin(futures_util::stream::once(async move { Ok(bytes) }));
    let object = state.store.put_object(&object_key, &content_type, BTreeMap::new(), stream, len, None).await?;
    let file = NewFile {
        path,
        object_key,
        size: object.size,
        content_type,
        etag: object.etag,
        crc64: object.crc64,
        meta: BTreeMap::new(),
        hashes: None,
    };
    store_new_file(state, space, file, Strategy::Overwrite, None)
}
