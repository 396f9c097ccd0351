//! [`WxFileSource`]: a local file of the mini-program (`wx.chooseMessageFile`'s `path`,
//! `wx.chooseMedia`'s `tempFilePath`, or any path the app can read), read one range at a time
//! with `FileSystemManager.readFile({ filePath, position, length })` (base library ≥ 2.10),
//! never whole.
//!
//! WeChat refuses a `length` of 0, so empty ranges (a 0-byte file) never call it. A part's body is
//! the `ArrayBuffer` `readFile` gave, sent as is by [`WxHttp`](super::WxHttp); its CRC-64 is
//! computed in wasm over the same buffer, copied in once, piece by piece, so wasm memory does not
//! grow by a part's size. Quick-upload hashes read [`HASH_READ`] bytes at a time, each hashed
//! piece by piece.
//!
//! A `readFile` that fails (WeChat reports I/O errors, a busy file system, a temporary file being
//! moved) is tried again [`READ_RETRIES`] times after a pause, as a browser's part is read again
//! when its `Blob` read fails: a single transient failure must not end an upload. A file that is
//! gone or has another size than at `open` fails at once.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::{err_msg, with_callbacks};
use crate::checksum::crc64::Crc64;
use crate::checksum::ChainedHash;
use crate::error::{Error, Result};
use crate::platform::browser::JsTimer;
use crate::platform::{Body, FileSource, Handle, LocalBoxFuture, Part, Timer};
use crate::text::{concat, fill};

/// The names a file's path goes by: ours, `chooseMessageFile`'s and `chooseMedia`'s.
const PATH_FIELDS: [&str; 3] = ["filePath", "path", "tempFilePath"];
/// Bytes of a buffer `readFile` gave copied into wasm, and hashed or CRC'd in one synchronous
/// call, at a time (see [`crate::platform::HASH_SLICE`]).
const PIECE: u32 = crate::platform::HASH_SLICE as u32;
/// Bytes read at a time while hashing: a read of several MiB (a new `ArrayBuffer` made, copied
/// and later collected on the logic thread) was the longest block of that thread
/// (tests/miniprogram/phone.test.mjs). Where `FileSystemManager.open` / `read` exist (base
/// library ≥ 2.16.1), blocks are read into two buffers used in turn, so hashing a file makes
/// no garbage for the logic thread to collect; before, each block is a `readFile`.
const HASH_READ: u64 = crate::checksum::QUICK_UPLOAD_BLOCK;
/// Times a failed `readFile` is tried again…
const READ_RETRIES: u32 = 2;
/// …after this pause, doubled each time.
const READ_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// `Number.MAX_SAFE_INTEGER`: sizes above it cannot cross to JS exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

#[wasm_bindgen]
extern "C" {
    /// `wx.getFileSystemManager()`.
    #[derive(Clone)]
    type FileSystemManager;
    #[wasm_bindgen(js_namespace = wx, js_name = getFileSystemManager, catch)]
    fn file_system_manager() -> std::result::Result<FileSystemManager, JsValue>;
    #[wasm_bindgen(method, js_name = readFile, catch)]
    fn read_file(this: &FileSystemManager, options: &Object) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, js_name = statSync, catch)]
    fn stat_sync(this: &FileSystemManager, path: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn open(this: &FileSystemManager, options: &Object) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn read(this: &FileSystemManager, options: &Object) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &FileSystemManager, options: &Object) -> std::result::Result<JsValue, JsValue>;
}

/// Whether `fs` has the method `name` (base libraries differ).
fn has_method(fs: &FileSystemManager, name: &str) -> bool {
    Reflect::get(fs, &JsValue::from_str(name)).is_ok_and(|f| f.is_function())
}

/// A file descriptor of `FileSystemManager.open`, closed when dropped.
struct OpenFile {
    fs: FileSystemManager,
    fd: JsValue,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        let options = Object::new();
        let _ = Reflect::set(&options, &JsValue::from_str("fd"), &self.fd);
        let _ = self.fs.close(&options);
    }
}

/// A mini-program file as a [`FileSource`].
#[derive(Clone)]
pub struct WxFileSource {
    fs: FileSystemManager,
    path: String,
    size: u64,
    fingerprint: String,
    /// `statSync` gave a modification time (see [`FileSource::stable_identity`]).
    stable: bool,
}

fn invalid(message: &str) -> Box<Error> {
    let hint = "; give { filePath, size } (or { path, size } from wx.chooseMessageFile, { tempFilePath, size } from wx.chooseMedia)";
    Error::invalid_input("file", concat(&[message, hint]))
}

impl WxFileSource {
    /// Reads `{ filePath | path | tempFilePath, size }`: a malformed object is `InvalidInput`;
    /// a file that does not exist, or whose size differs from `size`, is `FileReadError`
    /// (checked with `statSync`, so a wrong size cannot upload a truncated file).
    pub fn open(file: &JsValue) -> Result<WxFileSource> {
        if !file.is_object() {
            return Err(invalid("must be an object"));
        }
        let field = |name: &str| Reflect::get(file, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        let path = PATH_FIELDS
            .iter()
            .find_map(|name| field(name).as_string().filter(|p| !p.is_empty()))
            .ok_or_else(|| invalid("has no path"))?;
        let size = field("size")
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= MAX_SAFE_INTEGER && s.fract() == 0.0)
            .ok_or_else(|| invalid("`size` must be the file's size in bytes, an integer"))? as u64;
        let fs = file_system_manager()
            .map_err(|e| Error::FileRead { message: concat(&["wx.getFileSystemManager: ", &err_msg(&e)]) })?;
        let mut modified = 0.0;
        if has_method(&fs, "statSync") {
            let stats = fs.stat_sync(&path).map_err(|e| Error::FileRead { message: err_msg(&e) })?;
            let get = |name: &str| Reflect::get(&stats, &JsValue::from_str(name)).ok().and_then(|v| v.as_f64());
            if let Some(actual) = get("size") {
                if actual != size as f64 {
                    return Err(Error::FileRead {
                        message: fill(
                            "the file has {} bytes, not the {} that `size` says",
                            &[(actual as u64).into(), size.into()],
                        ),
                    }
                    .into());
                }
            }
            modified = get("lastModifiedTime").unwrap_or(0.0);
        }
        // Integers, not `{f64}`: the same text for whole numbers (sizes, and the whole seconds
        // statSync gives), and no float formatting in the wasm.
        let fingerprint = fill("wx:{}:{}:{}", &[(&path).into(), size.into(), (modified as u64).into()]);
        Ok(WxFileSource { fs, path, size, fingerprint, stable: modified > 0.0 })
    }

    /// `readFile` of a non-empty `range`: exactly its bytes, as an `ArrayBuffer`; a failed read
    /// is tried again (see the module docs).
    async fn read_buffer(&self, range: Range<u64>) -> Result<ArrayBuffer> {
        let mut pause = READ_RETRY_PAUSE;
        for _ in 0..READ_RETRIES {
            match self.read_once(&range).await {
                Err(e) if matches!(*e, Error::FileRead { .. }) && self.read_may_pass(&range) => {
                    JsTimer.sleep(pause).await;
                    pause *= 2;
                }
                outcome => return outcome,
            }
        }
        self.read_once(&range).await
    }

    /// The file opened for reading, where `FileSystemManager.open` and `read` exist.
    async fn open_to_read(&self) -> Result<Option<OpenFile>> {
        if !has_method(&self.fs, "open") || !has_method(&self.fs, "read") {
            return Ok(None);
        }
        let read_error = |e: JsValue| Error::FileRead { message: err_msg(&e) };
        let (options, reply) =
            with_callbacks(&[("filePath", JsValue::from_str(&self.path)), ("flag", JsValue::from_str("r"))]);
        self.fs.open(&options).map_err(read_error)?;
        let reply = JsFuture::from(reply).await.map_err(read_error)?;
        let fd = Reflect::get(&reply, &JsValue::from_str("fd")).unwrap_or(JsValue::UNDEFINED);
        if fd.is_undefined() {
            return Err(Error::FileRead { message: "open gave no fd".into() }.into());
        }
        Ok(Some(OpenFile { fs: self.fs.clone(), fd }))
    }

    /// One `FileSystemManager.read` of a non-empty `range` of `file` into the start of `buffer`:
    /// a view of exactly its bytes.
    async fn read_into(&self, file: &OpenFile, buffer: &ArrayBuffer, range: &Range<u64>) -> Result<Uint8Array> {
        let want = range.end - range.start;
        let read_error = |message: String| Error::FileRead { message };
        let (options, reply) = with_callbacks(&[
            ("fd", file.fd.clone()),
            ("arrayBuffer", buffer.into()),
            ("offset", JsValue::from_f64(0.0)),
            ("length", JsValue::from_f64(want as f64)),
            ("position", JsValue::from_f64(range.start as f64)),
        ]);
        self.fs.read(&options).map_err(|e| read_error(err_msg(&e)))?;
        let reply = JsFuture::from(reply).await.map_err(|e| read_error(err_msg(&e)))?;
        let read = Reflect::get(&reply, &JsValue::from_str("bytesRead")).ok().and_then(|n| n.as_f64());
        if read != Some(want as f64) {
            return Err(read_error(fill(
                "expected {} bytes at offset {}, got {}; the file changed",
                &[want.into(), range.start.into(), (read.unwrap_or(0.0) as u64).into()],
            ))
            .into());
        }
        Ok(Uint8Array::new_with_byte_offset_and_length(buffer, 0, want as u32))
    }

    /// Hashes `range` into `hash`, [`HASH_READ`] bytes at a time (see there).
    async fn hash_range(&self, range: Range<u64>, hash: &mut ChainedHash) -> Result<()> {
        // A failed `open` or `read` fails the range: the engine hashes it again
        // (src/engine/session.rs `chain_hash`).
        match self.open_to_read().await? {
            Some(file) => {
                let buffers = [ArrayBuffer::new(HASH_READ as u32), ArrayBuffer::new(HASH_READ as u32)];
                let read = |block: Range<u64>, i: usize| {
                    let (file, buffer) = (&file, &buffers[i % 2]);
                    async move { self.read_into(file, buffer, &block).await }
                };
                hash_blocks(range, hash, read).await
            }
            None => {
                let read = |block: Range<u64>, _| async move {
                    self.read_buffer(block).await.map(|buffer| Uint8Array::new(&buffer))
                };
                hash_blocks(range, hash, read).await
            }
        }
    }

    /// Whether a failed read of `range` is worth trying again: the file is still there with the
    /// size it had (a file gone or changed fails at once).
    fn read_may_pass(&self, range: &Range<u64>) -> bool {
        if !has_method(&self.fs, "statSync") {
            return true;
        }
        let size = self
            .fs
            .stat_sync(&self.path)
            .ok()
            .and_then(|stats| Reflect::get(&stats, &JsValue::from_str("size")).ok().and_then(|v| v.as_f64()));
        size.is_some_and(|s| s == self.size as f64 && range.end <= self.size)
    }

    /// One `readFile` of a non-empty `range`.
    async fn read_once(&self, range: &Range<u64>) -> Result<ArrayBuffer> {
        let want = range.end - range.start;
        let read_error = |message: String| Error::FileRead { message };
        let (options, reply) = with_callbacks(&[
            ("filePath", JsValue::from_str(&self.path)),
            ("position", JsValue::from_f64(range.start as f64)),
            ("length", JsValue::from_f64(want as f64)),
        ]);
        self.fs.read_file(&options).map_err(|e| read_error(err_msg(&e)))?;
        let reply = JsFuture::from(reply).await.map_err(|e| read_error(err_msg(&e)))?;
        let data = Reflect::get(&reply, &JsValue::from_str("data"))
            .ok()
            .and_then(|d| d.dyn_into::<ArrayBuffer>().ok())
            .ok_or_else(|| read_error("readFile gave no ArrayBuffer".into()))?;
        if data.byte_length() as u64 != want {
            return Err(read_error(fill(
                "expected {} bytes at offset {}, got {}; the file changed",
                &[want.into(), range.start.into(), data.byte_length().into()],
            ))
            .into());
        }
        Ok(data)
    }
}

/// Hashes `range` into `hash`, block by block as `read(block, i)` gives the `i`th: the next
/// block is read (by WeChat, off the logic thread) while this one is hashed.
async fn hash_blocks<F: Future<Output = Result<Uint8Array>>>(
    range: Range<u64>,
    hash: &mut ChainedHash,
    read: impl Fn(Range<u64>, usize) -> F,
) -> Result<()> {
    let mut blocks = (range.start..range.end).step_by(HASH_READ as usize).map(|at| at..(at + HASH_READ).min(range.end));
    let mut current = match blocks.next() {
        Some(first) => Some(read(first, 0).await?),
        None => None,
    };
    let mut i = 1;
    while let Some(bytes) = current {
        let next = async {
            match blocks.next() {
                Some(block) => read(block, i).await.map(Some),
                None => Ok(None),
            }
        };
        let ((), next) = futures::future::join(for_each_piece(&bytes, |piece| hash.update(piece)), next).await;
        current = next?;
        i += 1;
    }
    Ok(())
}

/// Passes `all` to `each` in order, copied into wasm [`PIECE`] bytes at a time (wasm memory
/// does not grow by the buffer's size), with the logic thread free between pieces.
async fn for_each_piece(all: &Uint8Array, mut each: impl FnMut(&[u8])) {
    let mut piece = vec![0u8; PIECE.min(all.length()) as usize];
    let mut at = 0;
    while at < all.length() {
        if at > 0 {
            crate::platform::next_task().await;
        }
        let end = (at + PIECE).min(all.length());
        let chunk = &mut piece[..(end - at) as usize];
        all.subarray(at, end).copy_to(chunk);
        each(chunk);
        at = end;
    }
}

/// CRC-64 of `buffer`.
async fn crc64_of(buffer: &ArrayBuffer) -> u64 {
    let mut crc = Crc64::new();
    for_each_piece(&Uint8Array::new(buffer), |piece| crc.update(piece)).await;
    crc.finish()
}

impl FileSource for WxFileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            if range.is_empty() {
                return Ok(Vec::new());
            }
            let buffer = self.read_buffer(range).await?;
            Ok(Uint8Array::new(&buffer).to_vec())
        })
    }

    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    fn stable_identity(&self) -> bool {
        self.stable
    }

    fn chain_hash(&self, range: Range<u64>, previous: Option<[u8; 32]>) -> LocalBoxFuture<'_, Result<[u8; 32]>> {
        Box::pin(async move {
            let mut hash = ChainedHash::resume(previous);
            if !range.is_empty() {
                self.hash_range(range, &mut hash).await?;
            }
            hash.raw().ok_or_else(|| Error::FileRead { message: "no bytes to hash".into() }.into())
        })
    }

    fn part(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Part>> {
        Box::pin(async move {
            if range.is_empty() {
                return Ok(Part { body: Body::from(Vec::new()), crc64: Box::pin(async { Ok(Crc64::new().finish()) }) });
            }
            let buffer = self.read_buffer(range.clone()).await?;
            let body = Body::Handle(Handle::new(range.end - range.start, buffer.clone()));
            // Computed when first polled: the engine polls the PUT first, so the request is
            // already on its way when the CRC runs.
            Ok(Part { body, crc64: Box::pin(async move { Ok(crc64_of(&buffer).await) }) })
        })
    }
}
