//! One upload from start to finish:
//! hash (quick upload) → begin → send parts (global slots, retries, renewals, stall watchdog,
//! pause/resume) → confirm with the whole-file CRC64 → done; on failure or cancel the upload is
//! cancelled on the server, so nothing is left behind.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use futures::future::{select, Either};
use futures::stream::{FuturesUnordered, StreamExt};

use super::client::Uploader;
use super::control::Control;
use super::plan::{Plan, MIB};
use super::progress::{Phase, Progress, ProgressTracker};
use super::retry::{Backoff, XorShift};
use super::scheduler::{Slots, SlotGuard};
use super::state::UploadState;
use crate::cos::crc64;
use crate::cos::domain::Origin;
use crate::cos::put::{check_put_reply, put_request};
use crate::error::{Error, Result};
use crate::hash::{hex, QUICK_UPLOAD_BLOCK};
use crate::platform::{Body, FileSource, HttpRequest, HttpResponse, LocalBoxFuture, Part, ProgressFn};
use crate::smh::{Begin, Conflict, FileInfo, LibraryPath, UploadAuth};

/// Renewals one part may trigger in a row before its expired-authorisation error is final.
const MAX_RENEWALS_PER_PART: u32 = 3;
/// Renew this long before the authorisation expires, at most (smh-api.md §9.1: 5 minutes)…
const RENEW_MARGIN_MAX_MS: f64 = 5.0 * 60.0 * 1000.0;
/// …and at most this fraction of its lifetime, for short-lived authorisations.
const RENEW_MARGIN_FRACTION: f64 = 0.25;
/// Minimum time between two progress reports (the last one is always sent).
const PROGRESS_INTERVAL_MS: f64 = 100.0;
/// Bytes hashed per call while hashing (a whole number of 1 MiB blocks): the pause granularity.
const HASH_READ: u64 = 8 * MIB;
/// Times a part's bytes are read again after a failed read (a transient `NotReadableError`).
const READ_RETRIES: u32 = 2;

/// Per-upload options.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub path: LibraryPath,
    pub conflict: Conflict,
    /// Try quick upload (秒传) by hash for files of at least 1 MiB.
    pub quick_upload: bool,
}

/// Receives state changes and progress reports.
pub trait Observer {
    fn on_state(&self, state: UploadState);
    fn on_progress(&self, progress: &Progress);
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadResult {
    pub file: FileInfo,
    pub size: u64,
    /// Decimal CRC-64/XZ of the whole file.
    pub crc64: String,
    /// Quick upload hit: no byte was sent.
    pub instant: bool,
}

/// The authorisation currently used for PUTs.
#[derive(Clone)]
struct AuthState {
    auth: Rc<UploadAuth>,
    origin: Origin,
    generation: u64,
    /// Monotonic time after which it is renewed before use.
    renew_at_ms: f64,
}

struct Session {
    uploader: Rc<Uploader>,
    source: Rc<dyn FileSource>,
    opts: UploadOptions,
    control: Control,
    observer: Rc<dyn Observer>,
    plan: Plan,
    state: Cell<UploadState>,
    progress: RefCell<ProgressTracker>,
    last_emit_ms: Cell<f64>,
    /// A report was held back by the interval; [`Session::flush_progress`] sends it.
    progress_pending: Cell<bool>,
    auth: RefCell<Option<AuthState>>,
    /// The server-side upload to cancel if this one does not complete.
    open_upload: RefCell<Option<String>>,
    /// One renewal at a time.
    renew_lock: Slots,
    /// Retries left for the whole upload.
    budget: Cell<u32>,
    rng: RefCell<XorShift>,
}

/// Runs one upload. The returned future is the whole upload: dropping it aborts in-flight requests
/// (use [`Control::cancel`] to also cancel on the server).
pub async fn run(uploader: Rc<Uploader>, source: Rc<dyn FileSource>, opts: UploadOptions, control: Control, observer: Rc<dyn Observer>) -> Result<UploadResult> {
    let size = source.size();
    let cfg = uploader.config();
    let plan = match Plan::new(size, cfg.part_size, cfg.multipart_threshold, cfg.concurrency) {
        Ok(plan) => plan,
        Err(error) => {
            observer.on_state(UploadState::Failed);
            return Err(error);
        }
    };
    let hashing = opts.quick_upload && size >= QUICK_UPLOAD_BLOCK;
    let initial = if hashing { UploadState::Hashing } else { UploadState::Uploading };
    let seed = (uploader.api.timer.now_ms() * 1000.0) as u64 ^ size.rotate_left(17);
    let session = Rc::new(Session {
        budget: Cell::new(cfg.retry.retry_budget),
        uploader,
        source,
        opts,
        control: control.clone(),
        observer,
        plan,
        state: Cell::new(initial),
        progress: RefCell::new(ProgressTracker::new(if hashing { Phase::Hashing } else { Phase::Uploading }, size)),
        last_emit_ms: Cell::new(f64::NEG_INFINITY),
        progress_pending: Cell::new(false),
        auth: RefCell::new(None),
        open_upload: RefCell::new(None),
        renew_lock: Slots::new(1),
        rng: RefCell::new(XorShift::new(seed)),
    });
    // Boxed so that the losing future is dropped (aborting its requests) before cleanup runs.
    let flow = Box::pin(session.clone().flow());
    let cancelled = Box::pin(async {
        while !control.is_cancelled() {
            control.changed().await;
        }
    });
    let outcome = match select(flow, cancelled).await {
        Either::Left((result, _)) => result,
        Either::Right(((), flow)) => {
            drop(flow);
            Err(Error::Aborted)
        }
    };
    match outcome {
        Ok(result) => {
            session.set_state(UploadState::Done);
            Ok(result)
        }
        Err(error) => {
            let cancelled = control.is_cancelled();
            session.abandon().await;
            if cancelled {
                session.set_state(UploadState::Cancelled);
                Err(Error::Aborted)
            } else {
                session.set_state(UploadState::Failed);
                Err(error)
            }
        }
    }
}

impl Session {
    fn now_ms(&self) -> f64 {
        self.uploader.api.timer.now_ms()
    }

    fn set_state(&self, next: UploadState) {
        let current = self.state.get();
        debug_assert!(current == next || current.can_move_to(next), "state {current:?} -> {next:?}");
        if current != next && current.can_move_to(next) {
            self.state.set(next);
            self.observer.on_state(next);
        }
    }

    /// Reports progress, at most every [`PROGRESS_INTERVAL_MS`] unless `force`.
    fn emit(&self, force: bool) {
        let now = self.now_ms();
        if !force && now - self.last_emit_ms.get() < PROGRESS_INTERVAL_MS {
            self.progress_pending.set(true);
            return;
        }
        self.progress_pending.set(false);
        self.last_emit_ms.set(now);
        let snapshot = self.progress.borrow_mut().snapshot(now);
        self.observer.on_progress(&snapshot);
    }

    /// Sends a report that the interval held back (called on a timer while parts are in flight,
    /// so the latest byte count is never stuck behind the throttle).
    fn flush_progress(&self) {
        if self.progress_pending.get() {
            self.emit(false);
        }
    }

    fn backoff(&self) -> Backoff {
        let seed = (self.rng.borrow_mut().next_f64() * u64::MAX as f64) as u64;
        let mut rng = XorShift::new(seed);
        Backoff::new_with_rng(self.uploader.config().retry.backoff.clone(), Box::new(move || rng.next_f64()))
    }

    fn take_budget(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    /// Waits while paused; `resume_to` is the state to return to.
    async fn wait_while_paused(&self, resume_to: UploadState) {
        if !self.control.is_paused() {
            return;
        }
        self.set_state(UploadState::Paused);
        self.emit(true);
        while self.control.is_paused() && !self.control.is_cancelled() {
            self.control.changed().await;
        }
        self.set_state(resume_to);
    }

    async fn flow(self: Rc<Self>) -> Result<UploadResult> {
        let size = self.source.size();
        let multipart = matches!(self.plan, Plan::Multipart { .. });
        let api = &self.uploader.api;
        let (path, conflict) = (&self.opts.path, self.opts.conflict);
        let mut beginning = None;
        if self.state.get() == UploadState::Hashing {
            self.emit(true);
            // One block's chained hash is the SHA-256 of that block: the beginning hash.
            beginning = Some(hex(&self.source.chain_hash(0..QUICK_UPLOAD_BLOCK.min(size), None).await?));
        }
        let mut outcome = api.begin(path, multipart, size, conflict, beginning.clone(), None).await?;
        if let Begin::QuickCandidate = outcome {
            let full = self.full_hash(size).await?;
            outcome = api.begin(path, multipart, size, conflict, beginning, Some(full)).await?;
        }
        let auth = match outcome {
            Begin::Instant(file) => {
                self.progress.borrow_mut().set_phase(Phase::Uploading, size, size);
                self.emit(true);
                let crc64 = file.crc64.clone().unwrap_or_default();
                return Ok(UploadResult { file, size, crc64, instant: true });
            }
            Begin::Upload(auth) => auth,
            Begin::QuickCandidate => {
                return Err(Error::InvalidResponse { status: 202, message: "SMH asked for the full hash twice".into() })
            }
        };
        self.install_auth(auth)?;
        self.set_state(UploadState::Uploading);
        self.progress.borrow_mut().set_phase(Phase::Uploading, size, 0);
        self.emit(true);
        let crc = self.send_all().await?;
        self.set_state(UploadState::Confirming);
        self.progress.borrow_mut().set_phase(Phase::Confirming, size, size);
        self.emit(true);
        let confirm_key = self.auth.borrow().as_ref().map(|a| a.auth.confirm_key.clone()).unwrap_or_default();
        let file = match api.confirm(&confirm_key, crc, conflict).await {
            Ok(file) => file,
            // A retried confirm whose first attempt went through (its reply was lost).
            Err(Error::Smh { code, .. }) if code == "UploadComplete" => self.confirmed_file(&confirm_key, size, crc).await?,
            Err(Error::Smh { code, .. }) if code == "BadCrc64" => {
                return Err(Error::IntegrityMismatch { message: "SMH found a different CRC64 for the stored file than the bytes read".into() })
            }
            Err(e) => return Err(e),
        };
        self.open_upload.borrow_mut().take();
        Ok(UploadResult { file, size, crc64: crc.to_string(), instant: false })
    }

    /// The file of an upload SMH reports as already confirmed, checked against what was sent.
    async fn confirmed_file(&self, confirm_key: &str, size: u64, crc: u64) -> Result<FileInfo> {
        let api = &self.uploader.api;
        let task = api.query(confirm_key).await?;
        let segments: Vec<&str> = task.get("path").and_then(|p| p.as_array()).map(|a| a.iter().filter_map(|s| s.as_str()).collect()).unwrap_or_default();
        if task.get("confirmed").and_then(|c| c.as_bool()) != Some(true) || segments.is_empty() {
            return Err(Error::InvalidResponse { status: 409, message: "SMH says the upload is complete but does not report it confirmed".into() });
        }
        let file = api.info(&LibraryPath::parse(&segments.join("/"))?).await?;
        let same = file.size.is_none_or(|s| s == size) && file.crc64.as_deref().is_none_or(|c| c == crc.to_string());
        if !same {
            return Err(Error::IntegrityMismatch { message: "the confirmed file differs from the bytes sent".into() });
        }
        Ok(file)
    }

    /// Chained full hash for quick upload, pausable, reported as the hashing phase.
    async fn full_hash(&self, size: u64) -> Result<String> {
        self.progress.borrow_mut().set_phase(Phase::Hashing, size, 0);
        let mut hash = None;
        let mut offset = 0;
        while offset < size {
            self.wait_while_paused(UploadState::Hashing).await;
            if self.control.is_cancelled() {
                return Err(Error::Aborted);
            }
            let end = (offset + HASH_READ).min(size);
            hash = Some(self.source.chain_hash(offset..end, hash).await?);
            self.progress.borrow_mut().advance(end - offset);
            self.emit(false);
            offset = end;
        }
        hash.map(|h| hex(&h)).ok_or_else(|| Error::FileRead { message: "empty file has no full hash".into() })
    }

    /// Takes new upload parameters into use: checks the domain before any byte goes there.
    fn install_auth(&self, auth: UploadAuth) -> Result<()> {
        *self.open_upload.borrow_mut() = Some(auth.confirm_key.clone());
        let origin = self.uploader.allow.check(&auth.domain)?;
        if matches!(self.plan, Plan::Multipart { .. }) && auth.upload_id.as_deref().unwrap_or("").is_empty() {
            return Err(Error::InvalidResponse { status: 201, message: "multipart upload parameters without uploadId".into() });
        }
        let now = self.now_ms();
        let ttl = crate::smh::types::parse_iso8601_ms(&auth.expiration)
            .map(|exp| exp - self.uploader.api.timer.unix_ms())
            .unwrap_or(RENEW_MARGIN_MAX_MS * 3.0)
            .max(2_000.0);
        let margin = (ttl * RENEW_MARGIN_FRACTION).min(RENEW_MARGIN_MAX_MS);
        let generation = self.auth.borrow().as_ref().map_or(0, |a| a.generation + 1);
        *self.auth.borrow_mut() = Some(AuthState { auth: Rc::new(auth), origin, generation, renew_at_ms: now + ttl - margin });
        Ok(())
    }

    /// The authorisation to use now, renewed first when it is about to expire.
    async fn current_auth(&self) -> Result<AuthState> {
        let state = self.auth.borrow().clone().ok_or_else(|| Error::InvalidResponse { status: 0, message: "no upload parameters".into() })?;
        if self.now_ms() < state.renew_at_ms {
            return Ok(state);
        }
        self.renew(state.generation).await?;
        self.auth.borrow().clone().ok_or_else(|| Error::InvalidResponse { status: 0, message: "no upload parameters".into() })
    }

    /// Replaces the authorisation of generation `seen` (unless another part already did).
    /// Multipart uploads are renewed; a simple upload (SMH cannot renew those) is begun again.
    async fn renew(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.renew_lock.acquire().await;
        let current = self.auth.borrow().clone();
        let Some(current) = current else { return Ok(()) };
        if current.generation != seen {
            return Ok(());
        }
        let api = &self.uploader.api;
        let fresh = if current.auth.upload_id.is_some() {
            api.renew(&current.auth.confirm_key).await?
        } else {
            let size = self.source.size();
            match api.begin(&self.opts.path, false, size, self.opts.conflict, None, None).await? {
                Begin::Upload(auth) => {
                    // The old task will never be confirmed.
                    let _ = api.cancel(&current.auth.confirm_key).await;
                    auth
                }
                _ => return Err(Error::InvalidResponse { status: 200, message: "re-begin without hashes did not return upload parameters".into() }),
            }
        };
        self.install_auth(fresh)
    }

    /// Sends every part; returns the whole file's CRC64.
    async fn send_all(self: &Rc<Self>) -> Result<u64> {
        let count = self.plan.part_count();
        let mut done: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        loop {
            self.wait_while_paused(UploadState::Uploading).await;
            if self.control.is_cancelled() {
                return Err(Error::Aborted);
            }
            let pending: VecDeque<u32> = (1..=count).filter(|n| !done.contains_key(n)).collect();
            if pending.is_empty() {
                break;
            }
            self.send_some(pending, &mut done).await?;
        }
        let mut parts = done.values();
        let first = parts.next().map_or(0, |&(_, crc)| crc);
        Ok(parts.fold(first, |acc, &(len, crc)| crc64::combine(acc, crc, len)))
    }

    /// Sends `pending` parts until all are done, one fails, or the upload is paused/cancelled.
    async fn send_some(self: &Rc<Self>, mut pending: VecDeque<u32>, done: &mut BTreeMap<u32, (u64, u64)>) -> Result<()> {
        type PartFuture = LocalBoxFuture<'static, Result<(u32, u64, u64)>>;
        let slots = self.uploader.slots.clone();
        let mut running: FuturesUnordered<PartFuture> = FuturesUnordered::new();
        let mut acquiring = pending.front().map(|_| slots.acquire());
        let mut interrupted = self.control.interrupted();
        enum Event {
            Slot(SlotGuard),
            Part(Result<(u32, u64, u64)>),
            Interrupted,
        }
        loop {
            if acquiring.is_none() && running.is_empty() {
                return Ok(());
            }
            let event = poll_fn(|cx| {
                if Pin::new(&mut interrupted).poll(cx).is_ready() {
                    return Poll::Ready(Event::Interrupted);
                }
                if !running.is_empty() {
                    if let Poll::Ready(Some(result)) = running.poll_next_unpin(cx) {
                        return Poll::Ready(Event::Part(result));
                    }
                }
                if let Some(acquire) = acquiring.as_mut() {
                    if let Poll::Ready(guard) = Pin::new(acquire).poll(cx) {
                        return Poll::Ready(Event::Slot(guard));
                    }
                }
                Poll::Pending
            })
            .await;
            match event {
                Event::Interrupted => {
                    drop(running);
                    for n in pending.iter().copied().chain(1..=self.plan.part_count()) {
                        self.progress.borrow_mut().part_aborted(n);
                    }
                    return Ok(());
                }
                Event::Slot(guard) => {
                    if let Some(n) = pending.pop_front() {
                        running.push(Box::pin(self.clone().send_part(n, guard)));
                    }
                    acquiring = pending.front().map(|_| slots.acquire());
                }
                Event::Part(Ok((n, len, crc))) => {
                    done.insert(n, (len, crc));
                    self.progress.borrow_mut().part_done(n, len);
                    self.emit(running.is_empty() && acquiring.is_none());
                }
                Event::Part(Err(e)) => return Err(e),
            }
        }
    }

    /// Reads, sends and verifies part `n`, retrying inside; holds `_slot` throughout.
    async fn send_part(self: Rc<Self>, n: u32, _slot: SlotGuard) -> Result<(u32, u64, u64)> {
        let range = self.plan.part_range(n);
        let len = range.end - range.start;
        let part_number = matches!(self.plan, Plan::Multipart { .. }).then_some(n);
        let max_retries = self.uploader.config().retry.max_retries;
        let mut backoff = self.backoff();
        let (mut attempts, mut renewals, mut best_sent, mut rereads) = (0u32, 0u32, 0u64, 0u32);
        // The body goes out while its CRC is computed; the CRC is known from the first reply on.
        let mut part: Option<(Body, Option<LocalBoxFuture<'static, Result<u64>>>)> = None;
        let mut crc: Option<u64> = None;
        loop {
            if part.is_none() {
                let Part { body, crc64 } = self.source.part(range.clone()).await?;
                if body.len() != len {
                    return Err(Error::FileRead { message: format!("part {n}: expected {len} bytes, the file gave {}; the file changed", body.len()) });
                }
                part = Some((body, Some(crc64)));
            }
            let Some((body, pending_crc)) = part.as_mut() else { continue };
            let auth = self.current_auth().await?;
            let sent = Rc::new(Cell::new(0u64));
            let put = self.put_watched(n, &auth, part_number, body.clone(), sent.clone());
            let reply = match pending_crc.take() {
                Some(crc_future) => {
                    let (reply, computed) = futures::future::join(put, crc_future).await;
                    match computed {
                        Ok(value) => crc = Some(value),
                        Err(Error::FileRead { .. }) if rereads < READ_RETRIES => {
                            // The read behind the CRC failed: read the part again.
                            rereads += 1;
                            part = None;
                            self.progress.borrow_mut().part_aborted(n);
                            self.uploader.api.timer.sleep(backoff.next()).await;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                    reply
                }
                None => put.await,
            };
            let expected = crc.unwrap_or_default();
            let error = match reply.and_then(|resp| check_put_reply(&resp, expected)) {
                Ok(_) => return Ok((n, len, expected)),
                Err(e) => e,
            };
            self.progress.borrow_mut().part_aborted(n);
            if error.is_expired_authorisation() && renewals < MAX_RENEWALS_PER_PART {
                renewals += 1;
                self.renew(auth.generation).await?;
                continue;
            }
            let crc_mismatch = matches!(error, Error::IntegrityMismatch { .. });
            if sent.get() > best_sent {
                // The part made progress: start its retry count again.
                best_sent = sent.get();
                attempts = 0;
                backoff.reset();
            }
            if (error.retryable() || crc_mismatch) && attempts < max_retries && self.take_budget() {
                attempts += 1;
                self.uploader.api.timer.sleep(backoff.next()).await;
                continue;
            }
            return Err(error);
        }
    }

    /// One PUT with a stall watchdog: no upload progress for `stall_timeout` aborts it.
    async fn put_watched(self: &Rc<Self>, n: u32, auth: &AuthState, part_number: Option<u32>, body: Body, sent: Rc<Cell<u64>>) -> Result<HttpResponse> {
        let timer = self.uploader.api.timer.clone();
        let last_activity = Rc::new(Cell::new(timer.now_ms()));
        let progress: ProgressFn = {
            let (session, last_activity, sent, timer) = (Rc::downgrade(self), last_activity.clone(), sent.clone(), timer.clone());
            Rc::new(move |bytes: u64| {
                sent.set(bytes);
                last_activity.set(timer.now_ms());
                if let Some(session) = session.upgrade() {
                    session.progress.borrow_mut().part_progress(n, bytes);
                    session.emit(false);
                }
            })
        };
        let request: HttpRequest = put_request(&auth.origin, &auth.auth, part_number, body, Some(progress));
        let stall = self.uploader.config().retry.stall_timeout;
        let stall_ms = stall.as_secs_f64() * 1000.0;
        // The same tick flushes held-back progress reports.
        let tick = (stall / 4).clamp(std::time::Duration::from_millis(50), std::time::Duration::from_millis(PROGRESS_INTERVAL_MS as u64));
        let send = std::pin::pin!(self.uploader.api.http.send(request));
        let watchdog = std::pin::pin!(async {
            loop {
                timer.sleep(tick).await;
                self.flush_progress();
                if timer.now_ms() - last_activity.get() > stall_ms {
                    return Error::Timeout { message: format!("part {n}: no upload progress for {} s", stall.as_secs_f64()) };
                }
            }
        });
        match select(send, watchdog).await {
            Either::Left((result, _)) => result,
            Either::Right((error, _)) => Err(error),
        }
    }

    /// Cancels the server-side upload, if one is open (best effort: errors are ignored).
    async fn abandon(&self) {
        let key = self.open_upload.borrow_mut().take();
        if let Some(key) = key {
            let _ = self.uploader.api.cancel(&key).await;
        }
    }
}
