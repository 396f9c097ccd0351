//! Access tokens: minting, sliding expiry, and the check every non-token call makes
//! (docs/smh-api.md §2; the grants each call needs: §2.1).

use axum::http::{header, HeaderMap};
use rusqlite::{params, OptionalExtension};

use super::error::{SmhError, SmhResult};
use super::http::{now_ms, random_lower, Params};
use super::spaces::{self, Space};
use crate::state::AppState;

/// Token lifetime when `period` is absent or invalid (docs/smh-api.md §2.1: 24 h).
pub const DEFAULT_PERIOD_SECS: i64 = 86_400;
/// Length of the random part of a token (real tokens: `acctk` + ~43 characters).
const TOKEN_RANDOM_LEN: usize = 43;

/// Every grant SMH knows (JS SDK `CreateTokenGrantEnum`).
pub const KNOWN_GRANTS: &[&str] = &[
    "admin",
    "create_space",
    "delete_space",
    "space_admin",
    "create_directory",
    "delete_directory",
    "delete_directory_permanent",
    "move_directory",
    "copy_directory",
    "upload_file",
    "upload_file_force",
    "begin_upload",
    "begin_upload_force",
    "confirm_upload",
    "create_symlink",
    "create_symlink_force",
    "delete_file",
    "delete_file_permanent",
    "move_file",
    "move_file_force",
    "copy_file",
    "copy_file_force",
    "delete_recycled",
    "restore_recycled",
];
/// Begin, renew, query and cancel an upload.
pub const GRANTS_BEGIN: &[&str] =
    &["admin", "space_admin", "upload_file", "upload_file_force", "begin_upload", "begin_upload_force"];
/// Confirm an upload.
pub const GRANTS_CONFIRM: &[&str] = &["admin", "space_admin", "upload_file", "upload_file_force", "confirm_upload"];
/// Overwrite an existing file: without one of these, `conflict_resolution_strategy=overwrite` is
/// refused with NoPermission. Unconfirmed: docs/devserver-fidelity.md#smh-force-grants
pub const GRANTS_OVERWRITE: &[&str] = &["admin", "space_admin", "upload_file_force", "begin_upload_force"];
pub const GRANTS_CREATE_DIRECTORY: &[&str] = &["admin", "space_admin", "create_directory"];
pub const GRANTS_DELETE_DIRECTORY: &[&str] =
    &["admin", "space_admin", "delete_directory", "delete_directory_permanent"];
pub const GRANTS_DELETE_FILE: &[&str] = &["admin", "space_admin", "delete_file", "delete_file_permanent"];
pub const GRANTS_CREATE_SPACE: &[&str] = &["admin", "create_space"];

/// A stored access token.
#[derive(Debug, Clone)]
pub struct Token {
    pub token: String,
    pub library_id: String,
    /// Empty = not bound to spaces.
    pub space_ids: Vec<String>,
    pub grants: Vec<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub session_id: Option<String>,
    pub period: i64,
    pub expires_ms: i64,
}

impl Token {
    pub fn has_any(&self, grants: &[&str]) -> bool {
        self.grants.iter().any(|g| grants.contains(&g.as_str()))
    }
}

/// What a mint request asks for (the token API's query parameters, already split).
#[derive(Debug, Default, Clone)]
pub struct MintRequest {
    pub space_ids: Vec<String>,
    pub grants: Vec<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub session_id: Option<String>,
    pub period: Option<String>,
}

/// Splits a comma-separated list, dropping empty items.
pub fn split_list(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("").split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}

/// Checks `library_id` / `library_secret` as the token API does.
pub fn check_library_secret(state: &AppState, library_id: Option<&str>, secret: Option<&str>) -> SmhResult<()> {
    match (library_id, secret) {
        (None, None) => Err(SmhError::EmptyLibraryIdOrSecret),
        (None, Some(_)) => Err(SmhError::EmptyLibraryId),
        (Some(_), None) => Err(SmhError::EmptyLibrarySecret),
        (Some(id), Some(secret)) => {
            let identity = &state.identity;
            if id == identity.library_id && secret == identity.library_secret {
                Ok(())
            } else {
                Err(SmhError::WrongLibraryIdOrSecret)
            }
        }
    }
}

/// Mints a token for the (already authenticated) library.
pub fn mint(state: &AppState, request: MintRequest) -> SmhResult<Token> {
    if let Some(unknown) = request.grants.iter().find(|g| !KNOWN_GRANTS.contains(&g.as_str())) {
        return Err(SmhError::ParamInvalid(format!("unknown grant {unknown:?}")));
    }
    for space in &request.space_ids {
        spaces::lookup(state, space)?;
    }
    // docs/smh-api.md §2.1: an invalid period falls back to 24 h.
    let period =
        request.period.as_deref().and_then(|p| p.parse::<i64>().ok()).filter(|p| *p > 0).unwrap_or(DEFAULT_PERIOD_SECS);
    let token = Token {
        token: format!("acctk{}", random_lower(TOKEN_RANDOM_LEN)),
        library_id: state.identity.library_id.clone(),
        space_ids: request.space_ids,
        grants: request.grants,
        user_id: request.user_id,
        client_id: request.client_id,
        session_id: request.session_id,
        period,
        expires_ms: now_ms() + period * 1000,
    };
    state.db.lock().execute(
        "INSERT INTO smh_tokens (token, library_id, space_ids, grants, user_id, client_id, session_id, period, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            token.token, token.library_id, token.space_ids.join(","), token.grants.join(","),
            token.user_id, token.client_id, token.session_id, token.period, token.expires_ms
        ],
    )?;
    Ok(token)
}

/// The token if it exists, belongs to `library_id` and has not expired; its expiry then slides
/// to now + period (docs/smh-api.md §2.1: every use extends validity).
pub fn use_token(state: &AppState, library_id: &str, token: &str) -> SmhResult<Token> {
    let conn = state.db.lock();
    let found = conn
        .query_row(
            "SELECT token, library_id, space_ids, grants, user_id, client_id, session_id, period, expires_ms
             FROM smh_tokens WHERE token = ?1",
            [token],
            |r| {
                Ok(Token {
                    token: r.get(0)?,
                    library_id: r.get(1)?,
                    space_ids: split_list(r.get::<_, String>(2)?.as_str().into()),
                    grants: split_list(r.get::<_, String>(3)?.as_str().into()),
                    user_id: r.get(4)?,
                    client_id: r.get(5)?,
                    session_id: r.get(6)?,
                    period: r.get(7)?,
                    expires_ms: r.get(8)?,
                })
            },
        )
        .optional()?;
    let now = now_ms();
    let mut token = match found {
        Some(t) if t.library_id == library_id && t.expires_ms > now => t,
        _ => return Err(SmhError::InvalidAccessToken),
    };
    token.expires_ms = now + token.period * 1000;
    conn.execute("UPDATE smh_tokens SET expires_ms = ?1 WHERE token = ?2", params![token.expires_ms, token.token])?;
    Ok(token)
}

/// Deletes one token; `false` when it did not exist.
pub fn delete(state: &AppState, token: &str) -> SmhResult<bool> {
    Ok(state.db.lock().execute("DELETE FROM smh_tokens WHERE token = ?1", [token])? > 0)
}

/// Deletes the tokens of `user_id` (optionally only `client_ids` / `session_id`); returns how many.
pub fn delete_user_tokens(
    state: &AppState,
    user_id: Option<&str>,
    client_ids: &[String],
    session_id: Option<&str>,
) -> SmhResult<usize> {
    let conn = state.db.lock();
    let mut stmt =
        conn.prepare("SELECT token, client_id, session_id FROM smh_tokens WHERE IFNULL(user_id, '') = ?1")?;
    let rows = stmt
        .query_map([user_id.unwrap_or("")], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0;
    for (token, client, session) in rows {
        let client_ok = client_ids.is_empty() || client.as_ref().is_some_and(|c| client_ids.contains(c));
        let session_ok = session_id.is_none() || session.as_deref() == session_id;
        if client_ok && session_ok {
            deleted += conn.execute("DELETE FROM smh_tokens WHERE token = ?1", [&token])?;
        }
    }
    Ok(deleted)
}

/// Test hook: expires one token (`Some`) or all (`None`); returns how many.
pub fn expire(state: &AppState, token: Option<&str>) -> SmhResult<usize> {
    let conn = state.db.lock();
    let n = match token {
        Some(t) => conn.execute("UPDATE smh_tokens SET expires_ms = 0 WHERE token = ?1", [t])?,
        None => conn.execute("UPDATE smh_tokens SET expires_ms = 0", [])?,
    };
    Ok(n)
}

/// The token from `access_token=` or `Authorization: Bearer …` (docs/smh-api.md §2.4).
pub fn presented_token(headers: &HeaderMap, params: &Params) -> Option<String> {
    if let Some(t) = params.get("access_token") {
        return Some(t.to_string());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = auth.trim().split_once(' ')?;
    let value = value.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !value.is_empty()).then(|| value.to_string())
}

/// An authenticated call on one space.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: Token,
    pub space: Space,
    /// `user_id` of the token, or of the call for admin tokens minted without one.
    pub user_id: Option<String>,
}

impl Caller {
    /// 403 NoPermission unless the token holds one of `grants`.
    pub fn require(&self, grants: &[&str]) -> SmhResult<()> {
        if self.token.has_any(grants) {
            Ok(())
        } else {
            Err(SmhError::NoPermission)
        }
    }
}

/// The token check of every call but the token API's: 400 EmptyAccessToken, 403 InvalidAccessToken
/// (unknown, expired, other library), 403 AccessTokenNotMatchSpace, 404 SpaceNotFound.
pub fn authenticate_token(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    library_id: &str,
) -> SmhResult<Token> {
    let presented = presented_token(headers, params).ok_or(SmhError::EmptyAccessToken)?;
    use_token(state, library_id, &presented)
}

/// [`authenticate_token`] plus the space checks.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    library_id: &str,
    space_id: &str,
) -> SmhResult<Caller> {
    let token = authenticate_token(state, headers, params, library_id)?;
    let is_admin = token.has_any(&["admin"]);
    if token.space_ids.is_empty() {
        // docs/smh-api.md §2.1: in multi-tenant libraries space_id is optional only for admin tokens.
        if state.config.multi_tenant && !is_admin {
            return Err(SmhError::AccessTokenNotMatchSpace(space_id.to_string()));
        }
    } else if !token.space_ids.iter().any(|s| s == space_id) {
        return Err(SmhError::AccessTokenNotMatchSpace(space_id.to_string()));
    }
    let space = spaces::lookup(state, space_id)?;
    let user_id = token.user_id.clone().or_else(|| {
        // docs/smh-api.md §2.1: an admin token minted without user_id may name one per call.
        is_admin.then(|| params.get("user_id").map(String::from)).flatten()
    });
    Ok(Caller { token, space, user_id })
}
