//! Objects: PutObject, HeadObject, GetObject's bytes, DeleteObject, listing, server-side copy,
//! and the SHA-256 `/_dev/objects` reports.
//!
//! Layout: a row's `file` names `objects/{file}`, which is the object's one file when
//! `segments` is 0, or a directory of `segments` files `00000`, `00001`, … holding the bytes in
//! that order (a completed multipart upload: its part files, linked, never copied).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Row};

use super::files::{blocking, BodyLength, TempFile};
use super::read::ObjectBytes;
use super::{now_ms, random_hex, BodyStream, ObjectMeta, Store, StoreError, MAX_PUT_OBJECT_SIZE};

const OBJECT_COLUMNS: &str = "key, size, etag, crc64, content_type, last_modified_ms, headers, file, segments";

/// Where an object's bytes are: `objects/{file}`, one file or a directory of `segments` files.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub file: String,
    pub segments: u32,
}

/// The name of segment `index` in a segmented object's directory.
pub(super) fn segment_name(index: usize) -> String {
    format!("{index:05}")
}

/// (meta, where) of a `SELECT {OBJECT_COLUMNS}` row.
fn object_from_row(r: &Row<'_>) -> rusqlite::Result<(ObjectMeta, Stored)> {
    let headers: String = r.get(6)?;
    Ok((
        ObjectMeta {
            key: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            etag: r.get(2)?,
            crc64: r.get::<_, i64>(3)? as u64,
            content_type: r.get(4)?,
            last_modified_ms: r.get(5)?,
            headers: headers_from_json(&headers),
        },
        Stored { file: r.get(7)?, segments: r.get(8)? },
    ))
}

pub(super) fn headers_to_json(headers: &BTreeMap<String, String>) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "{}".to_string())
}

pub(super) fn headers_from_json(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl Store {
    /// PutObject: streams `body` to a temp file (hashing MD5 and CRC-64 on the way), checks
    /// `expected_len` and `content_md5`, then rename + commit. Replaces an existing key.
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
        let (temp, hashes) = self.receive(body, length).await?;
        if content_md5.is_some_and(|md5| md5 != hashes.md5) {
            return Err(StoreError::BadDigest);
        }
        let meta = ObjectMeta {
            key: key.to_string(),
            size: hashes.size,
            etag: format!("\"{}\"", hex::encode(hashes.md5)),
            crc64: hashes.crc64,
            content_type: content_type.to_string(),
            last_modified_ms: now_ms(),
            headers,
        };
        let store = self.clone();
        blocking(move || store.commit_object(temp, 0, meta)).await
    }

    /// Renames `temp` (complete, holding `meta`'s bytes: one file, or a directory of
    /// `segments` files) into `objects/`, then commits the row, replacing any previous object of the key
    /// in one transaction; the replaced bytes are deleted afterwards. Blocking.
    pub(super) fn commit_object(
        &self,
        temp: TempFile,
        segments: u32,
        meta: ObjectMeta,
    ) -> Result<ObjectMeta, StoreError> {
        self.commit_object_with(temp, segments, meta, |_| Ok(()))
    }

    /// [`Store::commit_object`], running `also` in the same transaction (Complete consumes the
    /// upload there, so the object appears exactly when the upload disappears).
    pub(super) fn commit_object_with(
        &self,
        temp: TempFile,
        segments: u32,
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
                 (key, size, etag, crc64, sha256, content_type, last_modified_ms, headers, file, segments)
                 VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8, ?9)",
                params![
                    meta.key,
                    meta.size as i64,
                    meta.etag,
                    meta.crc64 as i64,
                    meta.content_type,
                    meta.last_modified_ms,
                    headers_to_json(&meta.headers),
                    file,
                    segments
                ],
            )?;
            also(&tx)?;
            tx.commit()?;
            Ok(old)
        })();
        match committed {
            Ok(old) => {
                if let Some(old) = old {
                    remove_stored(&self.objects_dir().join(old));
                }
                Ok(meta)
            }
            Err(e) => {
                remove_stored(&path);
                Err(e.into())
            }
        }
    }

    pub fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(self.object_row(key)?.map(|(meta, _)| meta))
    }

    fn object_row(&self, key: &str) -> Result<Option<(ObjectMeta, Stored)>, StoreError> {
        let conn = self.db.lock();
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM cos_objects WHERE key = ?1");
        Ok(conn.query_row(&sql, [key], object_from_row).optional()?)
    }

    /// The object's metadata and its bytes, opened while the row is read, so a concurrent
    /// replacement or delete cannot pull them away (the open handles keep them).
    pub fn open_object(&self, key: &str) -> Result<Option<(ObjectMeta, ObjectBytes)>, StoreError> {
        Ok(self.open_stored(key)?.map(|(meta, _, bytes)| (meta, bytes)))
    }

    /// [`Store::open_object`], also telling where the bytes are.
    fn open_stored(&self, key: &str) -> Result<Option<(ObjectMeta, Stored, ObjectBytes)>, StoreError> {
        let conn = self.db.lock();
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM cos_objects WHERE key = ?1");
        let Some((meta, stored)) = conn.query_row(&sql, [key], object_from_row).optional()? else {
            return Ok(None);
        };
        let files = self.stored_paths(&stored).iter().map(std::fs::File::open).collect::<Result<Vec<_>, _>>()?;
        drop(conn);
        let bytes = ObjectBytes::new(files, meta.size)?;
        Ok(Some((meta, stored, bytes)))
    }

    /// The files holding a stored object's bytes, in order.
    fn stored_paths(&self, stored: &Stored) -> Vec<PathBuf> {
        let path = self.objects_dir().join(&stored.file);
        if stored.segments == 0 {
            return vec![path];
        }
        (0..stored.segments as usize).map(|i| path.join(segment_name(i))).collect()
    }

    /// DeleteObject; `Ok(false)` when the key did not exist.
    pub fn delete_object(&self, key: &str) -> Result<bool, StoreError> {
        let file: Option<String> = {
            let conn = self.db.lock();
            conn.query_row("DELETE FROM cos_objects WHERE key = ?1 RETURNING file", [key], |r| r.get(0)).optional()?
        };
        match file {
            Some(file) => {
                remove_stored(&self.objects_dir().join(file));
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
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM cos_objects WHERE key > ?1 AND key >= ?2 ORDER BY key");
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
    ///
    /// The stored files are immutable, so the copy shares them: hard links, O(files) whatever
    /// the size. Where linking fails (the source was replaced meanwhile, or the file system has
    /// no hard links) the bytes are copied from the handles opened with the row.
    pub async fn copy_object(&self, src: &str, dst: &str) -> Result<ObjectMeta, StoreError> {
        let Some((meta, stored, bytes)) = self.open_stored(src)? else {
            return Err(StoreError::NoSuchKey);
        };
        let store = self.clone();
        let copy = ObjectMeta { key: dst.to_string(), last_modified_ms: now_ms(), ..meta };
        blocking(move || match store.link_stored(&stored) {
            Ok(temp) => store.commit_object(temp, stored.segments, copy),
            Err(e) => {
                tracing::debug!(error = %e, "store: copy by hard link failed, copying the bytes");
                let temp = store.new_temp();
                let mut out = std::fs::File::create_new(temp.path())?;
                let copied = std::io::copy(&mut bytes.into_reader(), &mut out)?;
                if copied != copy.size {
                    return Err(StoreError::Io(std::io::Error::other(format!(
                        "the source of {:?} yielded {copied} bytes, its row says {}",
                        copy.key, copy.size
                    ))));
                }
                store.commit_object(temp, 0, copy)
            }
        })
        .await
    }

    /// A temp file (or directory of segments) hard-linked to a stored object's files.
    fn link_stored(&self, stored: &Stored) -> std::io::Result<TempFile> {
        let source = self.objects_dir().join(&stored.file);
        if stored.segments == 0 {
            let temp = self.new_temp();
            std::fs::hard_link(&source, temp.path())?;
            return Ok(temp);
        }
        let temp = self.new_temp_dir()?;
        for i in 0..stored.segments as usize {
            std::fs::hard_link(source.join(segment_name(i)), temp.path().join(segment_name(i)))?;
        }
        Ok(temp)
    }

    /// Lowercase hex SHA-256 of the object's bytes, for `/_dev/objects` (not a COS field: COS
    /// stores no SHA-256). Computed from the stored bytes the first time it is asked for, then
    /// kept with the row, so no upload path spends a hashing pass on it; `None` if no such key.
    pub async fn object_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
        let cached: Option<(String, String)> = self
            .db
            .lock()
            .query_row("SELECT sha256, file FROM cos_objects WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match cached {
            None => return Ok(None),
            Some((sha256, _)) if !sha256.is_empty() => return Ok(Some(sha256)),
            Some(_) => {}
        }
        let Some((_, stored, bytes)) = self.open_stored(key)? else {
            return Ok(None);
        };
        let sha256 = blocking(move || {
            let mut reader = bytes.into_reader();
            let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
            let mut buf = vec![0u8; super::files::IO_BUFFER_BYTES];
            loop {
                match reader.read(&mut buf)? {
                    0 => break,
                    n => hasher.update(&buf[..n]),
                }
            }
            Ok(hex::encode(hasher.finish()))
        })
        .await?;
        // Only for the bytes hashed: a replacement meanwhile has another file.
        self.db.lock().execute(
            "UPDATE cos_objects SET sha256 = ?1 WHERE key = ?2 AND file = ?3",
            params![sha256, key, stored.file],
        )?;
        Ok(Some(sha256))
    }
}

/// Removes an object's bytes (a file or a directory of segments) that no row refers to any
/// more; a failure only leaks them until the next start-up sweep.
pub(super) fn remove_stored(path: &Path) {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    if let Err(e) = removed {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "store: could not remove replaced bytes");
        }
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
