//! Uploads through SMH: [`SmhUploader`] (the engine behind `SmhClient`) and its `Flow`.
//!
//! Begin (quick upload by hash first where it may hit) → the parts go to the COS domain SMH
//! names, with the headers SMH signed → confirm with the whole file's CRC-64. SMH's upload
//! parameters expire: they are renewed before they do, and again when COS refuses them.
//! A resumed upload asks SMH for its task, whose `parts` is COS's ListParts.
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

use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::pin::pin;
use std::rc::Rc;

use futures::future::{select, Either};

use super::checkpoint::{Pending, Record};
use super::client::{validate_base_url, ClientConfig, Uploader};
use super::control::Control;
use super::flow::{Flow, Opened, RecordScope, SignedPut};
use super::lock::Lock;
use super::plan::{PartsDone, MIB};
use super::progress::Phase;
use super::session::{Session, Shield};
use super::state::UploadState;
use super::upload::{parts_on_server, Observer};
use crate::checksum::{hex, QUICK_UPLOAD_BLOCK};
use crate::cos::domain::Origin;
use crate::cos::put::{put_request, PutOf};
use crate::error::{Error, Result};
use crate::json::u64_to_string;
use crate::platform::{Body, CheckpointStore, FileSource, Http, LocalBoxFuture, ProgressFn, Timer};
use crate::smh::{Begin, Conflict, FileInfo, LibraryPath, SmhApi, Tokens, UploadAuth, UploadKind};
use crate::vecmap::VecMap;

/// Bytes read per [`FileSource::chain_hash`] call while hashing (a whole number of 1 MiB blocks):
/// the pause granularity. Large reads for I/O's sake; the source hashes them in slices that keep
/// the app's thread responsive (`HASH_SLICE` in src/platform/mod.rs).
const HASH_READ: u64 = 8 * MIB;

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

/// A finished upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadResult {
    pub file: FileInfo,
    pub size: u64,
    /// Decimal CRC-64/XZ of the whole file.
    pub crc64: String,
    /// Quick upload hit: SMH stored the file from its hash (parts sent meanwhile were dropped).
    pub instant: bool,
}

/// A client of one SMH library: the [`Uploader`] every upload shares, and the SMH API.
pub struct SmhUploader {
    uploader: Rc<Uploader>,
    pub(crate) api: SmhApi,
}

impl Deref for SmhUploader {
    type Target = Uploader;
    fn deref(&self) -> &Uploader {
        &self.uploader
    }
}

impl SmhUploader {
    /// Validates `config` and builds the client.
    pub fn new(
        mut config: ClientConfig,
        http: Rc<dyn Http>,
        timer: Rc<dyn Timer>,
        tokens: Tokens,
        checkpoints: Rc<dyn CheckpointStore>,
    ) -> Result<SmhUploader> {
        config.target.base_url = validate_base_url(&config.target.base_url)?;
        if config.target.library_id.trim().is_empty() || config.target.library_id.contains(['/', '?', '#']) {
            return Err(Error::invalid_input("libraryId", "must be a non-empty library id"));
        }
        if config.target.space_id.trim().is_empty() || config.target.space_id.contains(['/', '?', '#']) {
            return Err(Error::invalid_input("spaceId", "must be a space id, or '-' for single-tenant libraries"));
        }
        let api = SmhApi {
            http: http.clone(),
            timer: timer.clone(),
            tokens,
            target: config.target.clone(),
            retry: config.retry.clone(),
        };
        let uploader = Uploader::new(config, http, timer, checkpoints)?;
        Ok(SmhUploader { uploader: Rc::new(uploader), api })
    }

    /// [`Uploader::pending_uploads`]; the tasks of records it pruned are cancelled with SMH.
    pub async fn pending_uploads(&self) -> Vec<Pending> {
        let pending = self.uploader.pending_uploads().await;
        self.uploader.discard_pruned(&|record| Box::pin(async move { self.cancel_recorded(&record).await })).await;
        pending
    }

    /// Forgets the unfinished uploads to `path` (all when `None`) and cancels them with SMH;
    /// returns how many.
    pub async fn discard_pending(&self, path: Option<&str>) -> usize {
        self.uploader.discard_pending(path, |record| async move { self.cancel_recorded(&record).await }).await
    }

    /// Cancels the task `record` names (best effort).
    async fn cancel_recorded(&self, record: &Record) {
        if let Some(confirm_key) = &record.confirm_key {
            let _ = self.api.cancel(confirm_key).await;
        }
    }
}

/// Runs one SMH upload of `source` (see `engine::upload::run`).
pub async fn run(
    uploader: Rc<SmhUploader>,
    source: Rc<dyn FileSource>,
    options: UploadOptions,
    control: Control,
    observer: Rc<dyn Observer>,
) -> Result<UploadResult> {
    let session = Session::new(uploader.uploader.clone(), source, control, observer)?;
    let flow = Rc::new(SmhFlow {
        session: session.clone(),
        uploader,
        options,
        auth: RefCell::new(None),
        renewing: Lock::new(),
        open: RefCell::new(None),
        stored: RefCell::new(None),
        racing: RefCell::new(None),
    });
    super::upload::run(session, flow.clone()).await?;
    flow.stored
        .take()
        .ok_or_else(|| Error::InvalidResponse { status: 0, message: "the upload ended without a file".into() })
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

struct SmhFlow {
    session: Rc<Session>,
    uploader: Rc<SmhUploader>,
    options: UploadOptions,
    auth: RefCell<Option<AuthState>>,
    /// One renewal at a time.
    renewing: Lock,
    /// The confirmKey of the task SMH opened for this upload, until it is confirmed: cancelled
    /// if the upload does not complete.
    open: RefCell<Option<String>>,
    /// The file SMH stored.
    stored: RefCell<Option<UploadResult>>,
    /// A full hash that was slower than `quickUploadWait`: it goes on while the parts go.
    racing: RefCell<Option<Racing>>,
}

/// A quick upload's full hash as far as it got (before the parts started going alongside it).
struct Racing {
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

impl Flow for SmhFlow {
    fn record_scope(&self) -> RecordScope {
        let target = &self.uploader.config().target;
        RecordScope {
            library_id: target.library_id.clone(),
            space_id: target.space_id.clone(),
            path: self.options.path.joined(),
            name: self.options.path.name().to_string(),
        }
    }

    fn begin(&self) -> LocalBoxFuture<'_, Result<Opened>> {
        Box::pin(self.create_upload())
    }

    fn resume<'a>(&'a self, record: &'a Record) -> LocalBoxFuture<'a, Result<Option<Opened>>> {
        Box::pin(async move {
            // Taken over before the check, so that a cancel during it cancels the task
            // (abandon()); given back when the check ends without continuing it.
            *self.open.borrow_mut() = record.confirm_key.clone();
            let outcome = match self.resume_task(record).await {
                // SMH does not know the task: expired, cancelled (docs/smh-api.md §7).
                Err(Error::Smh { code, .. }) if code == "UploadNotFound" || code == "ConfirmKeyNotFound" => Ok(None),
                outcome => outcome,
            };
            if !matches!(outcome, Ok(Some(_))) {
                self.auth.borrow_mut().take();
            }
            if !matches!(outcome, Ok(Some(Opened::Parts(_))) | Err(Error::Aborted)) {
                self.open.borrow_mut().take();
            }
            outcome
        })
    }

    fn part_request(
        &self,
        number: Option<u32>,
        body: Body,
        progress: ProgressFn,
    ) -> LocalBoxFuture<'_, Result<SignedPut>> {
        Box::pin(async move {
            let auth = self.current_auth().await?;
            let of = match (number, auth.auth.upload_id.as_deref()) {
                (Some(number), Some(upload_id)) => PutOf::Part { number, upload_id },
                _ => PutOf::Object,
            };
            let request = put_request(&auth.origin, &auth.auth.path, of, &auth.auth.headers, body, Some(progress));
            Ok(SignedPut { request, generation: auth.generation })
        })
    }

    fn reauthorise<'a>(&'a self, generation: u64, _: &'a Error, _: Option<&'a str>) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.renew(generation))
    }

    fn send_parts<'a>(&'a self, sending: LocalBoxFuture<'a, Result<()>>) -> LocalBoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let racing = self.racing.borrow_mut().take();
            match racing {
                Some(racing) => self.race(racing, sending).await,
                None => sending.await.map(|()| false),
            }
        })
    }

    fn complete<'a>(&'a self, _: &'a PartsDone, crc64: u64) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.confirm(crc64))
    }

    fn abandon(&self) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move {
            let open = self.open.borrow_mut().take();
            if let Some(confirm_key) = open {
                let _ = self.uploader.api.cancel(&confirm_key).await;
            }
        })
    }

    fn discard<'a>(&'a self, record: &'a Record) -> LocalBoxFuture<'a, ()> {
        Box::pin(self.uploader.cancel_recorded(record))
    }
}

impl SmhFlow {
    fn api(&self) -> &SmhApi {
        &self.uploader.api
    }

    /// Begins the upload with SMH: with the beginning hash first where quick upload may hit,
    /// then the full hash if SMH has a candidate and the hash is quick enough; a hit stores the
    /// file without sending a byte. A slower hash goes on alongside a plain upload (module doc).
    async fn create_upload(&self) -> Result<Opened> {
        let session = &self.session;
        let size = session.size();
        let quick = self.options.quick_upload && size >= QUICK_UPLOAD_BLOCK;
        let beginning = if quick { Some(session.beginning_hash().await?) } else { None };
        let mut outcome = self.begin_with_parents(beginning.clone(), None).await?;
        if let Begin::QuickCandidate = outcome {
            session.set_state(UploadState::Hashing);
            session.enter_phase(Phase::Hashing, size, 0);
            let mut hash = FullHash::default();
            outcome = match self.full_hash(&mut hash, true).await? {
                Some(full) => self.begin_with_full_hash(beginning.unwrap_or_default(), full).await?,
                None => {
                    let plain = self.begin_with_parents(None, None).await?;
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
                let ids = auth.upload_id.clone().map(|id| (id, auth.confirm_key.clone()));
                self.install_auth(auth)?;
                if let Some((upload_id, confirm_key)) = ids {
                    session.record_new_upload(&upload_id, Some(&confirm_key));
                }
                Ok(Opened::Parts(PartsDone::new()))
            }
            Begin::QuickCandidate => {
                Err(Error::InvalidResponse { status: 202, message: "SMH asked for the full hash twice".into() })
            }
        }
    }

    /// Keeps the file a quick-upload hit stored.
    fn keep_instant(&self, file: FileInfo) {
        let size = self.session.size();
        self.session.enter_phase(Phase::Uploading, size, size);
        let crc64 = file.crc64.clone().unwrap_or_default();
        *self.stored.borrow_mut() = Some(UploadResult { file, size, crc64, instant: true });
    }

    /// SMH's begin (shielded from cancel), creating missing parent directories once when SMH
    /// says the target's directory does not exist and `createParents` is on.
    async fn begin_with_parents(&self, beginning: Option<String>, full: Option<String>) -> Result<Begin> {
        let session = &self.session;
        let (api, opts) = (self.api(), &self.options);
        let kind = if session.is_multipart() { UploadKind::Multipart } else { UploadKind::Simple };
        let (path, conflict, size) = (&opts.path, opts.conflict, session.size());
        // Only a begin with the full hash may hit quick upload and so create the file.
        let shield = match full {
            Some(_) => Shield::Committing(session.uploader.config().retry.request_timeout),
            None => Shield::Opening,
        };
        let mut created = false;
        loop {
            let begin = api.begin(path, kind, size, conflict, beginning.clone(), full.clone());
            let outcome = session.shielded(shield, begin).await;
            if let Ok(Begin::Upload(auth)) = &outcome {
                // Known before any cancel is obeyed, so that abandon() cancels it.
                *self.open.borrow_mut() = Some(auth.confirm_key.clone());
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
                    session.check_cancelled()?;
                    api.create_directory(&parent).await?;
                    created = true;
                }
                // A hit: SMH has stored the file, which cancel() came too late to undo.
                outcome @ Ok(Begin::Instant(_)) => return outcome,
                outcome => {
                    session.check_cancelled()?;
                    return outcome;
                }
            }
        }
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

    /// The parts go (`sending`) while the full hash goes on; the hash sent with a second begin
    /// decides: a hit stops the parts and cancels their upload (`Ok(true)`), a miss lets them
    /// go on. Parts all sent first end the race, unless SMH is being asked: its answer decides.
    /// A hash that fails or stops early leaves the parts to go on (they do not need it).
    async fn race(&self, racing: Racing, mut sending: LocalBoxFuture<'_, Result<()>>) -> Result<bool> {
        let asking = Cell::new(false);
        let quick = pin!(async {
            let mut hash = racing.hash;
            let Ok(Some(full)) = self.full_hash(&mut hash, false).await else { return false };
            asking.set(true);
            match self.begin_with_full_hash(racing.beginning, full).await {
                Ok(Begin::Instant(file)) => {
                    self.keep_instant(file);
                    true
                }
                // A miss: SMH opened a second upload; the parts go on in the first.
                Ok(Begin::Upload(second)) => {
                    let bound = self.session.uploader.config().retry.request_timeout;
                    let _ =
                        self.session.shielded(Shield::Committing(bound), self.api().cancel(&second.confirm_key)).await;
                    false
                }
                _ => false,
            }
        });
        let hit = match select(sending.as_mut(), quick).await {
            Either::Left((sent, quick)) => {
                if !(asking.get() && quick.await) {
                    return sent.map(|()| false);
                }
                true
            }
            Either::Right((hit, _)) => hit,
        };
        if !hit {
            return sending.await.map(|()| false);
        }
        // The parts in flight are aborted before their upload is cancelled; the file is stored,
        // so a cancel() now comes too late (shielded).
        drop(sending);
        let bound = self.session.uploader.config().retry.request_timeout;
        self.session
            .shielded(Shield::Committing(bound), async {
                self.abandon().await;
                Ok(())
            })
            .await?;
        Ok(true)
    }

    /// SMH's begin with both hashes (shielded from cancel): a hit, or an upload SMH opened.
    async fn begin_with_full_hash(&self, beginning: String, full: String) -> Result<Begin> {
        let session = &self.session;
        let kind = if session.is_multipart() { UploadKind::Multipart } else { UploadKind::Simple };
        let (opts, size) = (&self.options, session.size());
        let begin = self.api().begin(&opts.path, kind, size, opts.conflict, Some(beginning), Some(full));
        session.shielded(Shield::Committing(session.uploader.config().retry.request_timeout), begin).await
    }

    /// Asks SMH for the task `record` names: parts the server holds with the planned size are
    /// done, the others are sent again; the authorisation is renewed. A task confirmed already
    /// (the confirm's reply was lost) is the stored file, if it is this one: its size, and the
    /// CRC-64 read from the file (a confirmed task lists no parts). `None`: the task cannot be
    /// continued (confirmed as another file, or renewed as another upload).
    async fn resume_task(&self, record: &Record) -> Result<Option<Opened>> {
        let session = &self.session;
        let Some(confirm_key) = record.confirm_key.as_deref() else { return Ok(None) };
        let task = self.api().query(confirm_key).await?;
        if task.get("confirmed").and_then(|c| c.as_bool()) == Some(true) {
            let (size, crc) = (session.size(), session.file_crc64().await?);
            let file = match self.confirmed_file(confirm_key, crc).await {
                Err(Error::IntegrityMismatch { .. }) => return Ok(None),
                file => file?,
            };
            *self.stored.borrow_mut() = Some(UploadResult { file, size, crc64: u64_to_string(crc), instant: false });
            return Ok(Some(Opened::Stored));
        }
        let listed = task_parts(&task);
        let parts = parts_on_server(session, record, &|n| Some((*listed.get(&n)?, None))).await?;
        session.check_cancelled()?;
        let auth = self.api().renew(confirm_key).await?;
        if auth.upload_id != record.upload_id || auth.confirm_key != confirm_key {
            return Ok(None);
        }
        self.install_auth(auth)?;
        Ok(Some(Opened::Parts(parts)))
    }

    /// Confirms the upload with SMH (shielded from cancel, with what the reply leads to) and
    /// keeps the file it reports.
    async fn confirm(&self, crc: u64) -> Result<()> {
        let session = &self.session;
        let size = session.size();
        let confirm_key = self.auth.borrow().as_ref().map(|a| a.auth.confirm_key.clone()).unwrap_or_default();
        let file = session.shielded(Shield::Committing(session.commit_timeout()), self.confirmed(&confirm_key, crc));
        let file = file.await?;
        self.open.borrow_mut().take();
        *self.stored.borrow_mut() = Some(UploadResult { file, size, crc64: u64_to_string(crc), instant: false });
        Ok(())
    }

    /// SMH's confirm, and the file it committed.
    async fn confirmed(&self, confirm_key: &str, crc: u64) -> Result<FileInfo> {
        let conflict = self.options.conflict;
        let confirmed = self.api().confirm(confirm_key, crc, conflict, self.session.commit_timeout()).await;
        match confirmed {
            Ok(file) => Ok(file),
            // A retried confirm whose first attempt went through (its reply was lost).
            Err(Error::Smh { code, .. }) if code == "UploadComplete" => self.confirmed_file(confirm_key, crc).await,
            Err(Error::Smh { code, .. }) if code == "BadCrc64" => Err(Error::IntegrityMismatch {
                message: "SMH found a different CRC64 for the stored file than the bytes read".into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// The file of an upload SMH reports as already confirmed, checked against what was sent.
    ///
    /// A confirm that timed out on our side may still be running on SMH's (a big file takes a
    /// while to assemble): SMH then says `UploadComplete` before its task reads confirmed, so the
    /// task is asked again, with backoff, for up to twice the confirm timeout.
    async fn confirmed_file(&self, confirm_key: &str, crc: u64) -> Result<FileInfo> {
        let session = &self.session;
        let patience_ms = 2.0 * session.commit_timeout().as_secs_f64() * 1000.0;
        let started = session.now_ms();
        let mut backoff = session.backoff();
        let segments = loop {
            let task = self.api().query(confirm_key).await?;
            let segments: Vec<String> = task
                .get("path")
                .and_then(|p| p.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if task.get("confirmed").and_then(|c| c.as_bool()) == Some(true) && !segments.is_empty() {
                break segments;
            }
            if session.now_ms() - started > patience_ms {
                return Err(Error::InvalidResponse {
                    status: 409,
                    message: "SMH says the upload is complete but does not report it confirmed".into(),
                });
            }
            session.uploader.timer.sleep(backoff.wait()).await;
        };
        let file = self.api().info(&LibraryPath::parse(&crate::text::join(&segments, "/"))?).await?;
        let size = session.size();
        let same = file.size.is_none_or(|s| s == size) && file.crc64.as_deref().is_none_or(|c| c == u64_to_string(crc));
        if !same {
            return Err(Error::IntegrityMismatch { message: "the confirmed file differs from the bytes sent".into() });
        }
        Ok(file)
    }

    /// Takes new upload parameters into use: checks the domain before any byte goes there.
    fn install_auth(&self, auth: UploadAuth) -> Result<()> {
        let session = &self.session;
        *self.open.borrow_mut() = Some(auth.confirm_key.clone());
        let origin = session.uploader.allow.check(&auth.domain)?;
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
        if session.is_multipart() && auth.upload_id.as_deref().unwrap_or("").is_empty() {
            return Err(Error::InvalidResponse {
                status: 201,
                message: "multipart upload parameters without uploadId".into(),
            });
        }
        let timer = &session.uploader.timer;
        let generation = self.auth.borrow().as_ref().map_or(0, |a| a.generation + 1);
        let renew_at_ms = timer.now_ms() + auth.renew_after_ms(timer.unix_ms());
        *self.auth.borrow_mut() = Some(AuthState { auth: Rc::new(auth), origin, generation, renew_at_ms });
        Ok(())
    }

    /// The authorisation to use now, renewed first when it is about to expire.
    async fn current_auth(&self) -> Result<AuthState> {
        let missing = || Error::InvalidResponse { status: 0, message: "no upload parameters".into() };
        let state = self.auth.borrow().clone().ok_or_else(missing)?;
        if self.uploader.timer.now_ms() < state.renew_at_ms {
            return Ok(state);
        }
        self.renew(state.generation).await?;
        self.auth.borrow().clone().ok_or_else(missing)
    }

    /// Replaces the authorisation of generation `seen` (unless another part already did).
    /// Multipart uploads are renewed; a simple upload (SMH cannot renew those) is begun again.
    async fn renew(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.renewing.lock().await;
        let current = self.auth.borrow().clone();
        let Some(current) = current else { return Ok(()) };
        if current.generation != seen {
            return Ok(());
        }
        let (api, opts) = (self.api(), &self.options);
        let fresh = if current.auth.upload_id.is_some() {
            api.renew(&current.auth.confirm_key).await?
        } else {
            let size = self.session.size();
            match api.begin(&opts.path, UploadKind::Simple, size, opts.conflict, None, None).await? {
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
}

/// Part number → size of the parts SMH's task query lists (COS ListParts, PascalCase).
fn task_parts(task: &crate::json::Value) -> VecMap<u32, u64> {
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
