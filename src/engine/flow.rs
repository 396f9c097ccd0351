//! [`Flow`]: what differs between an upload through SMH ([`super::smh_flow`]) and one straight
//! to COS ([`super::cos_flow`]). Everything else — the order of the phases, resuming, sending
//! the parts, cleaning up — is the same and lives in [`super::upload`] and [`super::parts`],
//! which know a flow only through this trait.
//!
//! A flow holds the upload's [`super::session::Session`]. Its methods return boxed futures so
//! that one copy of the shared machinery serves both flows (the package's size is budgeted).

use super::checkpoint::Record;
use super::plan::PartsDone;
use crate::error::{Error, Result};
use crate::platform::{Body, HttpRequest, LocalBoxFuture, ProgressFn};

/// Where an upload's resumable record is filed ([`super::checkpoint::Identity`]).
pub(crate) struct RecordScope {
    pub library_id: String,
    pub space_id: String,
    /// The library path or the object key.
    pub path: String,
    /// Shown by `pendingUploads()` when the file has no name of its own.
    pub name: String,
}

/// How an upload stands once its flow has begun or resumed it.
pub(crate) enum Opened {
    /// A server upload is open and holds these parts (none when it is new): send the others.
    Parts(PartsDone),
    /// Nothing to send: the file is stored already (a quick-upload hit, or an upload confirmed
    /// while its reply was lost). The flow holds what the server said.
    Stored,
}

/// The PUT of one part (or of the whole object) and the generation of the authorisation that
/// signed it, which [`Flow::reauthorise`] replaces when COS refuses it.
pub(crate) struct SignedPut {
    pub request: HttpRequest,
    pub generation: u64,
}

/// One service's way through an upload, by phase.
pub(crate) trait Flow {
    /// Where this upload's resumable record is filed.
    fn record_scope(&self) -> RecordScope;

    /// Creates the upload on the server (shielded from cancel where the server opens
    /// something): SMH's begin, with quick upload; COS's InitiateMultipartUpload, or nothing for
    /// a one-request upload. The flow notes the new server upload in the session's record.
    fn begin(&self) -> LocalBoxFuture<'_, Result<Opened>>;

    /// Continues the server upload `record` names: the parts the server holds with their
    /// planned size, or [`Opened::Stored`]. `None`: the server does not know the upload (or
    /// says it cannot be continued), so the caller discards the record and begins anew. An
    /// error says nothing about the upload (the network, an overloaded server, a token): the
    /// attempt fails with it and the record and the server upload are kept for the next.
    fn resume<'a>(&'a self, record: &'a Record) -> LocalBoxFuture<'a, Result<Option<Opened>>>;

    /// The signed PUT of `body` as part `number` (`None`: the whole object in one request).
    fn part_request(
        &self,
        number: Option<u32>,
        body: Body,
        progress: ProgressFn,
    ) -> LocalBoxFuture<'_, Result<SignedPut>>;

    /// COS refused the authorisation of `generation` as expired (`date`: its reply's `Date`):
    /// replace it so that the part can be sent again.
    fn reauthorise<'a>(
        &'a self,
        generation: u64,
        error: &'a Error,
        date: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<()>>;

    /// Whether the flow can use what COS said about a part it stored (its ETag, for a flow that
    /// completes the upload itself).
    fn check_stored(&self, _number: u32, _etag: Option<&str>) -> Result<()> {
        Ok(())
    }

    /// Runs `sending` (the parts the server does not hold) to its end, `Ok(false)`. A flow may
    /// run something alongside that stores the file another way — SMH's quick upload when the
    /// full hash was slower than the parts — and then drop `sending`, cancel the server upload
    /// that carried the parts, and return `Ok(true)`: nothing is left to complete.
    fn send_parts<'a>(&'a self, sending: LocalBoxFuture<'a, Result<()>>) -> LocalBoxFuture<'a, Result<bool>> {
        Box::pin(async move { sending.await.map(|()| false) })
    }

    /// Makes the parts one file (SMH's confirm, COS's CompleteMultipartUpload), checked against
    /// `crc64`, the whole file's CRC-64; shielded from cancel.
    fn complete<'a>(&'a self, parts: &'a PartsDone, crc64: u64) -> LocalBoxFuture<'a, Result<()>>;

    /// Cancels the server upload this one opened, if it is still open (best effort).
    fn abandon(&self) -> LocalBoxFuture<'_, ()>;

    /// Cancels the server upload an older `record` names (best effort). The future holds what
    /// it needs of `record`.
    fn discard(&self, record: &Record) -> LocalBoxFuture<'_, ()>;
}
