//! Files of the store: the temp → rename protocol, hashing while writing, and the start-up
//! sweep of leftovers.
//!
//! Durability: what a dev server needs is that a *server* crash (`kill -9`, a panic, Ctrl-C)
//! leaves every object absent or whole, which the write → rename → commit order gives by
//! itself: a killed process loses nothing the OS already has. A *machine* crash (power loss)
//! is out of scope: nothing is fsync'ed (neither the files nor SQLite's WAL, `db.rs`), because
//! every fsync makes an upload's reply wait for its bytes to reach the disk, which real COS
//! does not make a client pay on this machine's disk, and a dev server's data is disposable.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest as _, Md5};

use super::{random_hex, BodyStream, Store, StoreError};

/// Chunks queued between the request body and the blocking writer (back-pressure bound; hyper
/// hands over chunks of up to ~400 KB).
const WRITE_QUEUE_CHUNKS: usize = 16;
/// Buffer of whole-object readers.
pub(super) const IO_BUFFER_BYTES: usize = 1024 * 1024;
/// A [`ChunkWriter`] writes once this many bytes are gathered …
const WRITE_BATCH_BYTES: usize = 1024 * 1024;
/// … or this many chunks (well under any `IOV_MAX`).
const WRITE_BATCH_CHUNKS: usize = 64;

/// The length a request body must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// Exactly this many bytes (`Content-Length` of PutObject / UploadPart); fewer or more is
    /// [`StoreError::IncompleteBody`].
    Exactly(u64),
    /// Between `min` and `max` bytes inclusive, not known in advance (the file of a PostObject
    /// form, limited by its policy's `content-length-range`): more than `max` stops the
    /// transfer with [`StoreError::EntityTooLarge`], fewer than `min` is
    /// [`StoreError::EntityTooSmall`]`(0)`.
    Between(u64, u64),
}

impl BodyLength {
    /// The most bytes a body may have.
    fn max(self) -> u64 {
        match self {
            BodyLength::Exactly(n) | BodyLength::Between(_, n) => n,
        }
    }

    /// The error of a body that ended after `size` bytes, if that is wrong.
    fn check_end(self, size: u64) -> Result<(), StoreError> {
        match self {
            BodyLength::Exactly(n) if size != n => Err(StoreError::IncompleteBody),
            BodyLength::Between(min, _) if size < min => Err(StoreError::EntityTooSmall(0)),
            _ => Ok(()),
        }
    }

    /// The error of a body that goes past [`BodyLength::max`].
    fn too_long(self) -> StoreError {
        match self {
            BodyLength::Exactly(_) => StoreError::IncompleteBody,
            BodyLength::Between(..) => StoreError::EntityTooLarge,
        }
    }
}

/// What COS answers about a body it stored: size, MD5 (the ETag) and CRC-64.
pub(super) struct Hashes {
    pub size: u64,
    pub md5: [u8; 16],
    pub crc64: u64,
}

/// MD5 + CRC-64 over a byte stream, in one pass: each chunk goes through both while it is in
/// cache. Nothing else is computed on the upload path: the SHA-256 of `/_dev/objects` and
/// SMH's quick-upload hashes are computed later from the stored bytes. The fast
/// implementations matter (a 2-core machine must take 200 MB/s): MD5 in assembly (`md-5`'s
/// `asm`), CRC-64 with carry-less multiply (`crc64fast`).
pub(super) struct Hasher {
    size: u64,
    md5: Md5,
    crc64: crc64fast::Digest,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher { size: 0, md5: Md5::new(), crc64: crc64fast::Digest::new() }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.md5.update(bytes);
        self.crc64.write(bytes);
    }

    pub fn finish(self) -> Hashes {
        Hashes { size: self.size, md5: self.md5.finalize().into(), crc64: self.crc64.sum64() }
    }
}

/// A file being written from received chunks, each byte copied once (from the chunk into the
/// page cache): chunks are gathered, not copied, until [`WRITE_BATCH_BYTES`] and written with
/// one `writev`. Not fsync'ed (see the module doc).
pub(super) struct ChunkWriter {
    file: File,
    batch: Vec<Bytes>,
    batched: usize,
}

impl ChunkWriter {
    pub fn new(file: File) -> ChunkWriter {
        ChunkWriter { file, batch: Vec::with_capacity(WRITE_BATCH_CHUNKS), batched: 0 }
    }

    pub fn push(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            // Nothing to write (an empty slice would read as a write of zero bytes).
            return Ok(());
        }
        self.batched += chunk.len();
        self.batch.push(chunk);
        if self.batched >= WRITE_BATCH_BYTES || self.batch.len() >= WRITE_BATCH_CHUNKS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = self.batch.iter().map(|chunk| IoSlice::new(chunk)).collect();
        let mut pending = &mut slices[..];
        while !pending.is_empty() {
            match self.file.write_vectored(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut pending, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.batch.clear();
        self.batched = 0;
        Ok(())
    }

    /// Writes what is left; the bytes are in the file (the OS's page cache) when this returns.
    pub fn finish(mut self) -> io::Result<()> {
        self.write_batch()
    }
}

/// A file (or a directory of segment files) under `{data}/tmp`, removed on drop unless
/// [`TempFile::persist`]ed.
pub(super) struct TempFile {
    path: PathBuf,
    is_dir: bool,
    persisted: bool,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the (complete) file or directory to `dest`; a metadata row may point at `dest`
    /// once this returns. Blocking.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = if self.is_dir { std::fs::remove_dir_all(&self.path) } else { std::fs::remove_file(&self.path) };
        }
    }
}

/// Runs blocking file work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|join| StoreError::Io(io::Error::other(join)))?
}

impl Store {
    pub(super) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(super) fn objects_dir(&self) -> PathBuf {
        self.root.join("objects")
    }

    pub(super) fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    pub(super) fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.uploads_dir().join(upload_id)
    }

    /// A fresh, unused name under `{data}/tmp` (the file is created by the caller).
    pub(super) fn new_temp(&self) -> TempFile {
        TempFile { path: self.tmp_dir().join(format!("{}.tmp", random_hex(16))), is_dir: false, persisted: false }
    }

    /// A fresh, empty directory under `{data}/tmp` (for a segmented object's files).
    pub(super) fn new_temp_dir(&self) -> io::Result<TempFile> {
        let temp =
            TempFile { path: self.tmp_dir().join(format!("{}.dir", random_hex(16))), is_dir: true, persisted: false };
        std::fs::create_dir(&temp.path)?;
        Ok(temp)
    }

    /// Streams `body` into a new temp file, hashing on the way, on a blocking thread fed through
    /// a bounded queue (memory stays bounded whatever the body size; the bytes are never copied
    /// between the socket buffer and the file's write).
    ///
    /// A body whose length is not `length`, or that fails, is an error (see [`BodyLength`];
    /// [`StoreError::RequestTimeout`] when the stream's error kind is `TimedOut`); the temp file
    /// is then removed.
    pub(super) async fn receive(
        &self,
        mut body: BodyStream,
        length: BodyLength,
    ) -> Result<(TempFile, Hashes), StoreError> {
        let temp = self.new_temp();
        let mut out = ChunkWriter::new(File::create_new(temp.path())?);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE_CHUNKS);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<Hashes> {
            let mut hasher = Hasher::new();
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                out.push(chunk)?;
            }
            out.finish()?;
            Ok(hasher.finish())
        });
        let mut received = 0u64;
        let body_result = loop {
            match body.next().await {
                None => break length.check_end(received),
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    if received > length.max() {
                        break Err(length.too_long());
                    }
                    if tx.send(chunk).await.is_err() {
                        // The writer stopped: its own error is reported below.
                        break Ok(());
                    }
                }
                Some(Err(e)) if e.kind() == io::ErrorKind::TimedOut => break Err(StoreError::RequestTimeout),
                Some(Err(_)) => break Err(StoreError::IncompleteBody),
            }
        };
        drop(tx);
        let written = writer.await.map_err(io::Error::other);
        body_result?;
        let hashes = written??;
        length.check_end(hashes.size)?;
        Ok((temp, hashes))
    }

    /// Start-up: empties `tmp/`, removes object files and directories and part files no row
    /// refers to (a crash between rename and commit), and reopens uploads whose Complete was
    /// interrupted.
    pub(super) fn sweep(&self) -> Result<(), StoreError> {
        for entry in std::fs::read_dir(self.tmp_dir())? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        let conn = self.db.lock();
        conn.execute("UPDATE cos_uploads SET state = 'open' WHERE state <> 'open'", [])?;
        let objects: HashSet<String> =
            conn.prepare("SELECT file FROM cos_objects")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let parts: HashSet<(String, String)> = conn
            .prepare("SELECT upload_id, file FROM cos_parts")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let uploads: HashSet<String> = conn
            .prepare("SELECT upload_id FROM cos_uploads")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        drop(conn);
        for entry in std::fs::read_dir(self.objects_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !objects.contains(&name) {
                tracing::info!(file = %name, "store: removing orphaned object file");
                if entry.file_type()?.is_dir() {
                    std::fs::remove_dir_all(entry.path())?;
                } else {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }
        for entry in std::fs::read_dir(self.uploads_dir())? {
            let entry = entry?;
            let upload_id = entry.file_name().to_string_lossy().into_owned();
            if !uploads.contains(&upload_id) {
                std::fs::remove_dir_all(entry.path())?;
                continue;
            }
            for part in std::fs::read_dir(entry.path())? {
                let part = part?;
                let name = part.file_name().to_string_lossy().into_owned();
                if !parts.contains(&(upload_id.clone(), name)) {
                    std::fs::remove_file(part.path())?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks of every size, empty ones included, more than a batch holds by count and by bytes:
    /// the file holds exactly their concatenation.
    #[test]
    fn chunk_writer_writes_every_chunk_once_in_order() {
        let path = std::env::temp_dir().join(format!("smh-chunk-writer-{}", random_hex(8)));
        let mut out = ChunkWriter::new(File::create_new(&path).unwrap());
        let mut expected = Vec::new();
        for i in 0..300usize {
            let len = [0, 1, 4096, 70_000, 3][i % 5];
            let chunk: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            expected.extend_from_slice(&chunk);
            out.push(Bytes::from(chunk)).unwrap();
        }
        out.finish().unwrap();
        let written = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(written.len(), expected.len());
        assert!(written == expected);
    }

    /// An empty body (one empty chunk) is an empty file, not a failed write.
    #[test]
    fn chunk_writer_of_an_empty_body() {
        let path = std::env::temp_dir().join(format!("smh-chunk-writer-{}", random_hex(8)));
        let mut out = ChunkWriter::new(File::create_new(&path).unwrap());
        out.push(Bytes::new()).unwrap();
        out.finish().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        std::fs::remove_file(&path).unwrap();
    }
}
