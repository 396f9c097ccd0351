//! Multipart uploads: initiate, parts (files `uploads/{upload_id}/{number}-{random}`), list,
//! complete (the part files become the object's segments, linked, not copied), abort.
//!
//! While Complete assembles, the upload's state is `completing`: its parts are frozen (UploadPart
//! and Abort answer NoSuchUpload), so the files being linked cannot be replaced under it. A crash
//! then leaves the upload `completing` on disk; start-up reopens it ([`Store::open`]).

use std::collections::{BTreeMap, HashMap};

use md5::{Digest as _, Md5};
use rusqlite::{params, OptionalExtension, Row};

use super::files::{blocking, BodyLength};
use super::objects::{headers_from_json, headers_to_json, remove_if_exists, segment_name};
use super::{
    crc64_combine, etag_unquoted, now_ms, random_hex, BodyStream, MultipartInfo, ObjectMeta, PartMeta, Store,
    StoreError, MAX_PART_NUMBER, MAX_PART_SIZE,
};

const UPLOAD_COLUMNS: &str = "upload_id, key, initiated_ms, content_type, headers";

fn upload_from_row(r: &Row<'_>) -> rusqlite::Result<MultipartInfo> {
    let headers: String = r.get(4)?;
    Ok(MultipartInfo {
        upload_id: r.get(0)?,
        key: r.get(1)?,
        initiated_ms: r.get(2)?,
        content_type: r.get(3)?,
        headers: headers_from_json(&headers),
    })
}

/// A stored part as Complete needs it.
struct StoredPart {
    meta: PartMeta,
    md5: [u8; 16],
    file: String,
}

fn part_from_row(r: &Row<'_>) -> rusqlite::Result<StoredPart> {
    let md5: Vec<u8> = r.get(2)?;
    let md5: [u8; 16] = md5.try_into().unwrap_or_default();
    Ok(StoredPart {
        meta: PartMeta {
            number: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            etag: format!("\"{}\"", hex::encode(md5)),
            crc64: r.get::<_, i64>(3)? as u64,
            last_modified_ms: r.get(4)?,
        },
        md5,
        file: r.get(5)?,
    })
}

fn stored_parts(conn: &rusqlite::Connection, upload_id: &str) -> rusqlite::Result<Vec<StoredPart>> {
    conn.prepare(
        "SELECT number, size, md5, crc64, last_modified_ms, file FROM cos_parts
         WHERE upload_id = ?1 ORDER BY number",
    )?
    .query_map([upload_id], part_from_row)?
    .collect()
}

/// `Some(is_open)` of an upload, `None` when unknown.
fn upload_state(conn: &rusqlite::Connection, upload_id: &str) -> rusqlite::Result<Option<bool>> {
    conn.query_row("SELECT state = 'open' FROM cos_uploads WHERE upload_id = ?1", [upload_id], |r| r.get(0)).optional()
}

/// The S3-style multipart ETag: `"hex(md5(concat of binary part MD5s))-N"` (docs/cos-api.md §2.8).
/// Unconfirmed: docs/devserver-fidelity.md#cos-multipart-etag
fn multipart_etag(md5s: &[[u8; 16]]) -> String {
    let mut md5 = Md5::new();
    for part in md5s {
        md5.update(part);
    }
    format!("\"{}-{}\"", hex::encode(md5.finalize()), md5s.len())
}

impl Store {
    /// InitiateMultipartUpload; returns the UploadId (64 lowercase hex chars).
    pub fn initiate_multipart(
        &self,
        key: &str,
        content_type: &str,
        headers: BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let upload_id = random_hex(32);
        std::fs::create_dir_all(self.upload_dir(&upload_id))?;
        let conn = self.db.lock();
        conn.execute(
            "INSERT INTO cos_uploads (upload_id, key, initiated_ms, content_type, headers) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![upload_id, key, now_ms(), content_type, headers_to_json(&headers)],
        )?;
        Ok(upload_id)
    }

    /// UploadPart: like `put_object` for one part; re-uploading a number replaces it.
    pub async fn put_part(
        &self,
        upload_id: &str,
        part_number: u32,
        body: BodyStream,
        expected_len: u64,
        content_md5: Option<[u8; 16]>,
    ) -> Result<PartMeta, StoreError> {
        if !(1..=MAX_PART_NUMBER).contains(&part_number) {
            return Err(StoreError::InvalidPartNumber);
        }
        if expected_len > MAX_PART_SIZE {
            return Err(StoreError::EntityTooLarge);
        }
        if upload_state(&self.db.lock(), upload_id)? != Some(true) {
            return Err(StoreError::NoSuchUpload);
        }
        let (temp, hashes) = self.receive(body, BodyLength::Exactly(expected_len)).await?;
        if content_md5.is_some_and(|md5| md5 != hashes.md5) {
            return Err(StoreError::BadDigest);
        }
        let store = self.clone();
        let upload_id = upload_id.to_string();
        blocking(move || {
            let file = format!("{part_number:05}-{}", random_hex(4));
            let path = store.upload_dir(&upload_id).join(&file);
            match temp.persist(&path) {
                Ok(()) => {}
                // Aborted or completed meanwhile: the directory is gone.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NoSuchUpload),
                Err(e) => return Err(e.into()),
            }
            let meta = PartMeta {
                number: part_number,
                size: hashes.size,
                etag: format!("\"{}\"", hex::encode(hashes.md5)),
                crc64: hashes.crc64,
                last_modified_ms: now_ms(),
            };
            let committed = (|| -> Result<Option<String>, StoreError> {
                let mut conn = store.db.lock();
                let tx = conn.transaction()?;
                if upload_state(&tx, &upload_id)? != Some(true) {
                    return Err(StoreError::NoSuchUpload);
                }
                let old: Option<String> = tx
                    .query_row(
                        "SELECT file FROM cos_parts WHERE upload_id = ?1 AND number = ?2",
                        params![upload_id, part_number],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute(
                    "INSERT OR REPLACE INTO cos_parts (upload_id, number, file, size, md5, crc64, last_modified_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        upload_id,
                        part_number,
                        file,
                        meta.size as i64,
                        &hashes.md5[..],
                        meta.crc64 as i64,
                        meta.last_modified_ms
                    ],
                )?;
                tx.commit()?;
                Ok(old)
            })();
            match committed {
                Ok(old) => {
                    if let Some(old) = old {
                        remove_if_exists(store.upload_dir(&upload_id).join(old));
                    }
                    Ok(meta)
                }
                Err(e) => {
                    remove_if_exists(path);
                    Err(e)
                }
            }
        })
        .await
    }

    /// The upload (without its parts); `None` if unknown.
    pub fn upload(&self, upload_id: &str) -> Result<Option<MultipartInfo>, StoreError> {
        let conn = self.db.lock();
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM cos_uploads WHERE upload_id = ?1");
        Ok(conn.query_row(&sql, [upload_id], upload_from_row).optional()?)
    }

    /// The upload and its parts ascending by number; `None` if unknown.
    pub fn list_parts(&self, upload_id: &str) -> Result<Option<(MultipartInfo, Vec<PartMeta>)>, StoreError> {
        let Some(info) = self.upload(upload_id)? else {
            return Ok(None);
        };
        let conn = self.db.lock();
        let parts = stored_parts(&conn, upload_id)?.into_iter().map(|p| p.meta).collect();
        Ok(Some((info, parts)))
    }

    /// Open uploads whose key starts with `prefix`, sorted by key then initiation time.
    pub fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartInfo>, StoreError> {
        let conn = self.db.lock();
        let sql =
            format!("SELECT {UPLOAD_COLUMNS} FROM cos_uploads WHERE key >= ?1 ORDER BY key, initiated_ms, upload_id");
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([prefix])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let info = upload_from_row(row)?;
            if !info.key.starts_with(prefix) {
                break;
            }
            out.push(info);
        }
        Ok(out)
    }

    /// CompleteMultipartUpload. `parts` = (number, ETag to match or `None` = any) as the client
    /// listed them; validates order, existence, ETags and `min_part_size` for non-last parts,
    /// makes the listed parts the object (no byte copied or read, see `assemble`), commits,
    /// consumes the upload. Parts not listed are deleted with the upload.
    ///
    /// When `expected_crc64` is given and differs from the assembled bytes' CRC, returns
    /// [`StoreError::BadCrc64`] and leaves the upload open and no object written.
    pub async fn complete_multipart(
        &self,
        upload_id: &str,
        parts: Vec<(u32, Option<String>)>,
        min_part_size: u64,
        expected_crc64: Option<u64>,
    ) -> Result<ObjectMeta, StoreError> {
        let (info, chosen) = self.freeze_for_complete(upload_id, &parts, min_part_size)?;
        let store = self.clone();
        let upload_id = upload_id.to_string();
        let result = blocking({
            let store = store.clone();
            let upload_id = upload_id.clone();
            move || store.assemble(&upload_id, info, chosen, expected_crc64)
        })
        .await;
        if result.is_err() {
            // Reopen it: the client may fix and retry (or the CRC check asked us to keep it).
            let conn = store.db.lock();
            if let Err(e) = conn.execute(
                "UPDATE cos_uploads SET state = 'open' WHERE upload_id = ?1 AND state = 'completing'",
                [&upload_id],
            ) {
                tracing::error!(error = %e, "store: could not reopen upload after a failed Complete");
            }
        }
        result
    }

    /// Validates Complete's part list against the stored parts and marks the upload
    /// `completing`; returns the upload and the chosen parts in order.
    fn freeze_for_complete(
        &self,
        upload_id: &str,
        parts: &[(u32, Option<String>)],
        min_part_size: u64,
    ) -> Result<(MultipartInfo, Vec<StoredPart>), StoreError> {
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM cos_uploads WHERE upload_id = ?1 AND state = 'open'");
        let Some(info) = tx.query_row(&sql, [upload_id], upload_from_row).optional()? else {
            return Err(StoreError::NoSuchUpload);
        };
        if parts.is_empty() {
            return Err(StoreError::InvalidPart(0));
        }
        if parts.windows(2).any(|w| w[1].0 <= w[0].0) {
            return Err(StoreError::InvalidPartOrder);
        }
        let mut stored: HashMap<u32, StoredPart> =
            stored_parts(&tx, upload_id)?.into_iter().map(|p| (p.meta.number, p)).collect();
        let mut chosen = Vec::with_capacity(parts.len());
        for (number, etag) in parts {
            let part = stored.remove(number).ok_or(StoreError::InvalidPart(*number))?;
            if etag.as_deref().is_some_and(|etag| etag_unquoted(etag) != etag_unquoted(&part.meta.etag)) {
                return Err(StoreError::InvalidPart(*number));
            }
            chosen.push(part);
        }
        if let Some(small) = chosen[..chosen.len() - 1].iter().find(|p| p.meta.size < min_part_size) {
            return Err(StoreError::EntityTooSmall(small.meta.number));
        }
        tx.execute("UPDATE cos_uploads SET state = 'completing' WHERE upload_id = ?1", [upload_id])?;
        tx.commit()?;
        Ok((info, chosen))
    }

    /// Makes the parts the object without copying or reading a byte: their files are
    /// hard-linked, in order, into a new directory that becomes the object's (O(parts)); the
    /// size and CRC-64 come from the part rows (CRC-64 combined, [`crc64_combine`]). Checks the
    /// CRC, commits the object and consumes the upload in one transaction. Blocking.
    fn assemble(
        &self,
        upload_id: &str,
        info: MultipartInfo,
        parts: Vec<StoredPart>,
        expected_crc64: Option<u64>,
    ) -> Result<ObjectMeta, StoreError> {
        let size: u64 = parts.iter().map(|p| p.meta.size).sum();
        let crc64 = parts.iter().fold(0, |crc, p| crc64_combine(crc, p.meta.crc64, p.meta.size));
        if expected_crc64.is_some_and(|expected| expected != crc64) {
            return Err(StoreError::BadCrc64 { actual: crc64 });
        }
        let temp = self.new_temp_dir()?;
        for (index, part) in parts.iter().enumerate() {
            let source = self.upload_dir(upload_id).join(&part.file);
            let on_disk = std::fs::metadata(&source)?.len();
            if on_disk != part.meta.size {
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "part file {} has {on_disk} bytes, its row says {}",
                    part.file, part.meta.size
                ))));
            }
            link_or_copy(&source, &temp.path().join(segment_name(index)))?;
        }
        let md5s: Vec<[u8; 16]> = parts.iter().map(|p| p.md5).collect();
        let meta = ObjectMeta {
            key: info.key,
            size,
            etag: multipart_etag(&md5s),
            crc64,
            content_type: info.content_type,
            last_modified_ms: now_ms(),
            headers: info.headers,
        };
        let segments = u32::try_from(parts.len()).map_err(|_| StoreError::InvalidPart(MAX_PART_NUMBER))?;
        let meta = self.commit_object_with(temp, segments, meta, |tx| {
            tx.execute("DELETE FROM cos_parts WHERE upload_id = ?1", [upload_id])?;
            tx.execute("DELETE FROM cos_uploads WHERE upload_id = ?1", [upload_id])?;
            Ok(())
        })?;
        if let Err(e) = std::fs::remove_dir_all(self.upload_dir(upload_id)) {
            tracing::warn!(error = %e, "store: could not remove a completed upload's parts");
        }
        Ok(meta)
    }

    /// AbortMultipartUpload; `Ok(false)` when unknown — or while a Complete of it is running
    /// (then the Complete wins). Unconfirmed: docs/devserver-fidelity.md#cos-abort-during-complete
    pub fn abort_multipart(&self, upload_id: &str) -> Result<bool, StoreError> {
        let removed = {
            let mut conn = self.db.lock();
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM cos_parts WHERE upload_id = ?1 AND EXISTS (SELECT 1 FROM cos_uploads WHERE upload_id = ?1 AND state = 'open')", [upload_id])?;
            let removed = tx.execute("DELETE FROM cos_uploads WHERE upload_id = ?1 AND state = 'open'", [upload_id])?;
            tx.commit()?;
            removed > 0
        };
        if removed {
            if let Err(e) = std::fs::remove_dir_all(self.upload_dir(upload_id)) {
                tracing::warn!(error = %e, "store: could not remove an aborted upload's parts");
            }
        }
        Ok(removed)
    }
}

/// A second name for an immutable part file (its bytes stay where UploadPart wrote them);
/// where the file system has no hard links, a copy.
fn link_or_copy(source: &std::path::Path, dest: &std::path::Path) -> std::io::Result<()> {
    match std::fs::hard_link(source, dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "store: no hard link for a part file, copying it");
            std::fs::copy(source, dest).map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_is_md5_of_binary_md5s() {
        // md5("a") and md5("b"), binary, concatenated, then md5'ed again (S3 convention).
        let a: [u8; 16] = Md5::digest(b"a").into();
        let b: [u8; 16] = Md5::digest(b"b").into();
        let mut cat = a.to_vec();
        cat.extend_from_slice(&b);
        let expected = format!("\"{}-2\"", hex::encode(Md5::digest(&cat)));
        assert_eq!(multipart_etag(&[a, b]), expected);
    }
}
