//! One upload from start to finish, through SMH ([`run`]) or straight to COS ([`run_cos`]):
//! - SMH: hash (quick upload) → begin → send parts → confirm with the whole-file CRC64 → done;
//! - COS: (resume via ListParts | InitiateMultipartUpload) → send parts → CompleteMultipartUpload,
//!   its CRC-64 checked against the parts' → done (a small file is one PutObject).
//!
//! Both share the part machinery: global slots, retries, renewals of the authorisation (SMH's
//! upload parameters, or the temporary credentials), stall watchdog, pause/resume, resumable
//! records. On failure or cancel the upload is cancelled on the server, so nothing is left behind.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use crate::vecmap::VecMap as BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use futures::future::{select, Either};
use futures::stream::{FuturesUnordered, StreamExt};

use super::checkpoint::{Identity, Record, SAVE_INTERVAL_MS};
use super::client::{Service, Uploader};
use super::control::Control;
use super::plan::{Plan, MIB};
use super::progress::{Phase, Progress, ProgressTracker};
use super::scheduler::SlotGuard;
use super::state::UploadState;
use crate::checksum::crc64;
use crate::checksum::{hex, QUICK_UPLOAD_BLOCK};
use crate::cos::api::{Completed, CosApi};
use crate::cos::domain::Origin;
use crate::cos::put::{check_put_reply, put_request, PutOf};
use crate::error::{Error, Result};
use crate::lock::Lock;
use crate::net::retry::{Backoff, XorShift};
use crate::platform::{Body, FileSource, HttpRequest, HttpResponse, LocalBoxFuture, Part, ProgressFn};
use crate::smh::{Begin, Conflict, FileInfo, LibraryPath, SmhApi, UploadAuth};

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
    /// Create missing parent directories (and retry once) when SMH answers `DirectoryNotFound`.
    pub create_parents: bool,
}

/// A direct-COS upload's object: its key and the headers it is stored with.
#[derive(Debug, Clone, Default)]
pub struct CosObject {
    /// Checked with [`crate::cos::api::validate_key`].
    pub key: String,
    pub content_type: Option<String>,
    /// `x-cos-meta-{name}: value` pairs (names without the prefix).
    pub meta: Vec<(String, String)>,
}

/// Most bytes of user metadata COS stores with an object.
pub const MAX_META_BYTES: usize = 2048;

impl CosObject {
    /// Checks `content_type` and `meta`: printable ASCII (they travel as HTTP headers), names of
    /// letters, digits, `-` and `_`, at most 2 KB of metadata.
    pub fn validate(&self) -> Result<()> {
        let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if let Some(t) = &self.content_type {
            if t.trim().is_empty() || !printable(t) {
                return Err(Error::invalid_input("contentType", "must be a non-empty MIME type of printable ASCII"));
            }
        }
        let mut total = 0;
        for (name, value) in &self.meta {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(Error::invalid_input("meta", "names must be letters, digits, '-' or '_'"));
            }
            if !printable(value) {
                return Err(Error::invalid_input(
                    "meta",
                    "values must be printable ASCII (encode other text, e.g. with encodeURIComponent)",
                ));
            }
            total += name.len() + value.len();
        }
        if total > MAX_META_BYTES {
            return Err(Error::invalid_input("meta", "COS stores at most 2 KB of metadata per object"));
        }
        Ok(())
    }

    /// The headers the object is created with (PutObject, InitiateMultipartUpload).
    fn headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> =
            self.content_type.iter().map(|t| ("Content-Type".to_string(), t.clone())).collect();
        headers.extend(self.meta.iter().map(|(k, v)| (format!("x-cos-meta-{}", k.to_ascii_lowercase()), v.clone())));
        headers
    }
}

/// What an upload writes.
#[derive(Debug, Clone)]
enum Destination {
    Smh(UploadOptions),
    Cos(CosObject),
}

/// A finished direct-COS upload.
#[derive(Debug, Clone, PartialEq)]
pub struct CosResult {
    pub key: String,
    pub size: u64,
    /// Decimal CRC-64/XZ of the whole object (checked against COS's where COS reported it).
    pub crc64: String,
    pub etag: Option<String>,
    /// `{domain}/{key}`, as COS's CompleteMultipartUpload names it.
    pub location: String,
}

/// Receives state changes, progress reports and warnings.
pub trait Observer {
    fn on_state(&self, state: UploadState);
    fn on_progress(&self, progress: &Progress);
    /// Something the app should know that does not stop the upload; `code` is stable.
    fn on_warning(&self, _code: &'static str, _message: &str) {}
}

/// Whole-file CRC-64 from the part CRCs (in part order).
fn combine_parts(parts: &BTreeMap<u32, (u64, u64)>) -> u64 {
    let mut iter = parts.values();
    let first = iter.next().map_or(0, |&(_, crc)| crc);
    iter.fold(first, |acc, &(len, crc)| crc64::combine(acc, crc, len))
}

/// Part number → size of the parts SMH's task query lists (COS ListParts, PascalCase).
fn task_parts(task: &crate::json::Value) -> BTreeMap<u32, u64> {
    let number = crate::json::Value::to_u64;
    task.get("parts")
        .and_then(|p| p.as_array())
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| Some((u32::try_from(number(p.get("PartNumber")?)?).ok()?, number(p.get("Size")?)?)))
                .collect()
        })
        .unwrap_or_default()
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
    dest: Destination,
    control: Control,
    observer: Rc<dyn Observer>,
    plan: Plan,
    state: Cell<UploadState>,
    progress: RefCell<ProgressTracker>,
    last_emit_ms: Cell<f64>,
    /// A report was held back by the interval; [`Session::flush_progress`] sends it.
    progress_pending: Cell<bool>,
    auth: RefCell<Option<AuthState>>,
    /// The server-side upload to cancel if this one does not complete: SMH's confirmKey, or
    /// COS's UploadId.
    open_upload: RefCell<Option<String>>,
    /// ETags of the parts COS stored (direct COS: CompleteMultipartUpload lists them).
    etags: RefCell<BTreeMap<u32, String>>,
    /// One renewal at a time.
    renew_lock: Lock,
    /// Retries left for the whole upload.
    budget: Cell<u32>,
    rng: RefCell<XorShift>,
    /// A call is running whose outcome must be known before stopping (begin, confirm): a
    /// cancel waits for it instead of dropping it (see [`Session::shielded`]).
    shielded: Cell<bool>,
    /// The resumable record of this upload and its store key (multipart uploads only).
    checkpoint: RefCell<Option<(String, Record)>>,
    /// Unix time of the last checkpoint write.
    last_save_ms: Cell<f64>,
    /// Whether a COS reply without a readable CRC-64 was already reported.
    warned_no_crc: Cell<bool>,
}

/// How an upload starts.
enum Start {
    /// From nothing: begin with SMH.
    Fresh,
    /// An earlier upload of the same file continues; these parts (number → length, CRC) are done.
    Resumed(BTreeMap<u32, (u64, u64)>),
    /// An earlier upload of the same file had in fact completed.
    Finished(UploadResult),
}

/// Runs one SMH upload. The returned future is the whole upload: dropping it aborts in-flight
/// requests (use [`Control::cancel`] to also cancel on the server).
///
/// `cancel()` stops at once, except while SMH is beginning or confirming the upload: then it
/// waits for the reply, so that an upload SMH opened is cancelled too (nothing is left open),
/// and a file SMH committed is reported done (`cancel()` came too late to undo it).
pub async fn run(
    uploader: Rc<Uploader>,
    source: Rc<dyn FileSource>,
    opts: UploadOptions,
    control: Control,
    observer: Rc<dyn Observer>,
) -> Result<UploadResult> {
    let session = Session::new(uploader, source, Destination::Smh(opts), control, observer)?;
    drive(session.clone(), session.flow()).await
}

/// Runs one direct-COS upload of `object` (see [`run`]; Initiate and Complete are shielded
/// from cancel the way SMH's begin and confirm are).
pub async fn run_cos(
    uploader: Rc<Uploader>,
    source: Rc<dyn FileSource>,
    object: CosObject,
    control: Control,
    observer: Rc<dyn Observer>,
) -> Result<CosResult> {
    let session = Session::new(uploader, source, Destination::Cos(object), control, observer)?;
    drive(session.clone(), session.cos_flow()).await
}

/// Runs `flow` of `session` to its end, obeys cancel, and cleans up: the record is kept for a
/// later resume or forgotten, the server upload cancelled when it will not complete.
async fn drive<T>(session: Rc<Session>, flow: impl Future<Output = Result<T>>) -> Result<T> {
    let control = session.control.clone();
    // Boxed so that the losing future is dropped (aborting its requests) before cleanup runs.
    let flow = Box::pin(flow);
    let cancelled = Box::pin(async {
        while !control.is_cancelled() || session.shielded.get() {
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
    let key = session.checkpoint.borrow().as_ref().map(|(key, _)| key.clone());
    let result = match outcome {
        Ok(result) => {
            session.forget_checkpoint().await;
            session.set_state(UploadState::Done);
            Ok(result)
        }
        Err(error) => {
            let cancelled = control.is_cancelled();
            if !cancelled && session.keep_for_resume(&error) {
                // Parts are on the server and the record says which: a later upload() of the
                // same file continues from there (or discardPending() cancels it).
                session.save_checkpoint(true).await;
            } else {
                session.forget_checkpoint().await;
                session.abandon().await;
            }
            if cancelled {
                session.set_state(UploadState::Cancelled);
                Err(Error::Aborted)
            } else {
                session.set_state(UploadState::Failed);
                Err(error)
            }
        }
    };
    if let Some(key) = key {
        session.uploader.release(&key);
    }
    result
}

impl Session {
    fn new(
        uploader: Rc<Uploader>,
        source: Rc<dyn FileSource>,
        dest: Destination,
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
            dest,
            control,
            observer,
            plan,
            state: Cell::new(UploadState::Preparing),
            progress: RefCell::new(ProgressTracker::new(Phase::Uploading, size)),
            last_emit_ms: Cell::new(f64::NEG_INFINITY),
            progress_pending: Cell::new(false),
            auth: RefCell::new(None),
            open_upload: RefCell::new(None),
            etags: RefCell::default(),
            renew_lock: Lock::new(),
            rng: RefCell::new(XorShift::new(seed)),
            shielded: Cell::new(false),
            checkpoint: RefCell::new(None),
            last_save_ms: Cell::new(f64::NEG_INFINITY),
            warned_no_crc: Cell::new(false),
        }))
    }

    /// The SMH API and options of an SMH upload.
    fn smh(&self) -> Result<(&SmhApi, &UploadOptions)> {
        match (&self.uploader.service, &self.dest) {
            #[cfg(feature = "smh-client")]
            (Service::Smh(api), Destination::Smh(opts)) => Ok((api, opts)),
            _ => Err(Error::invalid_input("client", "an SMH upload needs an SmhClient")),
        }
    }

    /// The COS API and object of a direct-COS upload.
    fn cos(&self) -> Result<(&CosApi, &CosObject)> {
        match (&self.uploader.service, &self.dest) {
            #[cfg(feature = "cos-uploader")]
            (Service::Cos(api), Destination::Cos(object)) => Ok((api, object)),
            _ => Err(Error::invalid_input("client", "a direct-COS upload needs a CosUploader")),
        }
    }

    /// Tells the app once that COS's replies carry no readable CRC-64.
    fn warn_crc_not_checked(&self) {
        if !self.warned_no_crc.replace(true) {
            self.observer.on_warning(
                "CrcNotChecked",
                "COS replied without a readable x-cos-hash-crc64ecma header, so parts are not checked one by one (expose it in the bucket's CORS ExposeHeaders); the whole file's CRC-64 is still checked at confirm",
            );
        }
    }

    fn now_ms(&self) -> f64 {
        self.uploader.timer.now_ms()
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

    /// [`FileSource::chain_hash`], read again after a failed read (a transient
    /// `NotReadableError`), like the reads behind parts.
    async fn chain_hash(&self, range: std::ops::Range<u64>, previous: Option<[u8; 32]>) -> Result<[u8; 32]> {
        let mut rereads = 0;
        loop {
            match self.source.chain_hash(range.clone(), previous).await {
                Err(Error::FileRead { .. }) if rereads < READ_RETRIES => {
                    rereads += 1;
                    self.uploader.timer.sleep(self.backoff().wait()).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Runs `call` so that a cancel waits for its outcome; then stops if cancelled meanwhile.
    async fn shielded<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        self.shielded.set(true);
        let outcome = call.await;
        self.shielded.set(false);
        outcome
    }

    /// `Err(Aborted)` once the upload was cancelled.
    fn check_cancelled(&self) -> Result<()> {
        if self.control.is_cancelled() {
            Err(Error::Aborted)
        } else {
            Ok(())
        }
    }

    async fn flow(self: Rc<Self>) -> Result<UploadResult> {
        let size = self.source.size();
        let multipart = matches!(self.plan, Plan::Multipart { .. });
        let (api, opts) = self.smh()?;
        let conflict = opts.conflict;
        let quick = opts.quick_upload && size >= QUICK_UPLOAD_BLOCK;
        let resumable = multipart && self.uploader.checkpoints.enabled();
        // One block's chained hash is the SHA-256 of that block: the beginning hash. It serves
        // quick upload and, for files without a stable identity, the resumable record's key.
        let hash_first = quick || (resumable && !self.source.stable_identity());
        let beginning = if hash_first { Some(self.beginning_hash().await?) } else { None };
        self.wait_while_paused(UploadState::Preparing).await;
        self.check_cancelled()?;
        let mut done = BTreeMap::new();
        match self.start(beginning.as_deref(), resumable).await? {
            Start::Finished(result) => return Ok(result),
            Start::Resumed(parts) => done = parts,
            Start::Fresh => {
                let hashes = if quick { beginning.clone() } else { None };
                let mut outcome = self.begin(hashes.clone(), None).await?;
                if let Begin::QuickCandidate = outcome {
                    self.set_state(UploadState::Hashing);
                    let full = self.full_hash(size).await?;
                    outcome = self.begin(hashes, Some(full)).await?;
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
                        return Err(Error::InvalidResponse {
                            status: 202,
                            message: "SMH asked for the full hash twice".into(),
                        })
                    }
                };
                self.install_auth(auth)?;
                self.start_checkpoint();
                self.save_checkpoint(true).await;
            }
        }
        let crc = self.send_then_confirm(done).await?;
        let confirm_key = self.auth.borrow().as_ref().map(|a| a.auth.confirm_key.clone()).unwrap_or_default();
        let confirmed = self.shielded(api.confirm(&confirm_key, crc, conflict, self.confirm_timeout())).await;
        let file = match confirmed {
            Ok(file) => file,
            // A retried confirm whose first attempt went through (its reply was lost).
            Err(Error::Smh { code, .. }) if code == "UploadComplete" => {
                self.confirmed_file(&confirm_key, size, crc).await?
            }
            Err(Error::Smh { code, .. }) if code == "BadCrc64" => {
                return Err(Error::IntegrityMismatch {
                    message: "SMH found a different CRC64 for the stored file than the bytes read".into(),
                })
            }
            Err(e) => return Err(e),
        };
        self.open_upload.borrow_mut().take();
        Ok(UploadResult { file, size, crc64: crc.to_string(), instant: false })
    }

    /// Sends the parts not in `done` (the uploading phase counts from the bytes already there),
    /// then enters the confirming state; returns the whole file's CRC-64.
    async fn send_then_confirm(self: &Rc<Self>, done: BTreeMap<u32, (u64, u64)>) -> Result<u64> {
        let size = self.source.size();
        let resumed: u64 = done.values().map(|&(len, _)| len).sum();
        self.set_state(UploadState::Uploading);
        self.progress.borrow_mut().set_phase(Phase::Uploading, size, resumed);
        self.emit(true);
        let crc = self.send_all(done).await?;
        self.save_checkpoint(true).await;
        self.set_state(UploadState::Confirming);
        self.progress.borrow_mut().set_phase(Phase::Confirming, size, size);
        self.emit(true);
        Ok(crc)
    }

    /// Hex SHA-256 of the file's first MiB (all of it when smaller): quick upload's beginning
    /// hash.
    async fn beginning_hash(&self) -> Result<String> {
        Ok(hex(&self.chain_hash(0..QUICK_UPLOAD_BLOCK.min(self.source.size()), None).await?))
    }

    /// The direct-COS flow: resume or initiate (multipart), send, complete and check the CRC-64;
    /// a file at or below the threshold is one PutObject.
    async fn cos_flow(self: Rc<Self>) -> Result<CosResult> {
        let (api, object) = self.cos()?;
        let size = self.source.size();
        let multipart = matches!(self.plan, Plan::Multipart { .. });
        let mut done = BTreeMap::new();
        if multipart {
            let resumed = if self.uploader.checkpoints.enabled() { self.cos_resume(api, object).await? } else { None };
            self.wait_while_paused(UploadState::Preparing).await;
            self.check_cancelled()?;
            match resumed {
                Some(parts) => done = parts,
                None => {
                    let upload_id = self.shielded(api.initiate(&object.key, &object.headers())).await?;
                    // Known before any cancel is obeyed, so that abandon() aborts it.
                    *self.open_upload.borrow_mut() = Some(upload_id.clone());
                    self.check_cancelled()?;
                    if let Some((_, record)) = self.checkpoint.borrow_mut().as_mut() {
                        record.confirm_key = object.key.clone();
                        record.upload_id = upload_id;
                        record.parts.clear();
                    }
                    self.save_checkpoint(true).await;
                }
            }
        } else {
            self.wait_while_paused(UploadState::Preparing).await;
            self.check_cancelled()?;
        }
        let crc = self.send_then_confirm(done).await?;
        let etag = if multipart {
            let upload_id = self.open_upload.borrow().clone().unwrap_or_default();
            let completed = self.shielded(self.cos_complete(api, object, &upload_id, size, crc)).await?;
            self.open_upload.borrow_mut().take();
            // Complete's reply names the object's CRC-64; where it does not (a proxy, a bucket
            // whose CORS hides the header), HEAD may (it needs the HeadObject permission).
            let stored = match completed.crc64 {
                Some(stored) => Some(stored),
                None => api.head(&object.key).await.ok().and_then(|(_, _, crc)| crc),
            };
            match stored {
                Some(stored) if stored != crc => {
                    return Err(Error::IntegrityMismatch {
                        message: format!("COS assembled an object whose CRC-64 differs from the file's ({crc})"),
                    })
                }
                Some(_) => {}
                None => self.warn_crc_not_checked(),
            }
            completed.etag
        } else {
            self.etags.borrow().get(&1).cloned()
        };
        let location = format!("{}/{}", api.target.origin.authority, object.key);
        Ok(CosResult { key: object.key.clone(), size, crc64: crc.to_string(), etag, location })
    }

    /// CompleteMultipartUpload with every part's ETag. A retried Complete whose first attempt
    /// went through (its reply was lost) finds the upload gone: the object is then checked by
    /// HEAD — same size and CRC-64 — and taken as done.
    async fn cos_complete(
        &self,
        api: &CosApi,
        object: &CosObject,
        upload_id: &str,
        size: u64,
        crc: u64,
    ) -> Result<Completed> {
        let parts: Vec<(u32, String)> = {
            let etags = self.etags.borrow();
            (1..=self.plan.part_count())
                .map(|n| {
                    etags.get(&n).map(|e| (n, e.clone())).ok_or_else(|| Error::InvalidResponse {
                        status: 200,
                        message: format!("no ETag is known for part {n}"),
                    })
                })
                .collect::<Result<_>>()?
        };
        match api.complete(&object.key, upload_id, &parts).await {
            Err(Error::Cos { code, status, message, request_id }) if code == "NoSuchUpload" => {
                let gone = Error::Cos { code, status, message, request_id };
                match api.head(&object.key).await {
                    Ok((Some(stored_size), etag, Some(stored_crc))) if stored_size == size && stored_crc == crc => {
                        Ok(Completed { etag, crc64: Some(stored_crc) })
                    }
                    _ => Err(gone),
                }
            }
            outcome => outcome,
        }
    }

    /// Looks for a resumable record of this file and key and, if COS still has its multipart
    /// upload, returns the parts done (ListParts is the truth: parts of the planned size count,
    /// their CRC from the record or computed from the file; their ETags from ListParts). A
    /// record that cannot be continued is discarded and its upload aborted.
    async fn cos_resume(&self, api: &CosApi, object: &CosObject) -> Result<Option<BTreeMap<u32, (u64, u64)>>> {
        let size = self.source.size();
        let Plan::Multipart { part_size, .. } = self.plan else { return Ok(None) };
        // A stable identity (name, size, modification time) finds the record alone; otherwise
        // the first MiB's hash tells files apart.
        let beginning = if self.source.stable_identity() { String::new() } else { self.beginning_hash().await? };
        let fingerprint = self.source.fingerprint();
        let key = Identity {
            library_id: &api.target.origin.authority,
            space_id: "cos",
            path: &object.key,
            size,
            fingerprint: &fingerprint,
            beginning_hash: &beginning,
        }
        .key();
        // The same file uploading twice at once to the same key: only the first is resumable.
        if !self.uploader.claim(&key) {
            return Ok(None);
        }
        let now = self.uploader.timer.unix_ms();
        let record = self.uploader.checkpoints.load(&key, now).await;
        let name = self.source.name().unwrap_or_else(|| object.key.rsplit('/').next().unwrap_or_default().to_string());
        *self.checkpoint.borrow_mut() = Some((key, Record::new(&object.key, &name, size, part_size, "", "", now)));
        let Some(record) = record else { return Ok(None) };
        if record.part_size != part_size || record.size != size || record.upload_id.is_empty() {
            self.discard_record(&record).await;
            return Ok(None);
        }
        let listed = match api.list_parts(&object.key, &record.upload_id).await {
            Ok(listed) => listed,
            Err(Error::Aborted) => return Err(Error::Aborted),
            Err(_) => {
                // COS no longer knows the upload (completed, aborted or expired): start cleanly.
                self.discard_record(&record).await;
                return Ok(None);
            }
        };
        let done = self.parts_on_server(&record, &|n| listed.get(&n).map(|p| p.size)).await?;
        self.etags.borrow_mut().extend(done.keys().filter_map(|n| Some((*n, listed.get(n)?.etag.clone()))));
        *self.open_upload.borrow_mut() = Some(record.upload_id.clone());
        self.continue_record(&record, &done).await;
        Ok(Some(done))
    }

    /// The parts of `record`'s upload that the server holds with their planned size (`listed`:
    /// part number → size on the server), with their CRC-64 from the record, or computed from
    /// the file where the record missed them.
    async fn parts_on_server(
        &self,
        record: &Record,
        listed: &dyn Fn(u32) -> Option<u64>,
    ) -> Result<BTreeMap<u32, (u64, u64)>> {
        let mut done = BTreeMap::new();
        for n in 1..=self.plan.part_count() {
            let range = self.plan.part_range(n);
            let len = range.end - range.start;
            if listed(n) != Some(len) {
                continue;
            }
            let crc = match record.parts.get(&n) {
                Some(&(l, crc)) if l == len => crc,
                _ => self.source.part(range).await?.crc64.await?,
            };
            done.insert(n, (len, crc));
        }
        Ok(done)
    }

    /// Makes this upload's record continue `record` (its server upload, its age) with the parts
    /// `done`, and writes it.
    async fn continue_record(&self, record: &Record, done: &BTreeMap<u32, (u64, u64)>) {
        if let Some((_, mine)) = self.checkpoint.borrow_mut().as_mut() {
            mine.confirm_key = record.confirm_key.clone();
            mine.upload_id = record.upload_id.clone();
            mine.created_at = record.created_at;
            mine.parts = done.clone();
        }
        self.save_checkpoint(true).await;
    }

    /// Begins the upload with SMH (shielded from cancel), creating missing parent directories
    /// once when SMH says the target's directory does not exist and `createParents` is on.
    async fn begin(&self, beginning: Option<String>, full: Option<String>) -> Result<Begin> {
        let (api, opts) = self.smh()?;
        let (path, conflict, size) = (&opts.path, opts.conflict, self.source.size());
        let multipart = matches!(self.plan, Plan::Multipart { .. });
        let mut created = false;
        loop {
            let outcome =
                self.shielded(api.begin(path, multipart, size, conflict, beginning.clone(), full.clone())).await;
            if let Ok(Begin::Upload(auth)) = &outcome {
                // Known before any cancel is obeyed, so that abandon() cancels it.
                *self.open_upload.borrow_mut() = Some(auth.confirm_key.clone());
            }
            match outcome {
                Err(Error::Smh { code, .. }) if code == "DirectoryNotFound" && opts.create_parents && !created => {
                    let Some(parent) = path.parent() else {
                        return Err(Error::Smh {
                            status: 404,
                            code,
                            message: "the library has no root directory".into(),
                            request_id: None,
                        });
                    };
                    self.check_cancelled()?;
                    api.create_directory(&parent).await?;
                    created = true;
                }
                outcome => {
                    self.check_cancelled()?;
                    return outcome;
                }
            }
        }
    }

    /// Looks for a resumable record of this file and, if the server still has its upload,
    /// continues it; a record that cannot be continued is discarded (the server upload too).
    async fn start(&self, beginning: Option<&str>, resumable: bool) -> Result<Start> {
        if !resumable {
            return Ok(Start::Fresh);
        }
        // The same key whether or not quick upload hashed the file: see `stable_identity`.
        let beginning = match (self.source.stable_identity(), beginning) {
            (true, _) => "",
            (false, Some(hash)) => hash,
            (false, None) => return Ok(Start::Fresh),
        };
        let (_, opts) = self.smh()?;
        let target = &self.uploader.config().target;
        let fingerprint = self.source.fingerprint();
        let path = opts.path.joined();
        let key = Identity {
            library_id: &target.library_id,
            space_id: &target.space_id,
            path: &path,
            size: self.source.size(),
            fingerprint: &fingerprint,
            beginning_hash: beginning,
        }
        .key();
        // The same file uploading twice at once to the same path: only the first is resumable.
        if !self.uploader.claim(&key) {
            return Ok(Start::Fresh);
        }
        let now = self.uploader.timer.unix_ms();
        let record = self.uploader.checkpoints.load(&key, now).await;
        let name = self.source.name().unwrap_or_else(|| opts.path.name().to_string());
        let Plan::Multipart { part_size, .. } = self.plan else { return Ok(Start::Fresh) };
        *self.checkpoint.borrow_mut() =
            Some((key.clone(), Record::new(&path, &name, self.source.size(), part_size, "", "", now)));
        let Some(record) = record else { return Ok(Start::Fresh) };
        if record.part_size != part_size || record.size != self.source.size() {
            self.discard_record(&record).await;
            return Ok(Start::Fresh);
        }
        match self.reconcile(&record).await {
            Ok(start) => Ok(start),
            Err(Error::Aborted) => Err(Error::Aborted),
            Err(_) => {
                // The server no longer knows the upload, or will not renew it: start cleanly.
                self.auth.borrow_mut().take();
                self.discard_record(&record).await;
                Ok(Start::Fresh)
            }
        }
    }

    /// Forgets `record` and cancels its server upload (best effort).
    async fn discard_record(&self, record: &Record) {
        let _ = self.uploader.cancel_on_server(&record.confirm_key, &record.upload_id).await;
        let key = self.checkpoint.borrow().as_ref().map(|(key, _)| key.clone());
        if let Some(key) = key {
            self.uploader.checkpoints.remove(&key).await;
        }
    }

    /// Asks SMH for the task of `record`: parts the server holds with the planned size are done
    /// (their CRC from the record, or computed from the file when the record missed them),
    /// the others are sent again; the authorisation is renewed.
    async fn reconcile(&self, record: &Record) -> Result<Start> {
        let (api, _) = self.smh()?;
        let size = self.source.size();
        let task = api.query(&record.confirm_key).await?;
        let server_parts = task_parts(&task);
        let done = self.parts_on_server(record, &|n| server_parts.get(&n).copied()).await?;
        if task.get("confirmed").and_then(|c| c.as_bool()) == Some(true) {
            // Confirmed, but the record survived (the confirm reply was lost): report the file
            // if it is this one.
            if done.len() as u32 != self.plan.part_count() {
                return Err(Error::InvalidResponse {
                    status: 200,
                    message: "the upload was confirmed without all parts".into(),
                });
            }
            let crc = combine_parts(&done);
            let file = self.confirmed_file(&record.confirm_key, size, crc).await?;
            return Ok(Start::Finished(UploadResult { file, size, crc64: crc.to_string(), instant: false }));
        }
        self.check_cancelled()?;
        let auth = api.renew(&record.confirm_key).await?;
        if auth.upload_id.as_deref() != Some(record.upload_id.as_str()) || auth.confirm_key != record.confirm_key {
            return Err(Error::InvalidResponse {
                status: 200,
                message: "renewing a resumed upload changed its uploadId".into(),
            });
        }
        self.install_auth(auth)?;
        self.continue_record(record, &done).await;
        Ok(Start::Resumed(done))
    }

    /// Fills the record of a freshly begun multipart upload.
    fn start_checkpoint(&self) {
        let auth = self.auth.borrow();
        let Some(auth) = auth.as_ref() else { return };
        if let Some((_, record)) = self.checkpoint.borrow_mut().as_mut() {
            record.confirm_key = auth.auth.confirm_key.clone();
            record.upload_id = auth.auth.upload_id.clone().unwrap_or_default();
            record.parts.clear();
        }
    }

    /// Notes part `n` done in the record.
    fn checkpoint_part(&self, n: u32, len: u64, crc: u64) {
        if let Some((_, record)) = self.checkpoint.borrow_mut().as_mut() {
            record.parts.insert(n, (len, crc));
        }
    }

    /// Writes the record (at most every [`SAVE_INTERVAL_MS`] unless `force`).
    async fn save_checkpoint(&self, force: bool) {
        let now = self.uploader.timer.unix_ms();
        if !force && now - self.last_save_ms.get() < SAVE_INTERVAL_MS {
            return;
        }
        let entry = self.checkpoint.borrow().clone();
        let Some((key, mut record)) = entry else { return };
        if record.confirm_key.is_empty() {
            return;
        }
        self.last_save_ms.set(now);
        record.updated_at = now;
        self.uploader.checkpoints.save(&key, &record).await;
    }

    /// Removes the record (done, cancelled, or not resumable).
    async fn forget_checkpoint(&self) {
        let entry = self.checkpoint.borrow_mut().take();
        if let Some((key, _)) = entry {
            self.uploader.checkpoints.remove(&key).await;
        }
    }

    /// Whether a failed upload is worth resuming later: a record exists, parts are on the server,
    /// and the error is one that time can cure (network, timeouts, server errors).
    fn keep_for_resume(&self, error: &Error) -> bool {
        let has_parts =
            self.checkpoint.borrow().as_ref().is_some_and(|(_, r)| !r.confirm_key.is_empty() && !r.parts.is_empty());
        has_parts && error.retryable() && self.state.get() != UploadState::Confirming
    }

    /// The file of an upload SMH reports as already confirmed, checked against what was sent.
    ///
    /// A confirm that timed out on our side may still be running on SMH's (a big file takes a
    /// while to assemble): SMH then says `UploadComplete` before its task reads confirmed, so the
    /// task is asked again, with backoff, for up to twice the confirm timeout.
    async fn confirmed_file(&self, confirm_key: &str, size: u64, crc: u64) -> Result<FileInfo> {
        let (api, _) = self.smh()?;
        let patience_ms = 2.0 * self.confirm_timeout().as_secs_f64() * 1000.0;
        let started = self.now_ms();
        let mut backoff = self.backoff();
        let segments = loop {
            let task = api.query(confirm_key).await?;
            let segments: Vec<String> = task
                .get("path")
                .and_then(|p| p.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if task.get("confirmed").and_then(|c| c.as_bool()) == Some(true) && !segments.is_empty() {
                break segments;
            }
            if self.now_ms() - started > patience_ms {
                return Err(Error::InvalidResponse {
                    status: 409,
                    message: "SMH says the upload is complete but does not report it confirmed".into(),
                });
            }
            self.uploader.timer.sleep(backoff.wait()).await;
        };
        let file = api.info(&LibraryPath::parse(&segments.join("/"))?).await?;
        let same = file.size.is_none_or(|s| s == size) && file.crc64.as_deref().is_none_or(|c| c == crc.to_string());
        if !same {
            return Err(Error::IntegrityMismatch { message: "the confirmed file differs from the bytes sent".into() });
        }
        Ok(file)
    }

    /// How long one confirm may take: the request timeout plus a second per 32 MiB, since SMH
    /// assembles the parts before it answers (a 2 GiB file took over a minute on the devserver,
    /// where the fixed 30 s made every confirm time out and be retried).
    fn confirm_timeout(&self) -> std::time::Duration {
        self.uploader.config().retry.request_timeout + std::time::Duration::from_secs(self.source.size() / (32 * MIB))
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
            hash = Some(self.chain_hash(offset..end, hash).await?);
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
        if let Some(current) = self.auth.borrow().as_ref() {
            // A renewal continues the same upload: the same bucket and the same multipart upload.
            let same =
                current.auth.domain.eq_ignore_ascii_case(&auth.domain) && current.auth.upload_id == auth.upload_id;
            if current.auth.upload_id.is_some() && !same {
                return Err(Error::InvalidResponse {
                    status: 200,
                    message: "a renewal changed the upload's domain or uploadId".into(),
                });
            }
        }
        if matches!(self.plan, Plan::Multipart { .. }) && auth.upload_id.as_deref().unwrap_or("").is_empty() {
            return Err(Error::InvalidResponse {
                status: 201,
                message: "multipart upload parameters without uploadId".into(),
            });
        }
        let now = self.now_ms();
        let ttl = crate::date::parse_iso8601_ms(&auth.expiration)
            .map(|exp| exp - self.uploader.timer.unix_ms())
            .unwrap_or(RENEW_MARGIN_MAX_MS * 3.0)
            .max(2_000.0);
        let margin = (ttl * RENEW_MARGIN_FRACTION).min(RENEW_MARGIN_MAX_MS);
        let generation = self.auth.borrow().as_ref().map_or(0, |a| a.generation + 1);
        *self.auth.borrow_mut() =
            Some(AuthState { auth: Rc::new(auth), origin, generation, renew_at_ms: now + ttl - margin });
        Ok(())
    }

    /// The authorisation to use now, renewed first when it is about to expire.
    async fn current_auth(&self) -> Result<AuthState> {
        let state = self
            .auth
            .borrow()
            .clone()
            .ok_or_else(|| Error::InvalidResponse { status: 0, message: "no upload parameters".into() })?;
        if self.now_ms() < state.renew_at_ms {
            return Ok(state);
        }
        self.renew(state.generation).await?;
        self.auth
            .borrow()
            .clone()
            .ok_or_else(|| Error::InvalidResponse { status: 0, message: "no upload parameters".into() })
    }

    /// Replaces the authorisation of generation `seen` (unless another part already did).
    /// Multipart uploads are renewed; a simple upload (SMH cannot renew those) is begun again.
    async fn renew(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.renew_lock.lock().await;
        let current = self.auth.borrow().clone();
        let Some(current) = current else { return Ok(()) };
        if current.generation != seen {
            return Ok(());
        }
        let (api, opts) = self.smh()?;
        let fresh = if current.auth.upload_id.is_some() {
            api.renew(&current.auth.confirm_key).await?
        } else {
            let size = self.source.size();
            match api.begin(&opts.path, false, size, opts.conflict, None, None).await? {
                Begin::Upload(auth) => {
                    // The old task will never be confirmed.
                    let _ = api.cancel(&current.auth.confirm_key).await;
                    auth
                }
                _ => {
                    return Err(Error::InvalidResponse {
                        status: 200,
                        message: "re-begin without hashes did not return upload parameters".into(),
                    })
                }
            }
        };
        self.install_auth(fresh)
    }

    /// Sends every part not in `done`; returns the whole file's CRC64.
    async fn send_all(self: &Rc<Self>, mut done: BTreeMap<u32, (u64, u64)>) -> Result<u64> {
        let count = self.plan.part_count();
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
        Ok(combine_parts(&done))
    }

    /// Sends `pending` parts until all are done, one fails, or the upload is paused/cancelled.
    async fn send_some(
        self: &Rc<Self>,
        mut pending: VecDeque<u32>,
        done: &mut BTreeMap<u32, (u64, u64)>,
    ) -> Result<()> {
        type PartFuture = LocalBoxFuture<'static, Result<(u32, u64, u64, Option<String>)>>;
        let slots = self.uploader.slots.clone();
        let mut running: FuturesUnordered<PartFuture> = FuturesUnordered::new();
        let mut acquiring = pending.front().map(|_| slots.acquire());
        let mut interrupted = self.control.interrupted();
        enum Event {
            Slot(SlotGuard),
            Part(Result<(u32, u64, u64, Option<String>)>),
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
                    self.save_checkpoint(true).await;
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
                Event::Part(Ok((n, len, crc, etag))) => {
                    done.insert(n, (len, crc));
                    if let Some(etag) = etag {
                        self.etags.borrow_mut().insert(n, etag);
                    }
                    self.checkpoint_part(n, len, crc);
                    self.progress.borrow_mut().part_done(n, len);
                    self.emit(running.is_empty() && acquiring.is_none());
                    self.save_checkpoint(false).await;
                }
                Event::Part(Err(e)) => return Err(e),
            }
        }
    }

    /// Reads, sends and verifies part `n`, retrying inside; holds `_slot` throughout. Returns
    /// the part's number, length, CRC-64 and the ETag COS gave it.
    async fn send_part(self: Rc<Self>, n: u32, mut slot: SlotGuard) -> Result<(u32, u64, u64, Option<String>)> {
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
                    return Err(Error::FileRead {
                        message: format!(
                            "part {n}: expected {len} bytes, the file gave {}; the file changed",
                            body.len()
                        ),
                    });
                }
                part = Some((body, Some(crc64)));
            }
            let Some((body, pending_crc)) = part.as_mut() else { continue };
            let sent = Rc::new(Cell::new(0u64));
            let put = self.put_watched(n, part_number, body.clone(), sent.clone());
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
                            self.uploader.timer.sleep(backoff.wait()).await;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                    reply
                }
                None => put.await,
            };
            let (generation, reply) = reply?;
            let expected = crc.unwrap_or_default();
            let date = reply.as_ref().ok().and_then(|r| r.header("date")).map(str::to_string);
            let error = match reply.and_then(|resp| check_put_reply(&resp, expected)) {
                Ok(stored) => {
                    if !stored.crc_checked {
                        self.warn_crc_not_checked();
                    }
                    if stored.etag.is_none() && part_number.is_some() && matches!(self.dest, Destination::Cos(_)) {
                        return Err(Error::InvalidResponse {
                            status: 200,
                            message: format!("COS's reply to part {n} has no readable ETag, which CompleteMultipartUpload needs (add ETag to the bucket's CORS ExposeHeaders)"),
                        });
                    }
                    self.uploader.slots.delivered();
                    return Ok((n, len, expected, stored.etag));
                }
                Err(e) => e,
            };
            self.progress.borrow_mut().part_aborted(n);
            if error.is_expired_authorisation() && renewals < MAX_RENEWALS_PER_PART {
                renewals += 1;
                self.reauthorise(generation, &error, date.as_deref()).await?;
                continue;
            }
            let crc_mismatch = matches!(error, Error::IntegrityMismatch { .. });
            if crc_mismatch {
                // COS stored other bytes than the CRC says: the bytes read for the CRC may not
                // be the bytes sent (a file changing, a bad read). Read the part again, CRC too.
                part = None;
                crc = None;
            }
            if sent.get() > best_sent {
                // The part made progress: start its retry count again.
                best_sent = sent.get();
                attempts = 0;
                backoff.reset();
            }
            if error.retryable() {
                // Overload (timeouts, resets, 429/5xx, SlowDown): fewer parts in flight.
                self.uploader.slots.congested(&slot);
            }
            if (error.retryable() || crc_mismatch) && attempts < max_retries && self.take_budget() {
                attempts += 1;
                self.uploader.timer.sleep(backoff.wait()).await;
                slot = self.uploader.slots.readmit(slot).await;
                continue;
            }
            return Err(error);
        }
    }

    /// A PUT of `body` as part `part_number` (or the whole object) with the current
    /// authorisation, and that authorisation's generation.
    async fn part_request(
        &self,
        part_number: Option<u32>,
        body: Body,
        progress: ProgressFn,
    ) -> Result<(HttpRequest, u64)> {
        match (&self.uploader.service, &self.dest) {
            #[cfg(feature = "cos-uploader")]
            (Service::Cos(api), Destination::Cos(object)) => {
                let upload_id = self.open_upload.borrow().clone();
                match (part_number, upload_id) {
                    (Some(n), Some(id)) => {
                        api.put_request(&object.key, Some((&id, n)), Vec::new(), body, Some(progress)).await
                    }
                    _ => api.put_request(&object.key, None, object.headers(), body, Some(progress)).await,
                }
            }
            #[cfg(feature = "smh-client")]
            (Service::Smh(_), _) => {
                let auth = self.current_auth().await?;
                let of = match (part_number, auth.auth.upload_id.as_deref()) {
                    (Some(number), Some(upload_id)) => PutOf::Part { number, upload_id },
                    _ => PutOf::Object,
                };
                let request = put_request(&auth.origin, &auth.auth.path, of, &auth.auth.headers, body, Some(progress));
                Ok((request, auth.generation))
            }
            #[allow(unreachable_patterns)]
            _ => Err(Error::invalid_input("client", "a direct-COS upload needs a CosUploader")),
        }
    }

    /// COS refused the authorisation of `generation` as expired: SMH's upload parameters are
    /// renewed; direct-COS credentials are fetched again, or the clock corrected from `date`.
    async fn reauthorise(&self, generation: u64, error: &Error, date: Option<&str>) -> Result<()> {
        match &self.uploader.service {
            #[cfg(feature = "cos-uploader")]
            Service::Cos(api) => api.recover(error, date, generation).await.map(|_| ()),
            #[cfg(feature = "smh-client")]
            Service::Smh(_) => self.renew(generation).await,
        }
    }

    /// One PUT with a stall watchdog: no upload progress for `stall_timeout` aborts it. Returns
    /// the generation of the authorisation used and the outcome of the PUT.
    async fn put_watched(
        self: &Rc<Self>,
        n: u32,
        part_number: Option<u32>,
        body: Body,
        sent: Rc<Cell<u64>>,
    ) -> Result<(u64, Result<HttpResponse>)> {
        let timer = self.uploader.timer.clone();
        let last_activity = Rc::new(Cell::new(timer.now_ms()));
        let progress: ProgressFn = {
            let (session, last_activity, sent, timer) =
                (Rc::downgrade(self), last_activity.clone(), sent.clone(), timer.clone());
            Rc::new(move |bytes: u64| {
                sent.set(bytes);
                last_activity.set(timer.now_ms());
                if let Some(session) = session.upgrade() {
                    session.progress.borrow_mut().part_progress(n, bytes);
                    session.emit(false);
                }
            })
        };
        let (request, generation) = self.part_request(part_number, body, progress).await?;
        let stall = self.uploader.config().retry.stall_timeout;
        let stall_ms = stall.as_secs_f64() * 1000.0;
        // The same tick flushes held-back progress reports.
        let tick = (stall / 4)
            .clamp(std::time::Duration::from_millis(50), std::time::Duration::from_millis(PROGRESS_INTERVAL_MS as u64));
        let send = std::pin::pin!(self.uploader.http.send(request));
        let watchdog = std::pin::pin!(async {
            loop {
                timer.sleep(tick).await;
                self.flush_progress();
                if timer.now_ms() - last_activity.get() > stall_ms {
                    return Error::Timeout {
                        message: format!("part {n}: no upload progress for {} ms", stall.as_millis() as u64),
                    };
                }
            }
        });
        let outcome = match select(send, watchdog).await {
            Either::Left((result, _)) => result,
            Either::Right((error, _)) => Err(error),
        };
        Ok((generation, outcome))
    }

    /// Cancels the server-side upload, if one is open (best effort: errors are ignored).
    async fn abandon(&self) {
        let open = self.open_upload.borrow_mut().take();
        if let Some(handle) = open {
            let _ = match &self.dest {
                Destination::Smh(_) => self.uploader.cancel_on_server(&handle, "").await,
                Destination::Cos(object) => self.uploader.cancel_on_server(&object.key, &handle).await,
            };
        }
    }
}
