//! Whose directory `--data DIR` is.
//!
//! The store owns everything under its data directory: start-up empties `tmp/` and removes the
//! entries of `objects/` and `uploads/` that no row refers to (see [`crate::store`]). So the
//! devserver only ever works in a directory it marked as its own: a new or empty directory gets
//! the [`MARKER`] file first; a non-empty one without it is refused, naming the directory and
//! why, before a single file is touched (`--data .` in a project with its own `uploads/` must not
//! wipe it).
//!
//! A data directory written by a devserver from before the marker existed is adopted (marked)
//! when its `meta.sqlite` is the devserver's own database, recognised by its `identity` and
//! `cos_objects` tables: that file is only ever made by a devserver, so the directory is one.

use std::path::Path;

/// The file that marks a directory as a devserver data directory.
pub const MARKER: &str = ".smh-devserver-data";

/// What the marker says to whoever finds it.
const MARKER_TEXT: &str = "This directory is an smh-devserver data directory (SQLite metadata and object bytes).\n\
The devserver deletes files in it that its database does not know; keep nothing else here.\n";

/// The SQLite file of a data directory (see [`crate::db`]).
pub const DATABASE: &str = "meta.sqlite";

/// Why a directory cannot be the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "--data {dir}: the directory is not empty and is not an smh-devserver data directory (it has no {MARKER} \
         file). The devserver deletes files in its data directory that it did not write, so it only uses a new or \
         empty directory, or one it made; give another directory"
    )]
    NotOurs { dir: String },
    #[error("--data {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

/// Makes `dir` the devserver's data directory: creates it if missing, marks a new, empty or
/// older devserver's directory, and refuses anything else.
pub fn claim(dir: &Path) -> Result<(), DataDirError> {
    let io = |source| DataDirError::Io { dir: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    if dir.join(MARKER).is_file() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dir).map_err(io)?.next().is_none();
    if !empty && !is_older_devserver_dir(dir) {
        return Err(DataDirError::NotOurs { dir: dir.display().to_string() });
    }
    if !empty {
        tracing::warn!(dir = %dir.display(), "adopting a data directory made by an older smh-devserver (marking it)");
    }
    std::fs::write(dir.join(MARKER), MARKER_TEXT).map_err(io)
}

/// Whether `dir/meta.sqlite` is a devserver database (opened read-only: nothing is created).
fn is_older_devserver_dir(dir: &Path) -> bool {
    let path = dir.join(DATABASE);
    if !path.is_file() {
        return false;
    }
    let Ok(conn) = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return false;
    };
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('identity', 'cos_objects')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n == 2)
}
