//! The bucket's contents: objects, multipart uploads and their parts, and the temporary COS
//! credentials that SMH hands out as upload authorisations.
//!
//! Bytes live in files under `{data}/objects` and `{data}/uploads/{upload_id}`, each written to
//! a temporary file under `{data}/tmp`, then renamed into place; the metadata row is committed
//! only after the rename. So after `kill -9` an object is either absent or whole — never
//! truncated. (Nothing is fsync'ed: a machine crash is out of scope, see `files.rs`.) Start-up removes leftover temporary files and files no row refers to.
//!
//! A completed multipart object is not copied into one file: its part files are hard-linked, in
//! order, into a directory under `{data}/objects` (O(parts), as real COS completes without
//! copying bytes), its CRC-64 is combined from the part CRCs ([`crc64_combine`]), and every
//! reader sees the concatenation ([`ObjectBytes`]).
//!
//! Every stored file has a fresh random name and is never written again after the rename, so a
//! reader that opened it keeps consistent bytes while a replacement is committed; the replaced
//! file is deleted only after the new row is committed (see [`Store::open_object`]). The same
//! immutability lets a copy share the files (hard links, [`Store::copy_object`]).
//!
//! OWNER: the COS side. The SMH side only calls the functions below.
//! CONTRACT (the signatures are relied on by `smh`; extend, do not break):
//!
//! - objects: [`Store::put_object`], [`Store::head`], [`Store::open_object`] (→ [`ObjectBytes`]),
//!   [`Store::delete_object`], [`Store::list_objects`], [`Store::list_all_objects`],
//!   [`Store::copy_object`], [`Store::object_sha256`]
//! - multipart: [`Store::initiate_multipart`], [`Store::put_part`], [`Store::list_parts`],
//!   [`Store::list_multipart_uploads`], [`Store::complete_multipart`], [`Store::abort_multipart`]
//! - credentials: [`Store::mint_credential`], [`Store::credential`],
//!   [`Store::revoke_credentials`], [`Store::expire_all_credentials`]; for the app origin's
//!   `POST /credentials`: [`Store::mint_bucket_credential`], [`Store::expire_bucket_credentials`]

mod crc64;
mod credentials;
mod files;
mod multipart;
mod objects;
mod read;
mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::Stream;

use crate::db::Db;

pub use crc64::{crc64_combine, crc64_of};
pub use credentials::BUCKET_CREDENTIAL_OWNER;
pub use files::BodyLength;
pub use read::ObjectBytes;

/// Largest object PutObject accepts (COS: 5 GB for a simple upload).
pub const MAX_PUT_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest part UploadPart accepts (COS: 5 GB).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Highest part number (COS: 10000).
pub const MAX_PART_NUMBER: u32 = 10_000;

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
    /// The body stream stalled (its error kind was `TimedOut`).
    #[error("the body was not received in time")]
    RequestTimeout,
    #[error("part number out of range 1..=10000")]
    InvalidPartNumber,
    /// Complete: the assembled object's CRC-64 differs from the expected one; nothing was
    /// consumed or created.
    #[error("assembled object has CRC-64 {actual}, not the expected one")]
    BadCrc64 { actual: u64 },
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
    /// Quoted `"<md5 hex>"`.
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

/// A temporary COS key pair with its session token (STS-like), bound to a [`CredentialScope`]
/// (an SMH upload key) or to a key prefix of the bucket (a customer backend's key).
#[derive(Debug, Clone)]
pub struct TempCredential {
    pub secret_id: String,
    pub secret_key: String,
    pub token: String,
    /// Unix seconds.
    pub start: i64,
    /// Unix seconds. Revoked and test-expired credentials have `expires` in the past.
    pub expires: i64,
    /// For an SMH upload key ([`Store::mint_credential`]); for a bucket key, `{key: prefix,
    /// upload_id: None, owner: BUCKET_CREDENTIAL_OWNER}`.
    pub scope: CredentialScope,
    /// `Some(prefix)`: a bucket key ([`Store::mint_bucket_credential`]) for object and multipart
    /// operations on keys starting with `prefix` (`""`: the whole bucket); `scope` is then unused.
    pub prefix: Option<String>,
}

/// Handle on the bucket's contents. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
    root: PathBuf,
}

pub type BodyStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

impl Store {
    /// Creates the schema and directories, removes leftover temporary files and files that no
    /// row refers to, and reopens multipart uploads whose Complete was interrupted.
    pub fn open(db: Db, data_dir: &Path) -> Result<Store, StoreError> {
        let store = Store { db, root: data_dir.to_path_buf() };
        for dir in [store.tmp_dir(), store.objects_dir(), store.uploads_dir()] {
            std::fs::create_dir_all(dir)?;
        }
        schema::create(&store.db.lock())?;
        store.sweep()?;
        Ok(store)
    }
}

/// Current time in Unix seconds.
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A random lowercase hex string of `bytes * 2` characters.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::Rng::fill(&mut rand::rng(), buf.as_mut_slice());
    hex::encode(buf)
}

/// `"hex"` → `hex`, lowercased, for ETag comparisons.
pub fn etag_unquoted(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
