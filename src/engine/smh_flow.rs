//! Uploads through SMH: [`SmhUploader`] (the engine behind `SmhClient`) and its `Flow`.
//!
//! Begin (quick upload by hash first where it may hit) → the parts go to the COS domain SMH
//! names, with the headers SMH signed → confirm with the whole file's CRC-64. SMH's upload
//! parameters expire: they are renewed before they do, and again when COS refuses them.
//! A resumed upload asks SMH for its task, whose `parts` is COS's ListParts. Quick upload and
//! its race with the parts: [`quick`].

mod quick;

use quick::Racing;

use std::cell::RefCell;
use std::future::Future;
use std::ops::Deref;
use std::rc::Rc;

use futures::FutureExt;

use super::checkpoint::{Pending, Record};
use super::client::{validate_base_url, ClientConfig, Uploader};
use super::control::Control;
use super::flow::{Flow, Opened, RecordScope, SignedPut};
use super::lock::Lock;
use super::plan::PartsDone;
use super::session::{Session, Shield};
use super::upload::{parts_on_server, Observer};
use crate::cos::domain::Origin;
use crate::cos::put::{put_request, PutOf};
use crate::error::{Error, Result};
use crate::json::u64_to_string;
use crate::platform::{Body, CheckpointStore, FileSource, Http, LocalBoxFuture, ProgressFn, Timer};
use crate::smh::types::invalid;
use crate::smh::{Begin, Conflict, FileInfo, LibraryPath, SmhApi, SmhTarget, Tokens, UploadAuth, UploadKind};
use crate::text::concat;
use crate::vecmap::VecMap;

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
    pub file: Box<FileInfo>,
    pub size: u64,
    /// Decimal CRC-64/XZ of the whole file.
    pub crc64: String,
    /// Quick upload hit: SMH stored the file from its hash (parts sent meanwhile were dropped).
    pub instant: bool,
}

/// The checkpoint scope of an SMH client: its library and space (which cannot hold `/`).
pub(crate) fn record_scope(target: &SmhTarget) -> String {
    concat(&["smh:", &target.library_id, "/", &target.space_id])
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
        // An id is one segment of SMH's paths.
        let bad_id = |id: &str| crate::text::trim(id).is_empty() || id.bytes().any(|b| matches!(b, b'/' | b'?' | b'#'));
        if bad_id(&config.target.library_id) {
            return Err(Error::invalid_input("libraryId", "must be a non-empty library id"));
        }
        if bad_id(&config.target.space_id) {
            return Err(Error::invalid_input("spaceId", "must be a space id, or '-' for single-tenant libraries"));
        }
        let api = SmhApi {
            http: http.clone(),
            timer: timer.clone(),
            tokens,
            target: config.target.clone(),
            retry: config.retry.clone(),
        };
        let scope = record_scope(&config.target);
        let uploader = Uploader::new(config, http, timer, checkpoints, &scope)?;
        Ok(SmhUploader { uploader: Rc::new(uploader), api })
    }

    /// [`Uploader::pending_uploads`]; the tasks of records it pruned are cancelled with SMH.
    pub async fn pending_uploads(&self) -> Vec<Pending> {
        let pending = self.uploader.pending_uploads().await;
        self.uploader.discard_pruned(&|record| self.cancel_task(record.confirm_key.as_deref())).await;
        pending
    }

    /// Forgets the unfinished uploads to `path` (all when `None`) and cancels them with SMH;
    /// returns how many.
    pub async fn discard_pending(&self, path: Option<&str>) -> usize {
        self.uploader.discard_pending(path, &|record| self.cancel_task(record.confirm_key.as_deref())).await
    }

    /// Cancels the task `confirm_key` names, if any (best effort). Boxed: one future for every
    /// caller.
    fn cancel_task(&self, confirm_key: Option<&str>) -> LocalBoxFuture<'_, ()> {
        let cancel = confirm_key.map(|confirm_key| self.api.cancel(confirm_key));
        Box::pin(async move {
            if let Some(cancel) = cancel {
                let _ = cancel.await;
            }
        })
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
    flow.stored.take().ok_or_else(|| invalid(0, "the upload ended without a file"))
}

/// The authorisation currently used for PUTs.
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
        // Taken over before the check, so that a cancel during it cancels the task (abandon());
        // given back when the check ends without continuing it.
        *self.open.borrow_mut() = record.confirm_key.clone();
        Box::pin(self.resume_task(record).map(move |outcome| self.resumed(outcome)))
    }

    fn part_request(
        &self,
        number: Option<u32>,
        body: Body,
        progress: ProgressFn,
    ) -> LocalBoxFuture<'_, Result<SignedPut>> {
        Box::pin(async move {
            // Renewed first when it is about to expire.
            let stale = self
                .auth
                .borrow()
                .as_ref()
                .and_then(|state| (self.uploader.timer.now_ms() >= state.renew_at_ms).then_some(state.generation));
            if let Some(generation) = stale {
                self.renew(generation).await?;
            }
            self.signed_put(number, body, progress)
        })
    }

    fn reauthorise<'a>(&'a self, generation: u64, _: &'a Error, _: Option<&'a str>) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.renew(generation))
    }

    fn send_parts<'a>(&'a self, sending: LocalBoxFuture<'a, Result<()>>) -> LocalBoxFuture<'a, Result<bool>> {
        Box::pin(self.race(sending))
    }

    fn complete<'a>(&'a self, _: &'a PartsDone, crc64: u64) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.confirm(crc64))
    }

    fn abandon(&self) -> LocalBoxFuture<'_, ()> {
        let open = self.open.borrow_mut().take();
        self.uploader.cancel_task(open.as_deref())
    }

    fn discard(&self, record: &Record) -> LocalBoxFuture<'_, ()> {
        self.uploader.cancel_task(record.confirm_key.as_deref())
    }
}

impl SmhFlow {
    fn api(&self) -> &SmhApi {
        &self.uploader.api
    }

    /// SMH's begin of this upload, the one or the other way (multipart or simple, as planned).
    fn begin_call(
        &self,
        conflict: Conflict,
        beginning: Option<&str>,
        full: Option<&str>,
    ) -> impl Future<Output = Result<Begin>> + '_ {
        let kind = if self.session.is_multipart() { UploadKind::Multipart } else { UploadKind::Simple };
        self.api().begin(&self.options.path, kind, self.session.size(), conflict, beginning, full)
    }

    /// SMH's begin without the full hash (shielded from cancel: it opens a task), creating
    /// missing parent directories once when SMH says the target's directory does not exist and
    /// `createParents` is on.
    async fn begin_with_parents(&self, beginning: Option<&str>) -> Result<Begin> {
        let session = &self.session;
        let (api, opts) = (self.api(), &self.options);
        let path = &opts.path;
        let mut created = false;
        loop {
            // The directory to create; nothing of the reply is held while it is created.
            let parent = {
                let outcome = session.shielded(Shield::Opening, self.begin_call(opts.conflict, beginning, None)).await;
                if let Ok(Begin::Upload(auth)) = &outcome {
                    // Known before any cancel is obeyed, so that abandon() cancels it.
                    *self.open.borrow_mut() = Some(auth.confirm_key.clone());
                }
                match outcome {
                    Err(e)
                        if matches!(&*e, Error::Smh { code, .. } if code == "DirectoryNotFound")
                            && opts.create_parents
                            && !created =>
                    {
                        let Some(parent) = path.parent() else {
                            return Err(Error::Smh {
                                status: 404,
                                code: "DirectoryNotFound".into(),
                                message: "the library has no root directory".into(),
                                request_id: None,
                            }
                            .into());
                        };
                        parent
                    }
                    // A hit: SMH has stored the file, which cancel() came too late to undo.
                    outcome @ Ok(Begin::Instant(_)) => return outcome,
                    outcome => {
                        session.check_cancelled()?;
                        return outcome;
                    }
                }
            };
            session.check_cancelled()?;
            api.create_directory(&parent).await?;
            created = true;
        }
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
            let crc = session.file_crc64().await?;
            let file = match self.confirmed_file(confirm_key, crc).await {
                Err(e) if matches!(*e, Error::IntegrityMismatch { .. }) => return Ok(None),
                file => file?,
            };
            self.keep(file, u64_to_string(crc), false);
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

    /// The outcome of [`Self::resume_task`] as the engine takes it: a task SMH does not know
    /// (expired, cancelled: docs/smh-api.md §7) is not continued; the authorisation and the
    /// task are given back unless the upload goes on with them.
    fn resumed(&self, outcome: Result<Option<Opened>>) -> Result<Option<Opened>> {
        let outcome = match outcome {
            Err(e) if matches!(&*e, Error::Smh { code, .. } if code == "UploadNotFound" || code == "ConfirmKeyNotFound") => {
                Ok(None)
            }
            outcome => outcome,
        };
        if !matches!(outcome, Ok(Some(_))) {
            self.auth.borrow_mut().take();
        }
        if !matches!(outcome, Ok(Some(Opened::Parts(_))))
            && !matches!(&outcome, Err(e) if matches!(**e, Error::Aborted))
        {
            self.open.borrow_mut().take();
        }
        outcome
    }

    /// Confirms the upload with SMH (shielded from cancel, with what the reply leads to) and
    /// keeps the file it reports.
    fn confirm(&self, crc: u64) -> impl Future<Output = Result<()>> + '_ {
        let session = &self.session;
        let confirm_key = self.auth.borrow().as_ref().map(|a| a.auth.confirm_key.clone()).unwrap_or_default();
        // Boxed as the shielded cancels are: one shielded future for both.
        let confirmed: LocalBoxFuture<'_, Result<()>> = Box::pin(self.confirmed(confirm_key, crc));
        session.shielded(Shield::Committing(session.commit_timeout()), confirmed)
    }

    /// SMH's confirm, and the file it committed, kept.
    async fn confirmed(&self, confirm_key: String, crc: u64) -> Result<()> {
        let conflict = self.options.conflict;
        // `None`: a retried confirm whose first attempt went through (its reply was lost). The
        // error is not held while the file is asked for.
        let file = match self.api().confirm(&confirm_key, crc, conflict, self.session.commit_timeout()).await {
            Ok(file) => Some(file),
            Err(e) if matches!(&*e, Error::Smh { code, .. } if code == "UploadComplete") => None,
            Err(e) if matches!(&*e, Error::Smh { code, .. } if code == "BadCrc64") => {
                return Err(Error::IntegrityMismatch {
                    message: "SMH found a different CRC64 for the stored file than the bytes read".into(),
                }
                .into())
            }
            Err(e) => return Err(e),
        };
        let file = match file {
            Some(file) => file,
            None => self.confirmed_file(&confirm_key, crc).await?,
        };
        self.open.borrow_mut().take();
        self.keep(file, u64_to_string(crc), false);
        Ok(())
    }

    /// The file of an upload SMH reports as already confirmed, checked against what was sent.
    ///
    /// A confirm that timed out on our side may still be running on SMH's (a big file takes a
    /// while to assemble): SMH then says `UploadComplete` before its task reads confirmed, so the
    /// task is asked again, with backoff, for up to twice the confirm timeout.
    async fn confirmed_file(&self, confirm_key: &str, crc: u64) -> Result<Box<FileInfo>> {
        let session = &self.session;
        let patience_ms = 2.0 * session.commit_timeout().as_secs_f64() * 1000.0;
        let started = session.now_ms();
        let mut backoff = session.backoff();
        let segments = loop {
            let task = self.api().query(confirm_key).await?;
            let mut segments = Vec::new();
            for segment in task.get("path").and_then(|p| p.as_array()).unwrap_or_default() {
                if let Some(segment) = segment.as_str() {
                    segments.push(segment.to_string());
                }
            }
            if task.get("confirmed").and_then(|c| c.as_bool()) == Some(true) && !segments.is_empty() {
                break segments;
            }
            if session.now_ms() - started > patience_ms {
                return Err(invalid(409, "SMH says the upload is complete but does not report it confirmed"));
            }
            session.uploader.timer.sleep(backoff.wait()).await;
        };
        // The path's segments are not held while SMH is asked (the call borrows none of them).
        let info = self.api().info(&LibraryPath::parse(&crate::text::join(&segments, "/"))?);
        drop(segments);
        let file = info.await?;
        let size = session.size();
        let same = file.size.is_none_or(|s| s == size) && file.crc64.as_deref().is_none_or(|c| c == u64_to_string(crc));
        if !same {
            return Err(
                Error::IntegrityMismatch { message: "the confirmed file differs from the bytes sent".into() }.into()
            );
        }
        Ok(file)
    }

    /// Keeps the file SMH stored: the upload's result.
    fn keep(&self, file: Box<FileInfo>, crc64: String, instant: bool) {
        *self.stored.borrow_mut() = Some(UploadResult { file, size: self.session.size(), crc64, instant });
    }

    /// Takes new upload parameters into use: checks the domain before any byte goes there.
    fn install_auth(&self, auth: Rc<UploadAuth>) -> Result<()> {
        let session = &self.session;
        *self.open.borrow_mut() = Some(auth.confirm_key.clone());
        let origin = session.uploader.allow.check(&auth.domain)?;
        if let Some(current) = self.auth.borrow().as_ref() {
            // A renewal continues the same upload: the same bucket and the same multipart upload.
            let same =
                current.auth.domain.eq_ignore_ascii_case(&auth.domain) && current.auth.upload_id == auth.upload_id;
            if current.auth.upload_id.is_some() && !same {
                return Err(invalid(200, "a renewal changed the upload's domain or uploadId"));
            }
        }
        if session.is_multipart() && auth.upload_id.as_deref().unwrap_or("").is_empty() {
            return Err(invalid(201, "multipart upload parameters without uploadId"));
        }
        let timer = &session.uploader.timer;
        let generation = self.auth.borrow().as_ref().map_or(0, |a| a.generation + 1);
        let renew_at_ms = timer.now_ms() + auth.renew_after_ms(timer.unix_ms());
        *self.auth.borrow_mut() = Some(AuthState { auth, origin, generation, renew_at_ms });
        Ok(())
    }

    /// A PUT of part `number` (the whole object when `None`) with the current authorisation.
    fn signed_put(&self, number: Option<u32>, body: Body, progress: ProgressFn) -> Result<SignedPut> {
        let state = self.auth.borrow();
        let Some(state) = state.as_ref() else {
            return Err(invalid(0, "no upload parameters"));
        };
        let auth = &state.auth;
        let of = match (number, auth.upload_id.as_deref()) {
            (Some(number), Some(upload_id)) => PutOf::Part { number, upload_id },
            _ => PutOf::Object,
        };
        let request = put_request(&state.origin, &auth.path, of, &auth.headers, body, Some(progress));
        Ok(SignedPut { request, generation: state.generation })
    }

    /// Replaces the authorisation of generation `seen` (unless another part already did).
    /// Multipart uploads are renewed; a simple upload (SMH cannot renew those) is begun again.
    async fn renew(&self, seen: u64) -> Result<()> {
        let _one_at_a_time = self.renewing.lock().await;
        let current = match self.auth.borrow().as_ref() {
            Some(state) if state.generation == seen => state.auth.clone(),
            _ => return Ok(()),
        };
        let fresh = if current.upload_id.is_some() {
            self.api().renew(&current.confirm_key).await?
        } else {
            // Simple: a multipart upload's parameters always name their upload (install_auth).
            match self.begin_call(self.options.conflict, None, None).await? {
                Begin::Upload(auth) => {
                    // The old task will never be confirmed.
                    self.uploader.cancel_task(Some(&current.confirm_key)).await;
                    auth
                }
                _ => return Err(invalid(200, "re-begin without hashes did not return upload parameters")),
            }
        };
        self.install_auth(fresh)
    }
}

/// Part number → size of the parts SMH's task query lists (COS ListParts, PascalCase).
fn task_parts(task: &crate::json::Value) -> VecMap<u32, u64> {
    let number = |p: &crate::json::Value, name| p.get(name).and_then(crate::json::Value::to_u64);
    let mut listed = VecMap::new();
    for p in task.get("parts").and_then(|p| p.as_array()).unwrap_or_default() {
        let part_number = number(p, "PartNumber").and_then(|n| u32::try_from(n).ok());
        if let (Some(n), Some(size)) = (part_number, number(p, "Size")) {
            listed.insert(n, size);
        }
    }
    listed
}
