//! Uploads straight to a COS bucket: [`DirectCosUploader`] (the engine behind `CosUploader`)
//! and its `Flow`.
//!
//! InitiateMultipartUpload → the parts, each signed in the client with temporary credentials
//! → CompleteMultipartUpload with every part's ETag, the object's CRC-64 checked against the
//! parts'. A file at or below the multipart threshold is one PutObject. A resumed upload asks
//! COS with ListParts.

use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;

use futures::FutureExt;

use super::checkpoint::{Pending, Record};
use super::client::{ClientConfig, Uploader};
use super::control::Control;
use super::flow::{Flow, Opened, RecordScope, SignedPut};
use super::plan::PartsDone;
use super::session::{Session, Shield};
use super::upload::{parts_on_server, Observer};
use crate::cos::api::{Completed, CosApi, CosTarget};
use crate::cos::credentials::{CredentialCache, CredentialProvider};
use crate::error::{Error, Result};
use crate::json::u64_to_string;
use crate::platform::{Body, CheckpointStore, FileSource, Http, LocalBoxFuture, ProgressFn, Timer};
use crate::text::{concat, fill, last_segment, trim};

/// Most bytes of user metadata COS stores with an object.
pub const MAX_META_BYTES: usize = 2048;

/// Where a direct-COS uploader sends objects.
#[derive(Debug, Clone)]
pub struct CosConfig {
    /// `name-appid`, e.g. `examplebucket-1250000000`.
    pub bucket: String,
    /// e.g. `ap-guangzhou`.
    pub region: String,
    /// `host[:port]`; `None` = `{bucket}.cos.{region}.myqcloud.com`.
    pub domain: Option<String>,
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

impl CosObject {
    /// Checks `content_type` and `meta`: printable ASCII (they travel as HTTP headers), names of
    /// letters, digits, `-` and `_`, at most 2 KB of metadata.
    pub fn validate(&self) -> Result<()> {
        let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if let Some(t) = &self.content_type {
            if trim(t).is_empty() || !printable(t) {
                return Err(Error::invalid_input("contentType", "must be a non-empty MIME type of printable ASCII"));
            }
        }
        let mut total = 0;
        for (i, (name, value)) in self.meta.iter().enumerate() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(Error::invalid_input("meta", "names must be letters, digits, '-' or '_'"));
            }
            // Header names are case-insensitive: two would reach COS as one, merged.
            if self.meta[..i].iter().any(|(earlier, _)| earlier.eq_ignore_ascii_case(name)) {
                return Err(Error::invalid_input("meta", "names must differ in more than letter case"));
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
        let mut headers = Vec::new();
        if let Some(t) = &self.content_type {
            headers.push(("Content-Type".to_string(), t.clone()));
        }
        for (k, v) in &self.meta {
            headers.push((concat(&["x-cos-meta-", &k.to_ascii_lowercase()]), v.clone()));
        }
        headers
    }
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

/// A client of one COS bucket: the [`Uploader`] every upload shares, and the COS API signed
/// with temporary credentials.
pub struct DirectCosUploader {
    uploader: Rc<Uploader>,
    pub(crate) api: CosApi,
}

impl Deref for DirectCosUploader {
    type Target = Uploader;
    fn deref(&self) -> &Uploader {
        &self.uploader
    }
}

impl DirectCosUploader {
    /// A direct-COS uploader: objects go to `cos`'s bucket, signed with the credentials
    /// `credentials` provides (`config.target`, the SMH target, is not used). `allowedDomains`
    /// defaults to the bucket's domain alone.
    pub fn new(
        cos: CosConfig,
        mut config: ClientConfig,
        http: Rc<dyn Http>,
        timer: Rc<dyn Timer>,
        credentials: Rc<dyn CredentialProvider>,
        checkpoints: Rc<dyn CheckpointStore>,
    ) -> Result<DirectCosUploader> {
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid(&cos.bucket) {
            return Err(Error::invalid_input(
                "bucket",
                "must be the bucket's name-appid, e.g. examplebucket-1250000000",
            ));
        }
        if !valid(&cos.region) {
            return Err(Error::invalid_input("region", "must be a COS region, e.g. ap-guangzhou"));
        }
        let domain = match &cos.domain {
            Some(d) => trim(d).to_ascii_lowercase(),
            None => fill("{}.cos.{}.myqcloud.com", &[(&cos.bucket).into(), (&cos.region).into()]).to_ascii_lowercase(),
        };
        if config.allowed_domains.is_none() {
            // The bucket's domain alone. One that is no host is the `domain` option's mistake:
            // the error names it, not an `allowedDomains` the app never set.
            if crate::cos::domain::AllowList::parse(&[&domain]).is_err() {
                return Err(Error::invalid_input("domain", "must be a host[:port], e.g. cos.example.com"));
            }
            config.allowed_domains = Some(vec![domain.clone()]);
        }
        let retry = config.retry.clone();
        // Records are the bucket's: another client of the page may upload elsewhere.
        let scope = concat(&["cos:", &domain]);
        let uploader = Uploader::new(config, http.clone(), timer.clone(), checkpoints, &scope)?;
        // The bucket's domain is checked now: nothing is ever sent anywhere else.
        let origin = uploader.allow.check(&domain)?;
        let target = CosTarget { bucket: cos.bucket, region: cos.region, origin };
        let api = CosApi { http, timer, target, credentials: CredentialCache::new(credentials), retry };
        Ok(DirectCosUploader { uploader: Rc::new(uploader), api })
    }

    /// [`Uploader::pending_uploads`]; the multipart uploads of records it pruned are aborted.
    pub async fn pending_uploads(&self) -> Vec<Pending> {
        let pending = self.uploader.pending_uploads().await;
        self.uploader.discard_pruned(&|record| self.abort_upload(&record.path, record.upload_id.as_deref())).await;
        pending
    }

    /// Forgets the unfinished uploads to object `key` (all when `None`) and aborts them in COS;
    /// returns how many.
    pub async fn discard_pending(&self, key: Option<&str>) -> usize {
        self.uploader.discard_pending(key, &|record| self.abort_upload(&record.path, record.upload_id.as_deref())).await
    }

    /// Aborts multipart upload `upload_id` of object `key`, if any (best effort; a record's
    /// object key is its path). Boxed: one future for every caller.
    fn abort_upload(&self, key: &str, upload_id: Option<&str>) -> LocalBoxFuture<'_, ()> {
        let abort = upload_id.map(|upload_id| self.api.abort(key, upload_id));
        Box::pin(async move {
            if let Some(abort) = abort {
                let _ = abort.await;
            }
        })
    }
}

/// Runs one direct-COS upload of `source` to `object` (see `engine::upload::run`; Initiate and
/// Complete are shielded from cancel the way SMH's begin and confirm are).
pub async fn run_cos(
    uploader: Rc<DirectCosUploader>,
    source: Rc<dyn FileSource>,
    object: CosObject,
    control: Control,
    observer: Rc<dyn Observer>,
) -> Result<CosResult> {
    let session = Session::new(uploader.uploader.clone(), source, control, observer)?;
    let flow = Rc::new(CosFlow {
        session: session.clone(),
        uploader,
        object,
        upload_id: RefCell::new(None),
        done: RefCell::new(None),
    });
    super::upload::run(session, flow.clone()).await?;
    flow.done.take().ok_or_else(|| {
        Error::InvalidResponse { status: 0, message: "the upload ended without an object".into() }.into()
    })
}

struct CosFlow {
    session: Rc<Session>,
    uploader: Rc<DirectCosUploader>,
    object: CosObject,
    /// The multipart upload open for this object, until it is completed: aborted if the upload
    /// does not complete.
    upload_id: RefCell<Option<String>>,
    /// The object COS stored.
    done: RefCell<Option<CosResult>>,
}

impl Flow for CosFlow {
    fn record_scope(&self) -> RecordScope {
        let key = &self.object.key;
        RecordScope {
            library_id: self.api().target.origin.authority.clone(),
            space_id: "cos".to_string(),
            path: key.clone(),
            name: last_segment(key).to_string(),
        }
    }

    fn begin(&self) -> LocalBoxFuture<'_, Result<Opened>> {
        Box::pin(async move {
            let session = &self.session;
            if session.is_multipart() {
                let initiate = self.api().initiate(&self.object.key, self.object.headers());
                let upload_id = session.shielded(Shield::Opening, initiate).await?;
                // Known before any cancel is obeyed, so that abandon() aborts it.
                *self.upload_id.borrow_mut() = Some(upload_id.clone());
                session.check_cancelled()?;
                session.record_new_upload(&upload_id, None);
            }
            Ok(Opened::Parts(PartsDone::new()))
        })
    }

    fn resume<'a>(&'a self, record: &'a Record) -> LocalBoxFuture<'a, Result<Option<Opened>>> {
        Box::pin(async move {
            let upload_id = record.upload_id.as_deref().unwrap_or_default();
            // Taken over before the check, so that a cancel during it aborts the upload
            // (abandon()); given back when the check ends without continuing it.
            *self.upload_id.borrow_mut() = Some(upload_id.to_string());
            let outcome = self.check(record, upload_id).await;
            if !matches!(outcome, Ok(Some(Opened::Parts(_))))
                && !matches!(&outcome, Err(e) if matches!(**e, Error::Aborted))
            {
                self.upload_id.borrow_mut().take();
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
        let upload_id = self.upload_id.borrow();
        let (part, headers) = match (number, upload_id.as_deref()) {
            (Some(n), Some(id)) => (Some((id, n)), Vec::new()),
            _ => (None, self.object.headers()),
        };
        let put = self.api().put_request(&self.object.key, part, headers, body, Some(progress));
        Box::pin(put.map(|signed| signed.map(|(request, generation)| SignedPut { request, generation })))
    }

    fn reauthorise<'a>(
        &'a self,
        generation: u64,
        error: &'a Error,
        date: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.api().recover(error, date, generation))
    }

    fn check_stored(&self, number: u32, etag: Option<&str>) -> Result<()> {
        match etag {
            Some(_) => Ok(()),
            None => Err(Error::InvalidResponse {
                status: 200,
                message: fill("COS's reply to part {} has no readable ETag, which CompleteMultipartUpload needs (add ETag to the bucket's CORS ExposeHeaders)", &[number.into()]),
            }.into()),
        }
    }

    fn complete<'a>(&'a self, parts: &'a PartsDone, crc64: u64) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let etag = if self.session.is_multipart() {
                // Shielded from cancel, as SMH's confirm is.
                let bound = self.session.commit_timeout();
                self.session.shielded(Shield::Committing(bound), self.complete_checked(parts, crc64)).await?
            } else {
                parts.get(&1).and_then(|p| p.etag.clone())
            };
            self.store(etag, crc64);
            Ok(())
        })
    }

    fn abandon(&self) -> LocalBoxFuture<'_, ()> {
        let open = self.upload_id.borrow_mut().take();
        self.uploader.abort_upload(&self.object.key, open.as_deref())
    }

    fn discard(&self, record: &Record) -> LocalBoxFuture<'_, ()> {
        self.uploader.abort_upload(&record.path, record.upload_id.as_deref())
    }
}

impl CosFlow {
    fn api(&self) -> &CosApi {
        &self.uploader.api
    }

    /// ListParts of the multipart upload `record` names: the parts to keep. An upload COS no
    /// longer knows whose record holds every part may have had its Complete go through with the
    /// reply lost (the attempt then failed and kept the record): if the object is this file — its
    /// size, and the CRC-64 read from the file — it is the upload's result; otherwise (`None`)
    /// the record is discarded and the upload begun anew.
    async fn check(&self, record: &Record, upload_id: &str) -> Result<Option<Opened>> {
        let session = &self.session;
        let listed = match self.api().list_parts(&self.object.key, upload_id).await {
            Err(e) if e.code() == "NoSuchUpload" => {
                if record.parts.len() as u32 != session.plan.part_count() {
                    return Ok(None);
                }
                let crc = session.file_crc64().await?;
                // A retryable error: the check failed, not the upload (see Flow::resume).
                let Some(found) = self.stored_object(crc).await? else { return Ok(None) };
                self.store(found.etag, crc);
                return Ok(Some(Opened::Stored));
            }
            listed => listed?,
        };
        let parts =
            parts_on_server(session, record, &|n| listed.get(&n).map(|p| (p.size, Some(p.etag.clone())))).await?;
        Ok(Some(Opened::Parts(parts)))
    }

    /// The object at the key, by HEAD, if it is this file (its size and CRC-64 `crc`); `None`
    /// when it is not, or HEAD says nothing (no such object, not allowed); a retryable error
    /// when HEAD could not be asked.
    async fn stored_object(&self, crc: u64) -> Result<Option<Completed>> {
        match self.api().head(&self.object.key).await {
            Ok((Some(size), etag, Some(stored))) if size == self.session.size() && stored == crc => {
                Ok(Some(Completed { etag, crc64: Some(stored) }))
            }
            Err(e) if e.retryable() => Err(e),
            _ => Ok(None),
        }
    }

    /// Notes the object COS stored.
    fn store(&self, etag: Option<String>, crc64: u64) {
        let (key, size) = (self.object.key.clone(), self.session.size());
        let location = concat(&[&self.api().target.origin.authority, "/", &key]);
        *self.done.borrow_mut() = Some(CosResult { key, size, crc64: u64_to_string(crc64), etag, location });
    }

    /// CompleteMultipartUpload with every part's ETag, then the object's CRC-64 checked against
    /// the parts'; returns the object's ETag. A retried Complete whose first attempt went through
    /// (its reply was lost) finds the upload gone: the object is then checked by HEAD — same size
    /// and CRC-64 — and taken as done.
    async fn complete_checked(&self, parts: &PartsDone, crc: u64) -> Result<Option<String>> {
        let (api, key) = (self.api(), &self.object.key);
        // The request is built now: neither the ETags nor the upload's id are held while it runs.
        let complete = {
            let mut etags = Vec::new();
            for n in 1..=self.session.plan.part_count() {
                let Some(etag) = parts.get(&n).and_then(|p| p.etag.clone()) else {
                    return Err(Error::InvalidResponse {
                        status: 200,
                        message: fill("no ETag is known for part {}", &[n.into()]),
                    }
                    .into());
                };
                etags.push((n, etag));
            }
            let upload_id = self.upload_id.borrow();
            api.complete(key, upload_id.as_deref().unwrap_or_default(), &etags, self.session.commit_timeout())
        };
        let completed = match complete.await {
            Err(gone) if gone.code() == "NoSuchUpload" => self.stored_object(crc).await?.ok_or(gone)?,
            outcome => outcome?,
        };
        self.upload_id.borrow_mut().take();
        // Complete's reply names the object's CRC-64; where it does not (a proxy, a bucket whose
        // CORS hides the header), HEAD may (it needs the HeadObject permission).
        let stored = match completed.crc64 {
            Some(stored) => Some(stored),
            None => api.head(key).await.ok().and_then(|(_, _, crc)| crc),
        };
        match stored {
            Some(stored) if stored != crc => Err(Error::IntegrityMismatch {
                message: fill("COS assembled an object whose CRC-64 differs from the file's ({})", &[crc.into()]),
            }
            .into()),
            Some(_) => Ok(completed.etag),
            None => {
                self.session.warn_crc_not_checked();
                Ok(completed.etag)
            }
        }
    }
}
