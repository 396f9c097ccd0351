//! [`Session`]: what one upload keeps while it runs, whichever service it goes through — the
//! state machine, progress reports, pause and cancel, the retry budget, reads of the file that
//! are retried, and the resumable record with its writes.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::{poll_fn, Future};
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use futures::future::OptionFuture;
use futures::FutureExt;

use super::checkpoint::{Record, SAVE_INTERVAL_MS};
use super::client::Uploader;
use super::control::Control;
use super::plan::{PartDone, PartsDone, Plan, MIB};
use super::progress::{Phase, ProgressTracker};
use super::state::UploadState;
use super::Observer;
use crate::checksum::{hex, QUICK_UPLOAD_BLOCK};
use crate::error::{Error, Result};
use crate::net::retry::{Backoff, Retry, XorShift};
use crate::platform::{FileSource, Hold, LocalBoxFuture, Part};

/// Minimum time between two progress reports (the last one is always sent).
pub(crate) const PROGRESS_INTERVAL_MS: f64 = 100.0;
/// Times a part's bytes are read again after a failed read (a transient `NotReadableError`).
pub(crate) const READ_RETRIES: u32 = 2;

/// How a cancel treats a call that opens or commits something on the server
/// ([`Session::shielded`], [`super::upload::run`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Shield {
    None,
    /// Opens a server upload and commits no file (SMH's begin without a full hash, COS's
    /// InitiateMultipartUpload): a cancel settles the task at once, and the upload the call
    /// opens is cancelled when its reply arrives.
    Opening,
    /// Its outcome says whether the file exists (confirm, Complete, a begin that may hit quick
    /// upload): a cancel waits for it, for at most this long (the call's own bound).
    Committing(Duration),
}

/// One part waiting for the network ([`Session::offline_wait`]): counted while it lives (a
/// paused or cancelled part is dropped mid-wait).
pub(crate) struct OfflineWait<'a>(&'a Cell<u32>);

impl Drop for OfflineWait<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// One upload's running state, shared by its flow and the part machinery.
pub(crate) struct Session {
    pub uploader: Rc<Uploader>,
    pub source: Rc<dyn FileSource>,
    pub control: Control,
    observer: Rc<dyn Observer>,
    pub plan: Plan,
    state: Cell<UploadState>,
    pub progress: RefCell<ProgressTracker>,
    last_report_ms: Cell<f64>,
    /// A report was held back by the interval; [`Session::flush_progress`] sends it.
    report_pending: Cell<bool>,
    /// Retries left for the whole upload.
    budget: Cell<u32>,
    rng: RefCell<XorShift>,
    /// The call running whose outcome must be known before stopping, if any (see
    /// [`Session::shielded`]).
    shield: Cell<Shield>,
    /// The hex SHA-256 of the file's first MiB, once read.
    beginning_hash: OnceCell<String>,
    /// The resumable record of this upload and its store key (multipart uploads only).
    record: RefCell<Option<(String, Record)>>,
    /// The record held against other uploads of it (other clients, other tabs) for the life of
    /// this one.
    hold: RefCell<Option<Hold>>,
    /// Unix time of the last record write.
    last_save_ms: Cell<f64>,
    /// Whether a COS reply without a readable CRC-64 was already reported.
    warned_no_crc: Cell<bool>,
    /// Parts waiting for the network now (progress says so while any is).
    offline_waits: Cell<u32>,
}

impl Session {
    /// The session of an upload of `source`, reported as preparing; a file the plan refuses is
    /// reported failed at once.
    pub fn new(
        uploader: Rc<Uploader>,
        source: Rc<dyn FileSource>,
        control: Control,
        observer: Rc<dyn Observer>,
    ) -> Result<Rc<Session>> {
        let size = source.size();
        let cfg = uploader.config();
        observer.on_state(UploadState::Preparing);
        let plan = match Plan::new(size, cfg.part_size, cfg.multipart_threshold, cfg.concurrency) {
            Ok(plan) => plan,
            Err(error) => {
                observer.on_state(UploadState::Failed);
                return Err(error);
            }
        };
        let seed = (uploader.timer.now_ms() * 1000.0) as u64 ^ size.rotate_left(17);
        Ok(Rc::new(Session {
            budget: Cell::new(cfg.retry.retry_budget),
            uploader,
            source,
            control,
            observer,
            plan,
            state: Cell::new(UploadState::Preparing),
            progress: RefCell::new(ProgressTracker::new(Phase::Uploading, size)),
            last_report_ms: Cell::new(f64::NEG_INFINITY),
            report_pending: Cell::new(false),
            rng: RefCell::new(XorShift::new(seed)),
            shield: Cell::new(Shield::None),
            beginning_hash: OnceCell::new(),
            record: RefCell::new(None),
            hold: RefCell::new(None),
            last_save_ms: Cell::new(f64::NEG_INFINITY),
            warned_no_crc: Cell::new(false),
            offline_waits: Cell::new(0),
        }))
    }

    pub fn size(&self) -> u64 {
        self.source.size()
    }

    pub fn is_multipart(&self) -> bool {
        matches!(self.plan, Plan::Multipart { .. })
    }

    pub fn now_ms(&self) -> f64 {
        self.uploader.timer.now_ms()
    }

    // --- state and progress ---

    pub fn set_state(&self, next: UploadState) {
        let current = self.state.get();
        debug_assert!(current == next || current.can_move_to(next), "state {current:?} -> {next:?}");
        if current != next && current.can_move_to(next) {
            self.state.set(next);
            self.observer.on_state(next);
        }
    }

    /// Reports progress now (a phase change, a pause, the end).
    pub fn report_progress_now(&self) {
        let now = self.now_ms();
        self.report_pending.set(false);
        self.last_report_ms.set(now);
        let mut snapshot = self.progress.borrow_mut().snapshot(now);
        snapshot.offline = self.offline_waits.get() > 0;
        self.observer.on_progress(&snapshot);
    }

    /// Reports progress unless the last report is younger than [`PROGRESS_INTERVAL_MS`]; then
    /// [`Session::flush_progress`] sends it later.
    pub fn report_progress(&self) {
        if self.now_ms() - self.last_report_ms.get() < PROGRESS_INTERVAL_MS {
            self.report_pending.set(true);
        } else {
            self.report_progress_now();
        }
    }

    /// Sends a report that the interval held back (called on a timer while parts are in flight,
    /// so the latest byte count is never stuck behind the throttle).
    pub fn flush_progress(&self) {
        if self.report_pending.get() {
            self.report_progress();
        }
    }

    /// Enters `phase` with `done` of `total` bytes already there, and reports it.
    pub fn enter_phase(&self, phase: Phase, total: u64, done: u64) {
        self.progress.borrow_mut().set_phase(phase, total, done);
        self.report_progress_now();
    }

    pub fn warn(&self, code: &'static str, message: &str) {
        self.observer.on_warning(code, message);
    }

    /// Tells the app once that COS's replies carry no readable CRC-64.
    pub fn warn_crc_not_checked(&self) {
        if !self.warned_no_crc.replace(true) {
            self.warn(
                "CrcNotChecked",
                "COS replied without a readable x-cos-hash-crc64ecma header, so parts are not checked one by one (expose it in the bucket's CORS ExposeHeaders); the whole file's CRC-64 is still checked at confirm",
            );
        }
    }

    // --- pause, cancel, retries ---

    /// Waits while paused; `resume_to` is the state to return to. Callers await it at once. (A
    /// plain function around one poll_fn: no state machine of its own in each caller's.)
    pub fn wait_while_paused(&self, resume_to: UploadState) -> impl Future<Output = ()> + '_ {
        let paused = self.control.is_paused();
        if paused {
            self.set_state(UploadState::Paused);
            self.report_progress_now();
        }
        let mut changed = self.control.changed();
        poll_fn(move |cx| {
            if !paused {
                return Poll::Ready(());
            }
            while self.control.is_paused() && !self.control.is_cancelled() {
                if Pin::new(&mut changed).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                changed = self.control.changed();
            }
            // A cancel while paused goes straight to `cancelled`: every caller checks for it next.
            if !self.control.is_cancelled() {
                self.set_state(resume_to);
            }
            Poll::Ready(())
        })
    }

    /// Whether the platform says the device has a network.
    pub fn is_online(&self) -> bool {
        self.uploader.config().retry.network.0.is_online()
    }

    /// Counts a part waiting for the network ([`crate::net::retry::wait_online`]) while the
    /// returned guard lives, and reports progress saying so.
    pub fn offline_wait(&self) -> OfflineWait<'_> {
        self.offline_waits.set(self.offline_waits.get() + 1);
        self.report_progress_now();
        OfflineWait(&self.offline_waits)
    }

    /// `Err(Aborted)` once the upload was cancelled.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.control.is_cancelled() {
            Err(Error::Aborted.into())
        } else {
            Ok(())
        }
    }

    /// Runs `call`, which opens or commits something on the server, so that a cancel does not
    /// drop it unheard: `shield` says how a cancel treats it ([`super::upload::run`]). Callers
    /// await it at once; dropped before its end (given up on), the shield stays.
    pub fn shielded<'a, T>(
        &'a self,
        shield: Shield,
        call: impl Future<Output = Result<T>> + 'a,
    ) -> impl Future<Output = Result<T>> + 'a {
        self.shield.set(shield);
        call.map(move |outcome| {
            self.shield.set(Shield::None);
            outcome
        })
    }

    /// The shielded call running now (or given up on: see [`Session::commit_unknown`]).
    pub fn shield(&self) -> Shield {
        self.shield.get()
    }

    /// How long one commit (SMH's confirm, COS's CompleteMultipartUpload) may take: the request
    /// timeout plus a second per 32 MiB, since the server assembles the parts before it answers
    /// and a fixed limit would time out, and repeat, every commit of a large file.
    pub fn commit_timeout(&self) -> Duration {
        self.uploader.config().retry.request_timeout + Duration::from_secs(self.size() / (32 * MIB))
    }

    /// A backoff of the client's policy with its own jitter.
    pub fn backoff(&self) -> Backoff {
        let seed = (self.rng.borrow_mut().next_f64() * u64::MAX as f64) as u64;
        Backoff::seeded(self.uploader.config().retry.backoff.clone(), seed)
    }

    /// Takes one retry from the upload's budget; `false` when it is spent.
    pub fn take_budget(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    /// The retries of a read of the file: [`READ_RETRIES`] after a failed read.
    pub fn read_retry(&self) -> Retry {
        Retry::new(READ_RETRIES, self.backoff())
    }

    // --- reads of the file ---

    /// `read()`'s outcome, asked again after a failed read of the file (a transient
    /// `NotReadableError`), like the reads behind parts. A plain function around one poll_fn
    /// (no state machine of its own); callers await it at once.
    fn reading<'a, T, F: Future<Output = Result<T>> + Unpin + 'a>(
        &'a self,
        read: impl Fn() -> F + 'a,
    ) -> impl Future<Output = Result<T>> + 'a {
        let mut reads = self.read_retry();
        let mut current = read();
        // The wait before the next read, after a failed one.
        let mut waiting: Option<LocalBoxFuture<'static, ()>> = None;
        poll_fn(move |cx| loop {
            if let Some(wait) = waiting.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                waiting = None;
                current = read();
            }
            let Poll::Ready(outcome) = Pin::new(&mut current).poll(cx) else { return Poll::Pending };
            let again =
                if matches!(&outcome, Err(e) if matches!(**e, Error::FileRead { .. })) { reads.take() } else { None };
            let Some(wait) = again else { return Poll::Ready(outcome) };
            waiting = Some(self.uploader.timer.sleep(wait));
        })
    }

    /// [`FileSource::chain_hash`], read again after a failed read.
    pub fn chain_hash(
        &self,
        range: Range<u64>,
        previous: Option<[u8; 32]>,
    ) -> impl Future<Output = Result<[u8; 32]>> + '_ {
        self.reading(move || self.source.chain_hash(range.clone(), previous))
    }

    /// Hex SHA-256 of the file's first MiB (all of it when smaller): quick upload's beginning
    /// hash, and the record key of files without a stable identity. Read once.
    pub async fn beginning_hash(&self) -> Result<String> {
        if let Some(hash) = self.beginning_hash.get() {
            return Ok(hash.clone());
        }
        let hash = hex(&self.chain_hash(0..QUICK_UPLOAD_BLOCK.min(self.size()), None).await?);
        Ok(self.beginning_hash.get_or_init(|| hash).clone())
    }

    /// CRC-64 of part `number`, read from the file (a resumed part, proven against the record),
    /// read again after a failed read.
    pub fn part_crc64(&self, number: u32) -> impl Future<Output = Result<u64>> + '_ {
        let range = self.plan.part_range(number);
        self.reading(move || -> LocalBoxFuture<'_, Result<u64>> {
            let part = self.source.part(range.clone());
            Box::pin(async {
                // The body is not held while the CRC is computed.
                let Part { crc64, .. } = part.await?;
                crc64.await
            })
        })
    }

    /// CRC-64 of the whole file, read from it part by part: what an upload whose parts the
    /// server no longer lists (it committed them) is checked against.
    pub async fn file_crc64(&self) -> Result<u64> {
        let mut crc = 0;
        for number in 1..=self.plan.part_count() {
            let range = self.plan.part_range(number);
            crc = crate::checksum::crc64::combine(crc, self.part_crc64(number).await?, range.end - range.start);
        }
        Ok(crc)
    }

    // --- the resumable record ---

    /// Starts this upload's record under `key` (no server upload yet), held by `hold`.
    pub fn start_record(&self, key: String, record: Record, hold: Hold) {
        *self.record.borrow_mut() = Some((key, record));
        *self.hold.borrow_mut() = Some(hold);
    }

    /// Lets go of this upload's record without touching the stored one (its server upload could
    /// not be checked): the next upload of the file may resume it.
    pub fn leave_record(&self) {
        if let Some((key, _)) = self.record.borrow_mut().take() {
            self.uploader.release(&key);
        }
        self.hold.borrow_mut().take();
    }

    /// Lets go of the hold on this upload's record (the upload ended): another upload of the
    /// file may continue it.
    pub fn release_hold(&self) {
        self.hold.borrow_mut().take();
    }

    /// The store key of this upload's record.
    pub fn record_key(&self) -> Option<String> {
        self.record.borrow().as_ref().map(|(key, _)| key.clone())
    }

    /// Notes in the record the server upload just opened for it (no parts yet).
    pub fn record_new_upload(&self, upload_id: &str, confirm_key: Option<&str>) {
        if let Some((_, record)) = self.record.borrow_mut().as_mut() {
            record.upload_id = Some(upload_id.to_string());
            record.confirm_key = confirm_key.map(str::to_string);
            record.parts.clear();
        }
    }

    /// Makes this upload's record continue `older` (its server upload, its age) with `parts`.
    pub fn continue_record(&self, older: &Record, parts: &PartsDone) {
        if let Some((_, record)) = self.record.borrow_mut().as_mut() {
            record.upload_id = older.upload_id.clone();
            record.confirm_key = older.confirm_key.clone();
            record.created_at = older.created_at;
            record.parts = parts.values().map(|p| (p.number, PartDone { etag: None, ..p.clone() })).collect();
        }
    }

    /// Notes a part done in the record.
    pub fn record_part(&self, part: &PartDone) {
        if let Some((_, record)) = self.record.borrow_mut().as_mut() {
            record.parts.insert(part.number, PartDone { etag: None, ..part.clone() });
        }
    }

    /// Writes the record now (a server upload opened, a pause, a stop); without a server upload
    /// there is nothing to write (`None` inside). A plain function returning the store's write:
    /// no state machine of its own around it in every caller's.
    pub fn save_record(&self) -> OptionFuture<impl Future<Output = ()> + '_> {
        let now = self.uploader.timer.unix_ms();
        let save = match self.record.borrow_mut().as_mut() {
            Some((key, record)) if record.upload_id.is_some() => {
                record.updated_at = now;
                self.uploader.checkpoints.save(key, record)
            }
            _ => return None.into(),
        };
        self.last_save_ms.set(now);
        Some(save).into()
    }

    /// Whether the record was written [`SAVE_INTERVAL_MS`] ago or longer.
    pub fn save_is_due(&self) -> bool {
        self.uploader.timer.unix_ms() - self.last_save_ms.get() >= SAVE_INTERVAL_MS
    }

    /// Removes the record (done, cancelled, or not resumable); a plain function returning the
    /// store's removal, like [`Session::save_record`].
    pub fn forget_record(&self) -> OptionFuture<impl Future<Output = ()> + '_> {
        let entry = self.record.borrow_mut().take();
        entry.map(|(key, _)| self.uploader.checkpoints.remove(&key)).into()
    }

    /// Whether a failed upload is worth resuming later: its record names a server upload that
    /// holds parts, and the error is one that time can cure (network, timeouts, server errors,
    /// a token or credentials fetch that failed).
    pub fn keep_for_resume(&self, error: &Error) -> bool {
        let has_parts =
            self.record.borrow().as_ref().is_some_and(|(_, r)| r.upload_id.is_some() && !r.parts.is_empty());
        has_parts && error.retryable()
    }

    /// Whether the upload ended (with `error`) not knowing whether the server committed the
    /// file: a commit given up on while it ran (a cancel past its bound), or a confirm /
    /// Complete that failed without an answer saying it did not commit. Its record and server
    /// upload are then kept, for the next upload() of the file to learn the outcome.
    pub fn commit_unknown(&self, error: &Error) -> bool {
        matches!(self.shield.get(), Shield::Committing(_))
            || (self.state.get() == UploadState::Confirming && error.retryable())
    }
}
