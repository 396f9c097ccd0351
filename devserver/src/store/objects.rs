//! Objects: PutObject, HeadObject, GetObject's file, DeleteObject, listing, server-side copy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension, Row};

use super::files::{blocking, BodyLength, TempFile};
use super::{now_ms, random_hex, BodyStream, ObjectMeta, Store, StoreError, MAX_PUT_OBJECT_SIZE};

const OBJECT_COLUMNS: &str =
    "key, size, etag, crc64, sha256, content_type, last_modified_ms, headers, file";

/// (meta, file name) of a `SELECT {OBJECT_COLUMNS}` row.
fn object_from_row(r: &Row<'_>) -> rusqlite::Result<(ObjectMeta, String)> {
    let headers: String = r.get(7)?;
    Ok((
        ObjectMeta {
            key: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            etag: r.get(2)?,
            crc64: r.get::<_, i64>(3)? as u64,
            sha256: r.get(4)?,
            content_type: r.get(5)?,
            last_modified_ms: r.get(6)?,
            headers: headers_from_json(&headers),
        },
        r.get(8)?,
    ))
}

pub(super) fn headers_to_json(headers: &BTreeMap<String, String>) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "{}".to_string())
}

pub(super) fn headers_from_json(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl Store {
    /// PutObject: streams `body` to a temp file (hashing MD5, CRC64, SHA-256 on the way), checks
    /// `expected_len` and `content_md5`, then fsync + rename + commit. Replaces an existing key.
    pub async fn put_object(
        &self,
        key: &str,
        content_type: &str,
        headers: BTreeMap<String, String>,
        body: BodyStream,
        expected_len: u64,
        content_md5: Option<[u8; 16]>,
    ) -> Result<ObjectMeta, StoreError> {
        self.put_object_with_length(key, content_type, headers, body, BodyLength::Exactly(expected_len), content_md5)
            .await
    }

    /// [`Store::put_object`] for a body whose length is only bounded (PostObject's file);
    /// nothing is stored unless the length is right.
    pub async fn put_object_with_length(
        &self,
        key: &str,
        content_type: &str,
        headers: BTreeMap<String, String>,
        body: BodyStream,
        length: BodyLength,
        content_md5: Option<[u8; 16]>,
    ) -> Result<ObjectMeta, StoreError> {
        let length = match length {
            BodyLength::Exactly(n) if n > MAX_PUT_OBJECT_SIZE => return Err(StoreError::EntityTooLarge),
            BodyLength::Between(min, max) => BodyLength::Between(min, max.min(MAX_PUT_OBJECT_SIZE)),
            exactly => exactly,
        };
        let (temp, hashes) = self.receive(body, length, true).await?;
        if content_md5.is_some_and(|md5| md5 != hashes.md5) {
            return Err(StoreError::BadDigest);
        }
        let meta = ObjectMeta {
            key: key.to_string(),
            size: hashes.size,
            etag: format!("\"{}\"", hex::encode(hashes.md5)),
            crc64: hashes.crc64,
            sha256: hashes.sha256.unwrap_or_default(),
            content_type: content_type.to_string(),
            last_modified_ms: now_ms(),
            headers,
        };
        let store = self.clone();
        blocking(move || store.commit_object(temp, meta)).await
    }

    /// Renames `temp` (fsync'ed, holding `meta`'s bytes) into `objects/`, then commits the row,
    /// replacing any previous object of the key in one transaction; the replaced file is
    /// deleted afterwards. Blocking.
    pub(super) fn commit_object(&self, temp: TempFile, meta: ObjectMeta) -> Result<ObjectMeta, StoreError> {
        self.commit_object_with(temp, meta, |_| Ok(()))
    }

    /// [`Store::commit_object`], running `also` in the same transaction (Complete consumes the
    /// upload there, so the object appears exactly when the upload disappears).
    pub(super) fn commit_object_with(
        &self,
        temp: TempFile,
        meta: ObjectMeta,
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<ObjectMeta, StoreError> {
        let file = random_hex(16);
        let path = self.objects_dir().join(&file);
        temp.persist(&path)?;
        let committed = (|| -> rusqlite::Result<Option<String>> {
            let mut conn = self.db.lock();
            let tx = conn.transaction()?;
            let old: Option<String> =
                tx.query_row("SELECT file FROM cos_objects WHERE key = ?1", [&meta.key], |r| r.get(0)).optional()?;
            tx.execute(
                "INSERT OR REPLACE INTO cos_objects
                 (key, size, etag, crc64, sha256, content_type, last_modified_ms, headers, file)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    meta.key,
                    meta.size as i64,
                    meta.etag,
                    meta.crc64 as i64,
                    meta.sha256,
                    meta.content_type,
                    meta.last_modified_ms,
                    headers_to_json(&meta.headers),
                    file
                ],
            )?;
            also(&tx)?;
            tx.commit()?;
            Ok(old)
        })();
        match committed {
            Ok(old) => {
                if let Some(old) = old {
                    remove_if_exists(self.objects_dir().join(old));
                }
                Ok(meta)
            }
            Err(e) => {
                remove_if_exists(path);
                Err(e.into())
            }
        }
    }

    pub fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(self.object_row(key)?.map(|(meta, _)| meta))
    }

    fn object_row(&self, key: &str) -> Result<Option<(ObjectMeta, String)>, StoreError> {
        let conn = self.db.lock();
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM cos_objects WHERE key = ?1");
        Ok(conn.query_row(&sql, [key], object_from_row).optional()?)
    }

    /// The file holding the object's bytes (immutable once written; read it outside any lock).
    ///
    /// A concurrent replacement may delete this file before the caller opens it; use
    /// [`Store::open_object`] to get bytes that stay readable.
    pub fn object_path(&self, key: &str) -> Result<Option<(ObjectMeta, PathBuf)>, StoreError> {
        Ok(self.object_row(key)?.map(|(meta, file)| (meta, self.objects_dir().join(file))))
    }

    /// The object's metadata and its file, opened while the row is read, so a concurrent
    /// replacement or delete cannot pull the bytes away (the open handle keeps them).
    pub fn open_object(&self, key: &str) -> Result<Option<(ObjectMeta, std::fs::File)>, StoreError> {
        let conn = self.db.lock();
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM cos_objects WHERE key = ?1");
        let Some((meta, file)) = conn.query_row(&sql, [key], object_from_row).optional()? else {
            return Ok(None);
        };
        let handle = std::fs::File::open(self.objects_dir().join(file))?;
        drop(conn);
        Ok(Some((meta, handle)))
    }

    /// DeleteObject; `Ok(false)` when the key did not exist.
    pub fn delete_object(&self, key: &str) -> Result<bool, StoreError> {
        let file: Option<String> = {
            let conn = self.db.lock();
            conn.query_row("DELETE FROM cos_objects WHERE key = ?1 RETURNING file", [key], |r| r.get(0))
                .optional()?
        };
        match file {
            Some(file) => {
                remove_if_exists(self.objects_dir().join(file));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Keys in byte order, strictly after `marker`, starting with `prefix`, at most `limit`.
    pub fn list_objects(&self, prefix: &str, marker: &str, limit: usize) -> Result<Vec<ObjectMeta>, StoreError> {
        let conn = self.db.lock();
        // Keys with `prefix` are contiguous from `prefix` on in byte order: start there and
        // stop at the first key without it.
        let sql = format!(
            "SELECT {OBJECT_COLUMNS} FROM cos_objects WHERE key > ?1 AND key >= ?2 ORDER BY key"
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params![marker, prefix])?;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(row) = rows.next()? else { break };
            let (meta, _) = object_from_row(row)?;
            if !meta.key.starts_with(prefix) {
                break;
            }
            out.push(meta);
        }
        Ok(out)
    }

    /// Every object, in key order.
    pub fn list_all_objects(&self) -> Result<Vec<ObjectMeta>, StoreError> {
        self.list_objects("", "", usize::MAX)
    }

    /// Server-side copy of `src` to `dst` (used by SMH quick upload). Whole or absent.
    pub async fn copy_object(&self, src: &str, dst: &str) -> Result<ObjectMeta, StoreError> {
        let Some((meta, mut source)) = self.open_object(src)? else {
            return Err(StoreError::NoSuchKey);
        };
        let store = self.clone();
        let dst = dst.to_string();
        blocking(move || {
            let temp = store.new_temp();
            let mut out = std::fs::File::create_new(temp.path())?;
            let copied = std::io::copy(&mut source, &mut out)?;
            out.sync_all()?;
            if copied != meta.size {
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "object file of {:?} has {copied} bytes, its row says {}",
                    meta.key, meta.size
                ))));
            }
            let copy = ObjectMeta { key: dst, last_modified_ms: now_ms(), ..meta };
            store.commit_object(temp, copy)
        })
        .await
    }
}

/// Removes a file that is no longer referenced; a failure only leaks it until the next sweep.
pub(super) fn remove_if_exists(path: PathBuf) {
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "store: could not remove a replaced file");
        }
    }
}
