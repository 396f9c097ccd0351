//! Reading an object's bytes. An object is stored as one file (PutObject, PostObject, a copy) or
//! as the ordered files of the parts it was completed from (a multipart object: Complete links
//! the part files into the object's directory instead of copying them, see `multipart.rs`).
//! [`ObjectBytes`] hides the difference: every reader — GetObject (whole or ranged), the SMH
//! quick-upload hashes, copies, `/_dev/objects` — sees one byte string.
//!
//! The files are opened while the object's row is read (under the database lock), so a
//! concurrent replacement or delete cannot pull the bytes away: the open handles keep them.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use super::BodyStream;

/// Read buffer of a streamed response body.
const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// One stored file of an object, open.
struct Segment {
    file: File,
    len: u64,
}

/// The open files holding one object's bytes, in order.
pub struct ObjectBytes {
    segments: Vec<Segment>,
}

impl ObjectBytes {
    /// Wraps the object's open files (in order); their lengths must add up to `size`, the row's
    /// size (else the data directory is damaged: an error rather than wrong bytes).
    pub(super) fn new(files: Vec<File>, size: u64) -> io::Result<ObjectBytes> {
        let mut segments = Vec::with_capacity(files.len());
        for file in files {
            let len = file.metadata()?.len();
            segments.push(Segment { file, len });
        }
        let total: u64 = segments.iter().map(|s| s.len).sum();
        if total != size {
            return Err(io::Error::other(format!("the object's files hold {total} bytes, its row says {size}")));
        }
        Ok(ObjectBytes { segments })
    }

    /// How many files hold the bytes (1 for a single-file object).
    pub fn file_count(&self) -> usize {
        self.segments.len()
    }

    /// A blocking reader of all the bytes, in order.
    pub fn into_reader(self) -> impl Read + Send {
        Concat { segments: self.segments.into_iter().map(|s| s.file.take(s.len)).collect() }
    }

    /// The bytes `start..start + len` as a stream for a response body (never whole in memory);
    /// only the files the range touches are read. `start + len` must not exceed the size.
    pub fn into_stream(self, start: u64, len: u64) -> io::Result<BodyStream> {
        let end = start + len;
        let mut pieces = Vec::new();
        let mut offset = 0u64;
        for Segment { mut file, len: segment_len } in self.segments {
            let (first, last) = (offset.max(start), (offset + segment_len).min(end));
            if first < last {
                file.seek(SeekFrom::Start(first - offset))?;
                pieces.push(tokio::fs::File::from_std(file).take(last - first));
            }
            offset += segment_len;
        }
        let stream = futures_util::stream::iter(pieces)
            .flat_map(|piece| tokio_util::io::ReaderStream::with_capacity(piece, STREAM_CHUNK_BYTES));
        Ok(Box::pin(stream))
    }
}

/// Reads the files one after the other.
struct Concat {
    segments: VecDeque<io::Take<File>>,
}

impl Read for Concat {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(segment) = self.segments.front_mut() {
            match segment.read(buf)? {
                0 if !buf.is_empty() => {
                    self.segments.pop_front();
                }
                n => return Ok(n),
            }
        }
        Ok(0)
    }
}
