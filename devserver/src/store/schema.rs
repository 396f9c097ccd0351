//! The store's SQLite tables (`cos_*`): metadata only, bytes are in files.

use rusqlite::Connection;

/// Creates the tables if missing. CRC-64 values are stored bit-cast to `i64`; header maps as
/// JSON objects; `file` columns are names relative to the objects/uploads directories. An
/// object's `file` is its one file when `segments` is 0, else a directory of that many files
/// (see `objects.rs`); its `sha256` is `''` until first asked for (`Store::object_sha256`).
pub(super) fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS cos_objects (
            key TEXT PRIMARY KEY,          -- BINARY collation: UTF-8 byte order, as COS lists
            file TEXT NOT NULL,
            size INTEGER NOT NULL,
            etag TEXT NOT NULL,
            crc64 INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            content_type TEXT NOT NULL,
            last_modified_ms INTEGER NOT NULL,
            headers TEXT NOT NULL,
            segments INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS cos_uploads (
            upload_id TEXT PRIMARY KEY,
            key TEXT NOT NULL,
            initiated_ms INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            headers TEXT NOT NULL,
            -- 'open', or 'completing' while Complete assembles (parts are then frozen)
            state TEXT NOT NULL DEFAULT 'open'
        );
        CREATE INDEX IF NOT EXISTS cos_uploads_by_key ON cos_uploads (key, initiated_ms);
        CREATE TABLE IF NOT EXISTS cos_parts (
            upload_id TEXT NOT NULL REFERENCES cos_uploads (upload_id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            file TEXT NOT NULL,
            size INTEGER NOT NULL,
            md5 BLOB NOT NULL,
            crc64 INTEGER NOT NULL,
            last_modified_ms INTEGER NOT NULL,
            PRIMARY KEY (upload_id, number)
        );
        CREATE TABLE IF NOT EXISTS cos_credentials (
            secret_id TEXT PRIMARY KEY,
            secret_key TEXT NOT NULL,
            token TEXT NOT NULL,
            start INTEGER NOT NULL,
            expires INTEGER NOT NULL,
            key TEXT NOT NULL,
            upload_id TEXT,
            owner TEXT NOT NULL,
            prefix TEXT                    -- NULL: an SMH upload key; else a bucket key (POST /credentials)
        );
        CREATE INDEX IF NOT EXISTS cos_credentials_by_owner ON cos_credentials (owner);",
    )?;
    add_column_if_missing(conn, "cos_credentials", "prefix", "TEXT")?;
    add_column_if_missing(conn, "cos_objects", "segments", "INTEGER NOT NULL DEFAULT 0")
}

/// Upgrades a data directory written by an older devserver (`CREATE TABLE IF NOT EXISTS` keeps
/// its old columns).
fn add_column_if_missing(conn: &Connection, table: &str, column: &str, kind: &str) -> rusqlite::Result<()> {
    let present =
        conn.prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?.exists([column])?;
    if !present {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_credentials_table_gains_prefix() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE cos_credentials (secret_id TEXT PRIMARY KEY, secret_key TEXT NOT NULL, token TEXT NOT NULL,
             start INTEGER NOT NULL, expires INTEGER NOT NULL, key TEXT NOT NULL, upload_id TEXT, owner TEXT NOT NULL);
             INSERT INTO cos_credentials VALUES ('AKIDtmpold', 'sk', 't', 0, 1, 'k', NULL, 'o');",
        )
        .unwrap();
        create(&conn).unwrap();
        create(&conn).unwrap();
        let prefix: Option<String> = conn.query_row("SELECT prefix FROM cos_credentials", [], |r| r.get(0)).unwrap();
        assert_eq!(prefix, None);
    }
}
