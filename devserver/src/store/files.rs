//! Files of the store: the temp → fsync → rename protocol, hashing while writing, and the
//! start-up sweep of leftovers.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use crc::{Crc, Table, CRC_64_XZ};
use futures_util::StreamExt;
use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::{random_hex, BodyStream, Store, StoreError};

/// CRC-64/XZ, the algorithm of COS `x-cos-hash-crc64ecma` (cos-api.md §3); the 16-table
/// variant hashes several GB/s, which 256 MiB uploads need.
pub static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// A running CRC-64/XZ.
pub type Crc64Digest = crc::Digest<'static, u64, Table<16>>;

/// CRC-64/XZ of `bytes`.
pub fn crc64_of(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

/// Chunks queued between the request body and the blocking writer (back-pressure bound).
const WRITE_QUEUE_CHUNKS: usize = 16;
/// Buffer of the blocking writer and of the part assembler.
pub(super) const IO_BUFFER_BYTES: usize = 1024 * 1024;

/// Hashes of bytes written.
pub(super) struct Hashes {
    pub size: u64,
    /// Zeros when not asked for.
    pub md5: [u8; 16],
    pub crc64: u64,
    /// Lowercase hex; only when asked for.
    pub sha256: Option<String>,
}

/// MD5 + CRC-64 (+ optional SHA-256) over a byte stream.
pub(super) struct Hasher {
    size: u64,
    md5: Option<Md5>,
    crc64: Crc64Digest,
    sha256: Option<Sha256>,
}

impl Hasher {
    pub fn new(with_md5: bool, with_sha256: bool) -> Hasher {
        Hasher {
            size: 0,
            md5: with_md5.then(Md5::new),
            crc64: CRC64.digest(),
            sha256: with_sha256.then(Sha256::new),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
        self.crc64.update(bytes);
        if let Some(sha) = &mut self.sha256 {
            sha.update(bytes);
        }
    }

    pub fn finish(self) -> Hashes {
        Hashes {
            size: self.size,
            md5: self.md5.map(|md5| md5.finalize().into()).unwrap_or_default(),
            crc64: self.crc64.finalize(),
            sha256: self.sha256.map(|sha| hex::encode(sha.finalize())),
        }
    }
}

/// A file under `{data}/tmp`, removed on drop unless [`TempFile::persist`]ed.
pub(super) struct TempFile {
    path: PathBuf,
    persisted: bool,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the (already fsync'ed) file to `dest` and fsyncs `dest`'s directory, so the
    /// rename itself is durable before any metadata row points at `dest`. Blocking.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.persisted = true;
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
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
        TempFile { path: self.tmp_dir().join(format!("{}.tmp", random_hex(16))), persisted: false }
    }

    /// Streams `body` into a new fsync'ed temp file, hashing on the way, on a blocking thread
    /// fed through a bounded queue (memory stays bounded whatever the body size).
    ///
    /// A body that ends before or runs past `expected_len`, or fails, is
    /// [`StoreError::IncompleteBody`] (or [`StoreError::RequestTimeout`] when the stream's
    /// error kind is `TimedOut`); the temp file is then removed.
    pub(super) async fn receive(
        &self,
        mut body: BodyStream,
        expected_len: u64,
        with_sha256: bool,
    ) -> Result<(TempFile, Hashes), StoreError> {
        let temp = self.new_temp();
        let file = std::fs::File::create_new(temp.path())?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE_CHUNKS);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<Hashes> {
            let mut out = io::BufWriter::with_capacity(IO_BUFFER_BYTES, file);
            let mut hasher = Hasher::new(true, with_sha256);
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                out.write_all(&chunk)?;
            }
            out.flush()?;
            out.get_ref().sync_all()?;
            Ok(hasher.finish())
        });
        let mut received = 0u64;
        let body_result = loop {
            match body.next().await {
                None if received == expected_len => break Ok(()),
                None => break Err(StoreError::IncompleteBody),
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    if received > expected_len {
                        break Err(StoreError::IncompleteBody);
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
        if hashes.size != expected_len {
            return Err(StoreError::IncompleteBody);
        }
        Ok((temp, hashes))
    }

    /// Start-up: empties `tmp/`, removes object and part files no row refers to (a crash
    /// between rename and commit), and reopens uploads whose Complete was interrupted.
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
                std::fs::remove_file(entry.path())?;
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

    // Vectors from cos-api.md §3 (verified there against crcmod).
    #[test]
    fn crc64_matches_spec_vectors() {
        assert_eq!(crc64_of(b"123456789"), 0x995dc9bbdf1939fa);
        assert_eq!(crc64_of(b""), 0);
        assert_eq!(crc64_of(b"hello world\n"), 14969823782951187105);
        assert_eq!(crc64_of(&[0u8; 10]), 18232163685681099542);
        let mut both = vec![b'a'; 1 << 20];
        assert_eq!(crc64_of(&both), 6701094182323390671);
        both.extend(std::iter::repeat_n(b'b', 1 << 20));
        assert_eq!(crc64_of(&both), 761757173010594295);
    }
}
