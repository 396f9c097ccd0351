//! Quick upload (秒传) in SMH's flow: the beginning hash with the first begin, the full hash when
//! SMH names a candidate, and the race between that hash and the parts.
//!
//! Quick upload never makes an upload much slower than a plain one, however slow the device
//! hashes (SHA-256 runs at ~10 MB/s in a phone's wasm interpreter): when SMH names a candidate
//! (202, docs/smh-api.md §5.8) the full hash runs alone only while it is predicted, from its
//! rate so far, to end within the client's `quickUploadWait`. Past that, a plain begin (no hash:
//! SMH opens an upload, §5.1) lets the parts go while the hash goes on. A hash that ends first is
//! sent with a second begin: a hit stores the file, the parts stop and the plain upload is
//! cancelled; a miss (a second upload SMH opens, cancelled at once) changes nothing. The hash
//! gives up when the parts are predicted to be all sent before it would end, and parts that are
//! all sent end the race: the upload is confirmed as any other.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;

use futures::future::Either;
use futures::FutureExt;

use super::SmhFlow;
use crate::checksum::{hex, QUICK_UPLOAD_BLOCK};
use crate::engine::flow::{Flow, Opened};
use crate::engine::plan::{PartsDone, MIB};
use crate::engine::progress::Phase;
use crate::engine::session::Shield;
use crate::engine::state::UploadState;
use crate::error::{Error, Result};
use crate::json::u64_to_string;
use crate::net::timeout::race;
use crate::platform::LocalBoxFuture;
use crate::smh::types::invalid;
use crate::smh::{Begin, Conflict, FileInfo};

/// Bytes read per [`FileSource::chain_hash`] call while hashing (a whole number of 1 MiB blocks):
/// the pause granularity. Large reads for I/O's sake; the source hashes them in slices that keep
/// the app's thread responsive (`HASH_SLICE` in src/platform/mod.rs).
const HASH_READ: u64 = 8 * MIB;

/// A quick upload's full hash as far as it got (before the parts started going alongside it).
pub(super) struct Racing {
    beginning: String,
    hash: FullHash,
}

/// The chained full hash of a file's first `offset` bytes, and the time spent computing it.
#[derive(Default)]
struct FullHash {
    offset: u64,
    raw: Option<[u8; 32]>,
    busy_ms: f64,
}

impl SmhFlow {
    /// Begins the upload with SMH: with the beginning hash first where quick upload may hit,
    /// then the full hash if SMH has a candidate and the hash is quick enough; a hit stores the
    /// file without sending a byte. A slower hash goes on alongside a plain upload (module doc).
    pub(super) async fn create_upload(&self) -> Result<Opened> {
        let session = &self.session;
        let size = session.size();
        let quick = self.options.quick_upload && size >= QUICK_UPLOAD_BLOCK;
        let beginning = if quick { Some(session.beginning_hash().await?) } else { None };
        let mut outcome = self.begin_with_parents(beginning.as_deref()).await?;
        if let Begin::QuickCandidate = outcome {
            session.set_state(UploadState::Hashing);
            session.enter_phase(Phase::Hashing, size, 0);
            let mut hash = FullHash::default();
            outcome = match self.full_hash(&mut hash, true).await? {
                Some(full) => {
                    let beginning = beginning.unwrap_or_default();
                    // A miss opens its upload with `ask`: the confirm says the caller's strategy
                    // (it overrides the begin's, docs/smh-api.md §5.6).
                    match self.ask_with_hashes(&beginning, &full).await? {
                        Some(begin) => begin,
                        // The path is taken (or holds another file): SMH renames or refuses as
                        // asked. With `rename`, a reply lost now can leave a second copy.
                        None => self.begin_with_full_hash(&beginning, &full, self.options.conflict).await?,
                    }
                }
                None => {
                    let plain = self.begin_with_parents(None).await?;
                    let beginning = beginning.unwrap_or_default();
                    *self.racing.borrow_mut() = Some(Racing { beginning, hash });
                    plain
                }
            };
        }
        match outcome {
            Begin::Instant(file) => {
                self.keep_instant(file);
                Ok(Opened::Stored)
            }
            Begin::Upload(auth) => {
                self.install_auth(auth)?;
                // The record names the multipart upload the parameters just taken into use.
                if let Some(state) = self.auth.borrow().as_ref() {
                    if let Some(upload_id) = &state.auth.upload_id {
                        session.record_new_upload(upload_id, Some(&state.auth.confirm_key));
                    }
                }
                Ok(Opened::Parts(PartsDone::new()))
            }
            Begin::QuickCandidate => Err(invalid(202, "SMH asked for the full hash twice")),
        }
    }

    /// Keeps the file a quick-upload hit stored.
    pub(super) fn keep_instant(&self, file: Box<FileInfo>) {
        let size = self.session.size();
        self.session.enter_phase(Phase::Uploading, size, size);
        let crc64 = file.crc64.clone().unwrap_or_default();
        self.keep(file, crc64, true);
    }

    /// The full hash from where `hash` got: `Some(hex)` when it ends, `None` when it stops early.
    /// Alone (`alone`: before any part is sent, reported as the hashing phase) it stops when the
    /// whole hash is predicted, from its rate so far, to take longer than `quickUploadWait`.
    /// Beside the parts it stops when they are predicted to be all sent before it would end (both
    /// ran for the same time, so the bytes each did since the race began are their rates).
    async fn full_hash(&self, hash: &mut FullHash, alone: bool) -> Result<Option<String>> {
        let session = &self.session;
        let (size, wait_ms) = (session.size(), session.uploader.config().quick_upload_wait.as_secs_f64() * 1000.0);
        let (total, start) = (size as f64, hash.offset as f64);
        let resume_to = if alone { UploadState::Hashing } else { UploadState::Uploading };
        loop {
            // Paused, nothing goes out: no read, and no begin with the hash once it is known.
            session.wait_while_paused(resume_to).await;
            session.check_cancelled()?;
            if hash.offset == size {
                break;
            }
            let done = hash.offset as f64;
            let stop = if alone {
                wait_ms == 0.0 || (done > 0.0 && hash.busy_ms * total / done > wait_ms)
            } else {
                let (hashed, sent) = (done - start, session.progress.borrow().done() as f64);
                hashed > 0.0 && sent > 0.0 && (total - done) * sent > (total - sent) * hashed
            };
            if stop {
                return Ok(None);
            }
            let (begin, started) = (hash.offset, session.now_ms());
            hash.offset = (begin + HASH_READ).min(size);
            hash.raw = Some(session.chain_hash(begin..hash.offset, hash.raw).await?);
            hash.busy_ms += session.now_ms() - started;
            if alone {
                session.progress.borrow_mut().advance(hash.offset - begin);
                session.report_progress();
            }
        }
        Ok(hash.raw.map(|h| hex(&h)))
    }

    /// The parts go (`sending`), alone when no full hash goes on (none is left in `racing`),
    /// else while the full hash goes on; the hash sent with a second begin decides: a hit stops the
    /// parts and cancels their upload (`Ok(true)`), a miss lets them go on. Parts all sent first
    /// end the race, unless SMH is being asked: its answer decides. A hash that fails or stops
    /// early leaves the parts to go on (they do not need it).
    ///
    /// That begin is [`Self::ask_with_hashes`], never sent where the path is taken: a hit stored
    /// beside the path (`rename`) would be a second file once the plain upload is confirmed.
    pub(super) async fn race(&self, mut sending: LocalBoxFuture<'_, Result<()>>) -> Result<bool> {
        // Without a full hash going on, or after a miss, the parts alone.
        if let Some(mut racing) = self.racing.take() {
            let asking = Cell::new(false);
            let mut quick = pin!(async {
                let Ok(Some(full)) = self.full_hash(&mut racing.hash, false).await else {
                    return Ok::<bool, Box<Error>>(false);
                };
                asking.set(true);
                match self.ask_with_hashes(&racing.beginning, &full).await? {
                    Some(Begin::Instant(file)) => {
                        self.keep_instant(file);
                        Ok(true)
                    }
                    // A miss: SMH opened a second upload; the parts go on in the first.
                    Some(Begin::Upload(second)) => {
                        self.shielded_cancel(self.uploader.cancel_task(Some(&second.confirm_key))).await?;
                        Ok(false)
                    }
                    _ => Ok(false),
                }
            });
            let hit = match race(sending.as_mut(), quick.as_mut()).await {
                Either::Left(sent) => {
                    if !(asking.get() && quick.await?) {
                        return sent.map(|()| false);
                    }
                    true
                }
                Either::Right(hit) => hit?,
            };
            if hit {
                // The parts in flight are aborted before their upload is cancelled; the file is
                // stored, so a cancel() now comes too late (shielded).
                drop(sending);
                self.shielded_cancel(self.abandon()).await?;
                return Ok(true);
            }
        }
        sending.await.map(|()| false)
    }

    /// Runs `cancel` (of a task SMH opened, best effort: never an error) shielded as a commit,
    /// bounded by the request timeout, so that a cancel() meanwhile does not drop it unsent.
    fn shielded_cancel<'a>(&'a self, cancel: LocalBoxFuture<'a, ()>) -> impl Future<Output = Result<()>> + 'a {
        let bound = self.session.uploader.config().retry.request_timeout;
        let cancel: LocalBoxFuture<'a, Result<()>> = Box::pin(cancel.map(Ok));
        self.session.shielded(Shield::Committing(bound), cancel)
    }

    /// SMH's begin with both hashes, sent so that a lost reply cannot store the file twice:
    /// unless the strategy is `overwrite`, it asks for no rename, and only while the path is
    /// free. A hit can then be stored nowhere but at the path, so a begin without an answer (its
    /// reply lost, or its resend refused as the path is taken) is settled by the file at the
    /// path. `None`: not sent (the path is taken), or refused, or settled as not stored.
    async fn ask_with_hashes(&self, beginning: &str, full: &str) -> Result<Option<Begin>> {
        let settle = self.options.conflict != Conflict::Overwrite;
        // A file at the path (an error: none, or SMH could not say).
        if settle && self.api().info(&self.options.path).await.is_ok() {
            return Ok(None);
        }
        let conflict = if settle { Conflict::Ask } else { Conflict::Overwrite };
        match self.begin_with_full_hash(beginning, full, conflict).await {
            Ok(begin) => Ok(Some(begin)),
            Err(e) if settle && unanswered(&e) => Ok(self.stored_by_the_begin().await?.map(Begin::Instant)),
            Err(_) => Ok(None),
        }
    }

    /// After a begin with the full hash got no answer: the file it stored at the path, if it
    /// stored this file there (the hit). A retryable error when SMH cannot be asked: the upload then fails with
    /// its record kept, rather than risk a second copy. Shielded as the begin was: a file it
    /// stored is the outcome, whatever cancel() says meanwhile.
    fn stored_by_the_begin(&self) -> impl Future<Output = Result<Option<Box<FileInfo>>>> + '_ {
        let session = &self.session;
        let bound = session.uploader.config().retry.request_timeout;
        // Boxed: the futures awaiting it hold a pointer, not the CRC-64 read's state.
        let settle: LocalBoxFuture<'_, Result<Option<Box<FileInfo>>>> = Box::pin(async {
            let crc = u64_to_string(session.file_crc64().await?);
            match self.api().info(&self.options.path).await {
                Ok(file) if file.size == Some(session.size()) && file.crc64.as_deref() == Some(crc.as_str()) => {
                    Ok(Some(file))
                }
                Err(e) if e.retryable() => Err(e),
                _ => Ok(None),
            }
        });
        session.shielded(Shield::Committing(bound), settle)
    }

    /// SMH's begin with both hashes (shielded from cancel): a hit, or an upload SMH opened.
    fn begin_with_full_hash(
        &self,
        beginning: &str,
        full: &str,
        conflict: Conflict,
    ) -> impl Future<Output = Result<Begin>> + '_ {
        let session = &self.session;
        let begin = self.begin_call(conflict, Some(beginning), Some(full));
        session.shielded(Shield::Committing(session.uploader.config().retry.request_timeout), begin)
    }
}

/// Whether a begin's error leaves its outcome unknown (no reply), or may be the refusal of its
/// own resend after a lost reply stored the file (the path taken).
fn unanswered(error: &Error) -> bool {
    matches!(error.code(), "Network" | "Timeout" | "SameNameDirectoryOrFileExists")
}
