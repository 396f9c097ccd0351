//! [`BlobSource`]: a `File`/`Blob` as a [`FileSource`]. Parts are `Blob` slices handed to the
//! `Http` untouched (the browser streams them from disk; under DevTools' network tracking an
//! in-memory body would be copied, a slice is not); their CRC-64 and the quick-upload hashes are
//! computed in the upload Worker from reads of the same slices ([`super::worker`]), while the
//! part is sent. Never read whole.

use std::ops::Range;

use futures::FutureExt;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::Blob;

use super::worker::{self, Via};
use super::{bytes_of, read_error};
use crate::error::{Error, Result};
use crate::platform::{Body, FileSource, Handle, LocalBoxFuture, Part};
use crate::text::fill;

/// A `Blob` (or `File`) as a [`FileSource`].
#[derive(Debug, Clone)]
pub struct BlobSource {
    blob: Blob,
    size: u64,
    name: String,
    fingerprint: String,
    /// A `File` with a name and a modification time (see [`FileSource::stable_identity`]).
    stable: bool,
    /// Unique per source on the page: names its ranges for the Worker's reads ahead.
    id: u32,
}

thread_local! {
    static NEXT_SOURCE_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(1) };
}

impl BlobSource {
    /// Wraps `blob`; its size must be a safe integer (always true for real Blobs).
    pub fn new(blob: Blob) -> Result<BlobSource> {
        let size = blob.size();
        if !((0.0..=9_007_199_254_740_991.0).contains(&size) && size.fract() == 0.0) {
            return Err(Error::invalid_input("file", "has an invalid size"));
        }
        let get = |name: &str| Reflect::get(&blob, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined());
        let name = get("name").and_then(|v| v.as_string()).unwrap_or_default();
        let modified = get("lastModified").and_then(|v| v.as_f64()).unwrap_or(0.0);
        // Integers, not `{f64}`: the same text for whole numbers, without float formatting in the wasm.
        let fingerprint = fill("blob:{}:{}:{}", &[(&name).into(), (size as u64).into(), (modified as u64).into()]);
        let stable = !name.is_empty() && modified > 0.0;
        let id = NEXT_SOURCE_ID.with(|next| next.replace(next.get().wrapping_add(1)));
        Ok(BlobSource { blob, size: size as u64, name, fingerprint, stable, id })
    }
}

impl BlobSource {
    fn slice(&self, range: &Range<u64>) -> Result<Blob> {
        self.blob.slice_with_f64_and_f64(range.start as f64, range.end as f64).map_err(read_error)
    }
}

#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    /// The bytes of `blob` from `start` to `end`: a promise of an `ArrayBuffer`, rejected when
    /// the slice or the read fails.
    #[wasm_bindgen(js_name = smhRead)]
    fn read_range(blob: &Blob, start: f64, end: f64) -> Promise;
}

impl From<BlobSource> for Blob {
    fn from(source: BlobSource) -> Blob {
        source.blob
    }
}

impl FileSource for BlobSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        let read = super::settled(&read_range(&self.blob, range.start as f64, range.end as f64));
        Box::pin(read.map(|buffer| {
            bytes_of(&buffer.map_err(read_error)?)
                .ok_or_else(|| Error::FileRead { message: "slice did not give an ArrayBuffer".into() }.into())
        }))
    }

    fn part(&self, range: Range<u64>) -> LocalBoxFuture<'_, Result<Part>> {
        // Each part's slice (and the Worker message that follows) in a task of its own.
        Box::pin(super::next_task().map(move |()| {
            let slice = self.slice(&range)?;
            let len = slice.size() as u64;
            let crc64 = Box::pin(worker::crc64(slice.clone(), Via::Auto));
            Ok(Part { body: Body::Handle(Handle::new(len, slice)), crc64 })
        }))
    }

    fn chain_hash(&self, range: Range<u64>, previous: Option<[u8; 32]>) -> LocalBoxFuture<'_, Result<[u8; 32]>> {
        // The engine hashes a file in consecutive ranges of one length: the Worker is told the
        // next one, so its reads run on while this range's last blocks are digested.
        let following = range.end..(range.end + (range.end - range.start)).min(self.size);
        let next = (!following.is_empty()).then(|| self.slice(&following).ok()).flatten();
        let ahead = worker::ReadAhead { source: self.id, start: range.start, next };
        Box::pin(worker::chain_hash_ahead(self.slice(&range), previous, Via::Auto, Some(ahead)))
    }

    fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    fn name(&self) -> Option<String> {
        (!self.name.is_empty()).then(|| self.name.clone())
    }

    fn stable_identity(&self) -> bool {
        self.stable
    }
}
