//! The directory tree of each space in SQLite (`smh_nodes`): directories and confirmed files,
//! listing order, conflict resolution, and the quick-upload index.
//!
//! Every function takes the locked connection, so a caller can run several of them in one
//! critical section (check-then-insert without races). The root directory (`""`) is implicit.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::error::{SmhError, SmhResult};
use super::http::iso_ms;
use super::paths::{content_type_of, name_of, parent_of, renamed};

/// How many `name (n)` candidates rename tries before 409 RenameTooManyTimes.
pub const MAX_RENAME_ATTEMPTS: u32 = 1000;

/// conflict_resolution_strategy (docs/smh-api.md §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Ask,
    Rename,
    Overwrite,
}

impl Strategy {
    /// Parses the query value; `None` → `default`, unknown → 400 InvalidConflictResolutionStrategy.
    pub fn parse(value: Option<&str>, default: Strategy) -> SmhResult<Strategy> {
        match value {
            None => Ok(default),
            Some("ask") => Ok(Strategy::Ask),
            Some("rename") => Ok(Strategy::Rename),
            Some("overwrite") => Ok(Strategy::Overwrite),
            Some(_) => Err(SmhError::InvalidConflictResolutionStrategy),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Ask => "ask",
            Strategy::Rename => "rename",
            Strategy::Overwrite => "overwrite",
        }
    }
}

/// A directory or a confirmed file.
#[derive(Debug, Clone)]
pub struct Node {
    pub path: String,
    pub is_dir: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub object_key: Option<String>,
    pub size: u64,
    pub content_type: String,
    pub etag: String,
    /// Decimal CRC-64/XZ.
    pub crc64: String,
    /// `x-smh-meta-*` → value.
    pub meta: BTreeMap<String, String>,
}

/// A file about to be stored.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub path: String,
    pub object_key: String,
    pub size: u64,
    pub content_type: String,
    pub etag: String,
    pub crc64: u64,
    pub meta: BTreeMap<String, String>,
    /// Quick-upload hashes; `None` for files below the indexed size.
    pub hashes: Option<(String, String)>,
}

const NODE_COLUMNS: &str = "path, is_dir, created_ms, modified_ms, object_key, size, content_type, etag, crc64, meta";

fn node_from_row(r: &Row<'_>) -> rusqlite::Result<Node> {
    let meta: Option<String> = r.get(9)?;
    Ok(Node {
        path: r.get(0)?,
        is_dir: r.get(1)?,
        created_ms: r.get(2)?,
        modified_ms: r.get(3)?,
        object_key: r.get(4)?,
        size: r.get::<_, Option<i64>>(5)?.unwrap_or(0).max(0) as u64,
        content_type: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        etag: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        crc64: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        meta: meta.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
    })
}

pub fn get(conn: &Connection, space: &str, path: &str) -> rusqlite::Result<Option<Node>> {
    conn.query_row(
        &format!("SELECT {NODE_COLUMNS} FROM smh_nodes WHERE space_id = ?1 AND path = ?2"),
        params![space, path],
        node_from_row,
    )
    .optional()
}

/// Whether `path` is a directory (the root always is).
pub fn is_dir(conn: &Connection, space: &str, path: &str) -> rusqlite::Result<bool> {
    Ok(path.is_empty() || get(conn, space, path)?.is_some_and(|n| n.is_dir))
}

/// Which entries a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    All,
    OnlyDir,
    OnlyFile,
}

/// Children of `parent`, directories first then files, each by name (byte order), strictly after
/// `after` = (is_dir, name), at most `limit`.
pub fn list(
    conn: &Connection,
    space: &str,
    parent: &str,
    after: Option<(bool, &str)>,
    limit: usize,
    filter: ListFilter,
) -> rusqlite::Result<Vec<Node>> {
    // Sort key: (1 - is_dir, name) puts directories first.
    let (after_rank, after_name) = after.map_or((-1, ""), |(d, n)| (i64::from(!d), n));
    let filter_sql = match filter {
        ListFilter::All => "",
        ListFilter::OnlyDir => "AND is_dir = 1",
        ListFilter::OnlyFile => "AND is_dir = 0",
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {NODE_COLUMNS} FROM smh_nodes
         WHERE space_id = ?1 AND parent = ?2 AND (1 - is_dir, name) > (?3, ?4) {filter_sql}
         ORDER BY 1 - is_dir, name LIMIT ?5"
    ))?;
    let rows = stmt.query_map(params![space, parent, after_rank, after_name, limit as i64], node_from_row)?;
    rows.collect()
}

pub fn insert_dir(conn: &Connection, space: &str, path: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO smh_nodes (space_id, path, parent, name, is_dir, created_ms, modified_ms)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
        params![space, path, parent_of(path), name_of(path), now],
    )?;
    Ok(())
}

/// Inserts `file`, replacing a file at the same path (its creation time is kept).
pub fn put_file(conn: &Connection, space: &str, file: &NewFile, now: i64) -> rusqlite::Result<Node> {
    let (beginning, full) = file.hashes.clone().unzip();
    let meta = serde_json::to_string(&file.meta).unwrap_or_else(|_| "{}".to_string());
    conn.execute(
        "INSERT INTO smh_nodes (space_id, path, parent, name, is_dir, created_ms, modified_ms, object_key,
                                size, content_type, etag, crc64, meta, beginning_hash, full_hash)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (space_id, path) DO UPDATE SET modified_ms = excluded.modified_ms,
             object_key = excluded.object_key, size = excluded.size, content_type = excluded.content_type,
             etag = excluded.etag, crc64 = excluded.crc64, meta = excluded.meta,
             beginning_hash = excluded.beginning_hash, full_hash = excluded.full_hash",
        params![
            space,
            file.path,
            parent_of(&file.path),
            name_of(&file.path),
            now,
            file.object_key,
            file.size as i64,
            file.content_type,
            file.etag,
            file.crc64.to_string(),
            meta,
            beginning,
            full
        ],
    )?;
    get(conn, space, &file.path)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Deletes `path` and everything under it; returns the object keys of the deleted files.
pub fn delete_subtree(conn: &Connection, space: &str, path: &str) -> rusqlite::Result<Vec<String>> {
    let prefix = format!("{path}/");
    let keys = {
        let mut stmt = conn.prepare(
            "SELECT object_key FROM smh_nodes WHERE space_id = ?1 AND (path = ?2 OR substr(path, 1, length(?3)) = ?3)
             AND object_key IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![space, path, prefix], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    conn.execute(
        "DELETE FROM smh_nodes WHERE space_id = ?1 AND (path = ?2 OR substr(path, 1, length(?3)) = ?3)",
        params![space, path, prefix],
    )?;
    Ok(keys)
}

/// The object key of a stored file with this size and these hashes (`full` = `None`: any).
pub fn quick_candidate(
    conn: &Connection,
    size: u64,
    beginning: &str,
    full: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT object_key FROM smh_nodes WHERE size = ?1 AND beginning_hash = ?2
         AND (?3 IS NULL OR full_hash = ?3) AND object_key IS NOT NULL LIMIT 1",
        params![size as i64, beginning, full],
        |r| r.get(0),
    )
    .optional()
}

/// Bytes held by the files of `space`.
pub fn space_usage(conn: &Connection, space: &str) -> rusqlite::Result<u64> {
    let used: i64 = conn.query_row(
        "SELECT IFNULL(SUM(size), 0) FROM smh_nodes WHERE space_id = ?1 AND is_dir = 0",
        [space],
        |r| r.get(0),
    )?;
    Ok(used.max(0) as u64)
}

/// `(space, path)` of the file stored under `object_key`.
pub fn file_of_object(conn: &Connection, object_key: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row("SELECT space_id, path FROM smh_nodes WHERE object_key = ?1 LIMIT 1", [object_key], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

/// Where a new entry named `name` under `parent` goes under `strategy`: the final path, and
/// whether it replaces an existing file.
pub fn resolve_conflict(
    conn: &Connection,
    space: &str,
    parent: &str,
    name: &str,
    is_dir: bool,
    strategy: Strategy,
) -> SmhResult<(String, bool)> {
    let path_for = |n: &str| if parent.is_empty() { n.to_string() } else { format!("{parent}/{n}") };
    let path = path_for(name);
    let Some(existing) = get(conn, space, &path)? else {
        return Ok((path, false));
    };
    match strategy {
        Strategy::Ask => Err(SmhError::SameNameDirectoryOrFileExists(path)),
        Strategy::Overwrite if existing.is_dir || is_dir => Err(SmhError::SameNameDirectoryOrFileExists(path)),
        Strategy::Overwrite => Ok((path, true)),
        Strategy::Rename => {
            for n in 1..=MAX_RENAME_ATTEMPTS {
                let candidate = path_for(&renamed(name, n, is_dir));
                if get(conn, space, &candidate)?.is_none() {
                    return Ok((candidate, false));
                }
            }
            Err(SmhError::RenameTooManyTimes(path))
        }
    }
}

/// The `type` SMH reports: media libraries classify images and videos, file libraries say `file`
/// (docs/smh-api.md §4.2).
pub fn file_type(name: &str, media_library: bool) -> &'static str {
    if media_library {
        content_type_of(name).1
    } else {
        "file"
    }
}

/// A listing entry (docs/smh-api.md §4.2).
pub fn entry_json(node: &Node, media_library: bool) -> Value {
    let name = name_of(&node.path);
    if node.is_dir {
        return json!({
            "name": name, "type": "dir",
            "creationTime": iso_ms(node.created_ms), "modificationTime": iso_ms(node.modified_ms),
        });
    }
    json!({
        "name": name, "type": file_type(name, media_library),
        "creationTime": iso_ms(node.created_ms), "modificationTime": iso_ms(node.modified_ms),
        "contentType": node.content_type, "size": node.size.to_string(), "eTag": node.etag,
        "crc64": node.crc64, "metaData": node.meta,
    })
}

/// File info, also the body of confirm and of quick-upload 200 (docs/smh-api.md §5.6, §6).
pub fn info_json(node: &Node, media_library: bool) -> Value {
    let mut value = entry_json(node, media_library);
    let segments: Vec<&str> = if node.path.is_empty() { Vec::new() } else { node.path.split('/').collect() };
    value["path"] = json!(segments);
    value
}
