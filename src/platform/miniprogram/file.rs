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
/// Bytes of a `readFile` while hashing. Each `readFile` hands the logic thread a new
/// `ArrayBuffer` of that length (made, and later collected, on that thread), so a hashed range
/// is read a block at a time, not whole: reads of several MiB made the longest blocks of the
/// logic thread (tests/miniprogram/phone.test.mjs).
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

fn invalid(message: &str) -> Error {
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
        let can_stat = Reflect::get(&fs, &JsValue::from_str("statSync")).is_ok_and(|f| f.is_function());
        if can_stat {
            let stats = fs.stat_sync(&path).map_err(|e| Error::FileRead { message: err_msg(&e) })?;
            let get = |name: &str| Reflect::get(&stats, &JsValue::from_str(name)).ok().and_then(|v| v.as_f64());
            if let Some(actual) = get("size") {
                if actual != size as f64 {
                    return Err(Error::FileRead {
                        message: fill(
                            "the file has {} bytes, not the {} that `size` says",
                            &[(actual as u64).into(), size.into()],
                        ),
                    });
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
                Err(Error::FileRead { .. }) if self.read_may_pass(&range) => {
                    JsTimer.sleep(pause).await;
                    pause *= 2;
                }
                outcome => return outcome,
            }
        }
        self.read_once(&range).await
    }

    /// Whether a failed read of `range` is worth trying again: the file is still there with the
    /// size it had (a file gone or changed fails at once).
    fn read_may_pass(&self, range: &Range<u64>) -> bool {
        let can_stat = Reflect::get(&self.fs, &JsValue::from_str("statSync")).is_ok_and(|f| f.is_function());
        if !can_stat {
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
            )));
        }
        Ok(data)
    }
}

/// Passes `buffer` to `each` in order, copied into wasm [`PIECE`] bytes at a time (wasm memory
/// does not grow by the buffer's size), with the logic thread free between pieces.
async fn for_each_piece(buffer: &ArrayBuffer, mut each: impl FnMut(&[u8])) {
    let all = Uint8Array::new(buffer);
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
    for_each_piece(buffer, |piece| crc.update(piece)).await;
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
            let mut reads = (range.start..range.end)
                .step_by(HASH_READ as usize)
                .map(|start| start..(start + HASH_READ).min(range.end));
            let mut buffer = match reads.next() {
                Some(first) => Some(self.read_buffer(first).await?),
                None => None,
            };
            while let Some(current) = buffer {
                // The next block is read (by WeChat, off the logic thread) while this one is hashed.
                let next = async {
                    match reads.next() {
                        Some(read) => self.read_buffer(read).await.map(Some),
                        None => Ok(None),
                    }
                };
                let ((), next) =
                    futures::future::join(for_each_piece(&current, |piece| hash.update(piece)), next).await;
                buffer = next?;
            }
            hash.raw().ok_or_else(|| Error::FileRead { message: "no bytes to hash".into() })
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
