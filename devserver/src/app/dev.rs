//! Test hooks under `/_dev/` (docs/design.md §4; docs/smh-api.md §10.14). Never on the smh or cos origins.
//!
//! Shapes (JSON, camelCase):
//! - `GET /_dev/faults` → `{"rules":[{id, origin, method?, path?, query?, skip, every?, rate?,
//!   seed?, times, seen, fired, action}]}` (fields: [`crate::faults`]);
//!   `POST` a rule, an array of rules or `{"rules":[…]}` → same; `DELETE` → 204
//! - `GET /_dev/objects` → `[{key, size, sha256, crc64 (decimal string), etag, smhPath|null, spaceId|null}]`
//! - `GET /_dev/uploads` → `{"smh":[{confirmKey, spaceId, path, kind, uploadId|null, state, key}],
//!   "cos":[{key, uploadId, initiated, parts}]}`
//! - `POST /_dev/tokens/expire` `{accessToken?}` → `{"expired": n}`
//! - `POST /_dev/uploads/expire` → `{"ok": true}` (every upload credential now expired)
//! - `GET|POST /_dev/config` `{uploadTtlSeconds?, cosDomain? (null = reset), minPartSize?,
//!   quotaBytes? (null = unlimited), maxJsonBody?}` → the full settings in that shape
//! - `GET /_dev/log[?origin=&op=&since=seq]` → `[{seq, timeMs, origin, method, path, op, status, bytesIn, fault}]`;
//!   `DELETE` → 204
//! - `POST /_dev/seed` `{path, spaceId?, base64? | size + byte?}` → 201 file info (confirm shape)
//! - `GET /_dev/ready` → the READY line's JSON without [`READY_SECRETS`] (for the demo page)

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::app_error;
use crate::faults::RuleSpec;
use crate::smh::{auth, tree, uploads};
use crate::state::AppState;

/// Fields of the READY JSON a page must never see: the library's secret and the bucket's keys.
pub const READY_SECRETS: &[&str] = &["librarySecret", "secretId", "secretKey"];

/// Largest seed file (`size` + `byte` form).
const MAX_SEED_BYTES: u64 = 256 * 1024 * 1024;

fn internal(e: impl std::fmt::Display) -> Response {
    app_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The JSON body (empty = `{}`), or the 400 answer.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let text = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { &body[..] };
    serde_json::from_slice(text).map_err(|e| format!("bad JSON: {e}"))
}

pub async fn faults_list(State(state): State<AppState>) -> Response {
    Json(json!({ "rules": state.faults.list() })).into_response()
}

/// One rule, an array, or `{"rules": [...]}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RulesBody {
    Wrapped { rules: Vec<RuleSpec> },
    Many(Vec<RuleSpec>),
    One(RuleSpec),
}

pub async fn faults_add(State(state): State<AppState>, body: Bytes) -> Response {
    let specs = match serde_json::from_slice::<RulesBody>(&body) {
        Ok(RulesBody::Wrapped { rules } | RulesBody::Many(rules)) => rules,
        Ok(RulesBody::One(rule)) => vec![rule],
        Err(_) => {
            // Re-parse as a single rule for a precise message.
            let detail = serde_json::from_slice::<RuleSpec>(&body).err().map(|e| e.to_string()).unwrap_or_default();
            return app_error(StatusCode::BAD_REQUEST, format!("not a fault rule: {detail}"));
        }
    };
    Json(json!({ "rules": state.faults.add(specs) })).into_response()
}

pub async fn faults_clear(State(state): State<AppState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

/// What the bucket really holds, with the SMH file each object backs.
pub async fn objects_list(State(state): State<AppState>) -> Response {
    let objects = match state.store.list_all_objects() {
        Ok(o) => o,
        Err(e) => return internal(e),
    };
    let mut out = Vec::with_capacity(objects.len());
    for object in objects {
        let file = match tree::file_of_object(&state.db.lock(), &object.key) {
            Ok(f) => f,
            Err(e) => return internal(e),
        };
        let (space_id, smh_path) = file.unzip();
        // Computed from the stored bytes when first asked for (the upload paths do not hash).
        let sha256 = match state.store.object_sha256(&object.key).await {
            Ok(sha256) => sha256,
            Err(e) => return internal(e),
        };
        out.push(json!({
            "key": object.key, "size": object.size, "sha256": sha256,
            "crc64": object.crc64.to_string(), "etag": object.etag,
            "smhPath": smh_path, "spaceId": space_id,
        }));
    }
    Json(out).into_response()
}

/// Open SMH upload tasks and open COS multipart uploads.
pub async fn uploads_list(State(state): State<AppState>) -> Response {
    let smh = match uploads::open_tasks(&state) {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let multipart = match state.store.list_multipart_uploads("") {
        Ok(m) => m,
        Err(e) => return internal(e),
    };
    let mut cos = Vec::with_capacity(multipart.len());
    for upload in multipart {
        let parts = state.store.list_parts(&upload.upload_id).ok().flatten().map_or(0, |(_, p)| p.len());
        cos.push(json!({
            "key": upload.key, "uploadId": upload.upload_id,
            "initiated": crate::smh::http::iso_ms(upload.initiated_ms), "parts": parts,
        }));
    }
    Json(json!({ "smh": smh, "cos": cos })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExpireTokens {
    access_token: Option<String>,
}

pub async fn tokens_expire(State(state): State<AppState>, body: Bytes) -> Response {
    let request: ExpireTokens = match parse(&body) {
        Ok(r) => r,
        Err(e) => return app_error(StatusCode::BAD_REQUEST, e),
    };
    match auth::expire(&state, request.access_token.as_deref()) {
        Ok(n) => Json(json!({ "expired": n })).into_response(),
        Err(e) => internal(e),
    }
}

pub async fn uploads_expire(State(state): State<AppState>) -> Response {
    match state.store.expire_all_credentials() {
        Ok(()) => Json(json!({ "ok": true })).into_response(),
        Err(e) => internal(e),
    }
}

fn settings_json(state: &AppState) -> Value {
    let s = state.settings();
    json!({
        "uploadTtlSeconds": s.upload_ttl.as_secs(),
        "cosDomain": s.cos_domain_override,
        "minPartSize": s.min_part_size,
        "quotaBytes": s.quota_bytes,
        "maxJsonBody": s.max_json_body,
    })
}

pub async fn config_get(State(state): State<AppState>) -> Response {
    Json(settings_json(&state)).into_response()
}

/// Applies the given fields; absent fields keep their value, `null` resets the optional ones.
pub async fn config_set(State(state): State<AppState>, body: Bytes) -> Response {
    let fields: Map<String, Value> = match parse(&body) {
        Ok(f) => f,
        Err(e) => return app_error(StatusCode::BAD_REQUEST, e),
    };
    let bad = |field: &str| app_error(StatusCode::BAD_REQUEST, format!("{field} has the wrong type"));
    {
        let mut s = state.settings_mut();
        for (field, value) in &fields {
            match (field.as_str(), value) {
                ("uploadTtlSeconds", v) => match v.as_u64() {
                    Some(secs) => s.upload_ttl = Duration::from_secs(secs),
                    None => return bad(field),
                },
                ("cosDomain", Value::Null) => s.cos_domain_override = None,
                ("cosDomain", Value::String(d)) => s.cos_domain_override = Some(d.clone()),
                ("minPartSize", v) => match v.as_u64() {
                    Some(n) => s.min_part_size = n,
                    None => return bad(field),
                },
                ("quotaBytes", Value::Null) => s.quota_bytes = None,
                ("quotaBytes", v) => match v.as_u64() {
                    Some(n) => s.quota_bytes = Some(n),
                    None => return bad(field),
                },
                ("maxJsonBody", v) => match v.as_u64() {
                    Some(n) => s.max_json_body = n as usize,
                    None => return bad(field),
                },
                (other, _) => return app_error(StatusCode::BAD_REQUEST, format!("unknown setting {other:?}")),
            }
        }
    }
    Json(settings_json(&state)).into_response()
}

#[derive(Deserialize)]
pub struct LogFilter {
    origin: Option<String>,
    op: Option<String>,
    since: Option<u64>,
}

pub async fn log_list(State(state): State<AppState>, Query(filter): Query<LogFilter>) -> Response {
    let entries: Vec<_> = state
        .log
        .entries()
        .into_iter()
        .filter(|e| filter.origin.as_deref().is_none_or(|o| o == e.origin))
        .filter(|e| filter.op.as_deref().is_none_or(|o| o == e.op))
        .filter(|e| filter.since.is_none_or(|s| e.seq > s))
        .collect();
    Json(entries).into_response()
}

pub async fn log_clear(State(state): State<AppState>) -> StatusCode {
    state.log.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedRequest {
    path: String,
    space_id: Option<String>,
    base64: Option<String>,
    size: Option<u64>,
    byte: Option<u8>,
}

/// Creates a confirmed file (parents created, overwriting), indexed for quick upload.
pub async fn seed_create(State(state): State<AppState>, body: Bytes) -> Response {
    let request: SeedRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return app_error(StatusCode::BAD_REQUEST, e),
    };
    let bytes = match (&request.base64, request.size) {
        (Some(b64), None) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(b) => Bytes::from(b),
            Err(e) => return app_error(StatusCode::BAD_REQUEST, format!("base64: {e}")),
        },
        (None, Some(size)) if size <= MAX_SEED_BYTES => Bytes::from(vec![request.byte.unwrap_or(0); size as usize]),
        (None, Some(_)) => return app_error(StatusCode::BAD_REQUEST, format!("size above {MAX_SEED_BYTES}")),
        _ => return app_error(StatusCode::BAD_REQUEST, "give either base64 or size (+ byte)"),
    };
    let space = request.space_id.unwrap_or_else(|| crate::smh::default_space_id(&state));
    if let Err(e) = crate::smh::spaces::lookup(&state, &space) {
        return e.into_response();
    }
    match uploads::seed_file(&state, &space, &request.path, bytes).await {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where SMH and COS are, for a page served by this origin (the demo finds the library here).
pub async fn ready_public(State(state): State<AppState>) -> Response {
    let mut ready = match serde_json::to_value(state.ready()) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return internal("the READY data is not a JSON object"),
        Err(e) => return internal(e),
    };
    for secret in READY_SECRETS {
        ready.remove(*secret);
    }
    Json(Value::Object(ready)).into_response()
}
