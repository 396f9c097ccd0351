//! The bucket's contents: objects, multipart uploads and their parts, and the temporary COS
//! credentials that SMH hands out as upload authorisations.
//!
//! Bytes live in files under `{data}/objects` and `{data}/uploads`, each written to a temporary
//! file, fsync'ed, then renamed into place; the metadata row is committed only after the rename.
//! So after `kill -9` an object is either absent or whole — never truncated. Start-up removes
//! leftover temporary files.
//!
//! OWNER: the COS side. The SMH side only calls the functions below.
//! CONTRACT (the signatures are relied on by `smh`; extend, do not break):

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use futures_util::Stream;

use crate::db::Db;

/// Errors of store operations, each mapping to one COS error code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("part {0} is missing or its ETag does not match")]
    InvalidPart(u32),
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    #[error("part {0} is smaller than the minimum part size")]
    EntityTooSmall(u32),
    #[error("object or part exceeds the maximum size")]
    EntityTooLarge,
    #[error("Content-MD5 does not match the body")]
    BadDigest,
    #[error("body shorter or longer than Content-Length")]
    IncompleteBody,
    #[error("part number out of range 1..=10000")]
    InvalidPartNumber,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("db: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Metadata of a stored object.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Quoted: `"<md5 hex>"` or `"<hex>-<N>"` for multipart objects.
    pub etag: String,
    /// CRC-64/XZ (COS `x-cos-hash-crc64ecma`) of the whole object.
    pub crc64: u64,
    /// Lowercase hex SHA-256 of the whole object (for `/_dev/objects` and quick upload).
    pub sha256: String,
    pub content_type: String,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
    /// Stored response headers: `x-cos-meta-*`, Cache-Control, Content-Disposition,
    /// Content-Encoding, Expires (lowercase names).
    pub headers: BTreeMap<String, String>,
}

/// Metadata of one uploaded part.
#[derive(Debug, Clone)]
pub struct PartMeta {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub crc64: u64,
    pub last_modified_ms: i64,
}

/// An open multipart upload.
#[derive(Debug, Clone)]
pub struct MultipartInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content_type: String,
    pub headers: BTreeMap<String, String>,
}

/// What an upload authorisation may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// The one object key it may write.
    pub key: String,
    /// `Some(id)`: only UploadPart (and ListParts) of this multipart upload.
    /// `None`: only PutObject of `key`.
    pub upload_id: Option<String>,
    /// Who minted it (the SMH confirmKey), so that confirm/cancel can revoke them all.
    pub owner: String,
}

/// A temporary COS key pair with its session token (STS-like), bound to a [`CredentialScope`].
#[derive(Debug, Clone)]
pub struct TempCredential {
    pub secret_id: String,
    pub secret_key: String,
    pub token: String,
    /// Unix seconds.
    pub start: i64,
    /// Unix seconds.
    pub expires: i64,
    pub scope: CredentialScope,
}

/// Handle on the bucket's contents. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    #[allow(dead_code)]
    db: Db,
    #[allow(dead_code)]
    root: std::path::PathBuf,
}

pub type BodyStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

impl Store {
    /// Creates the schema and directories, removes leftover temporary files.
    pub fn open(db: Db, data_dir: &Path) -> Result<Store, StoreError> {
        Ok(Store { db, root: data_dir.to_path_buf() })
    }

    /// PutObject: streams `body` to a temp file (hashing MD5, CRC64, SHA-256 on the way), checks
    /// `expected_len` and `content_md5`, then fsync + rename + commit. Replaces an existing key.
    pub async fn put_object(
        &self,
        _key: &str,
        _content_type: &str,
        _headers: BTreeMap<String, String>,
        _body: BodyStream,
        _expected_len: u64,
        _content_md5: Option<[u8; 16]>,
    ) -> Result<ObjectMeta, StoreError> {
        todo!("store::put_object")
    }

    pub fn head(&self, _key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        todo!("store::head")
    }

    /// The file holding the object's bytes (immutable once written; read it outside any lock).
    pub fn object_path(&self, _key: &str) -> Result<Option<(ObjectMeta, std::path::PathBuf)>, StoreError> {
        todo!("store::object_path")
    }

    /// DeleteObject; `Ok(false)` when the key did not exist.
    pub fn delete_object(&self, _key: &str) -> Result<bool, StoreError> {
        todo!("store::delete_object")
    }

    /// Keys in byte order, strictly after `marker`, starting with `prefix`, at most `limit`.
    pub fn list_objects(&self, _prefix: &str, _marker: &str, _limit: usize) -> Result<Vec<ObjectMeta>, StoreError> {
        todo!("store::list_objects")
    }

    /// Server-side copy of `src` to `dst` (used by SMH quick upload). Whole or absent.
    pub async fn copy_object(&self, _src: &str, _dst: &str) -> Result<ObjectMeta, StoreError> {
        todo!("store::copy_object")
    }

    /// InitiateMultipartUpload; returns the UploadId (lowercase hex, ~64 chars).
    pub fn initiate_multipart(
        &self,
        _key: &str,
        _content_type: &str,
        _headers: BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        todo!("store::initiate_multipart")
    }

    /// UploadPart: like `put_object` for one part; re-uploading a number replaces it.
    pub async fn put_part(
        &self,
        _upload_id: &str,
        _part_number: u32,
        _body: BodyStream,
        _expected_len: u64,
        _content_md5: Option<[u8; 16]>,
    ) -> Result<PartMeta, StoreError> {
        todo!("store::put_part")
    }

    /// The upload and its parts ascending by number; `None` if unknown.
    pub fn list_parts(&self, _upload_id: &str) -> Result<Option<(MultipartInfo, Vec<PartMeta>)>, StoreError> {
        todo!("store::list_parts")
    }

    /// Open uploads whose key starts with `prefix`, sorted by key then initiation time.
    pub fn list_multipart_uploads(&self, _prefix: &str) -> Result<Vec<MultipartInfo>, StoreError> {
        todo!("store::list_multipart_uploads")
    }

    /// CompleteMultipartUpload. `parts` = (number, ETag to match or `None` = any) as the client
    /// listed them; validates order, existence, ETags and `min_part_size` for non-last parts,
    /// assembles into a temp file, fsync, rename, commits, consumes the upload.
    pub async fn complete_multipart(
        &self,
        _upload_id: &str,
        _parts: Vec<(u32, Option<String>)>,
        _min_part_size: u64,
    ) -> Result<ObjectMeta, StoreError> {
        todo!("store::complete_multipart")
    }

    /// AbortMultipartUpload; `Ok(false)` when unknown.
    pub fn abort_multipart(&self, _upload_id: &str) -> Result<bool, StoreError> {
        todo!("store::abort_multipart")
    }

    /// Mints a temporary credential for `scope`, valid from now-60 s to now+`ttl_secs`.
    pub fn mint_credential(&self, _scope: CredentialScope, _ttl_secs: i64) -> Result<TempCredential, StoreError> {
        todo!("store::mint_credential")
    }

    pub fn credential(&self, _secret_id: &str) -> Result<Option<TempCredential>, StoreError> {
        todo!("store::credential")
    }

    /// Revokes every credential minted by `owner` (on confirm / cancel).
    pub fn revoke_credentials(&self, _owner: &str) -> Result<(), StoreError> {
        todo!("store::revoke_credentials")
    }

    /// Test hook: every credential now counts as expired.
    pub fn expire_all_credentials(&self) -> Result<(), StoreError> {
        todo!("store::expire_all_credentials")
    }
}
