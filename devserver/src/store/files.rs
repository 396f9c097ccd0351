//! Files of the store: the temp → fsync → rename protocol, hashing while writing, and the
//! start-up sweep of leftovers.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest as _, Md5};

use super::{random_hex, BodyStream, Store, StoreError};

/// Chunks queued between the request body and the blocking writer (back-pressure bound; hyper
/// hands over chunks of up to ~400 KB).
const WRITE_QUEUE_CHUNKS: usize = 16;
/// Buffer of the blocking writer (bigger chunks bypass it) and of whole-object readers.
pub(super) const IO_BUFFER_BYTES: usize = 1024 * 1024;
/// A [`DurableFile`] asks the kernel to start writing back every this many bytes.
const WRITEBACK_STEP_BYTES: u64 = 4 * 1024 * 1024;

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

/// A file being written that must end up on disk: writes go through a buffer (chunks as big
/// as it bypass it), every [`WRITEBACK_STEP_BYTES`] the kernel is asked to start writing the
/// range just written (Linux `sync_file_range`), so the one `fsync` at the end finds little
/// left to write instead of the whole file.
pub(super) struct DurableFile {
    out: io::BufWriter<File>,
    /// Bytes handed to [`DurableFile::write_all`].
    written: u64,
    /// Bytes whose write-back was started.
    scheduled: u64,
}

impl DurableFile {
    pub fn new(file: File) -> DurableFile {
        DurableFile { out: io::BufWriter::with_capacity(IO_BUFFER_BYTES, file), written: 0, scheduled: 0 }
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        let in_file = self.written - self.out.buffer().len() as u64;
        if in_file - self.scheduled >= WRITEBACK_STEP_BYTES {
            start_writeback(self.out.get_ref(), self.scheduled, in_file - self.scheduled);
            self.scheduled = in_file;
        }
        Ok(())
    }

    /// Flushes and fsyncs (data and metadata): the file is durable when this returns.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

/// Starts write-back of `len` bytes at `offset` without waiting for it (an optimisation only:
/// durability comes from the `fsync` in [`DurableFile::finish`]).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else { return };
    // SAFETY: the descriptor is open for the borrow of `file`; sync_file_range reads no memory
    // of ours. An error only means no early write-back.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

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

    /// Renames the (already fsync'ed) file or directory to `dest` and fsyncs `dest`'s
    /// directory, so the rename itself is durable before any metadata row points at `dest`.
    /// Blocking.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.persisted = true;
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = if self.is_dir { std::fs::remove_dir_all(&self.path) } else { std::fs::remove_file(&self.path) };
        }
    }
}

/// fsync of a directory (makes renames and creations in it durable).
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
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
        let temp = TempFile { path: self.tmp_dir().join(format!("{}.dir", random_hex(16))), is_dir: true, persisted: false };
        std::fs::create_dir(&temp.path)?;
        Ok(temp)
    }

    /// Streams `body` into a new fsync'ed temp file, hashing on the way, on a blocking thread
    /// fed through a bounded queue (memory stays bounded whatever the body size; the bytes are
    /// never copied between the socket buffer and the file's write).
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
        let mut out = DurableFile::new(File::create_new(temp.path())?);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE_CHUNKS);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<Hashes> {
            let mut hasher = Hasher::new();
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                out.write_all(&chunk)?;
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
        let objects: HashSet<String> = conn
            .prepare("SELECT file FROM cos_objects")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
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
