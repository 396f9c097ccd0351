//! One upload from start to finish, the same for both services; a [`Flow`] supplies what
//! differs. By phase:
//!
//! 1. [`perform_upload`]: resume the server upload a record names ([`Flow::resume`]), or begin
//!    a new one ([`Flow::begin`]);
//! 2. [`perform_upload`] then sends the parts the server does not hold ([`super::parts`]), and
//!    completes them into one file ([`Flow::complete`]) — unless the flow stored the file
//!    another way while they went ([`Flow::send_parts`]);
//! 3. [`run`]: obey cancel and clean up — the record is kept for a later resume or forgotten,
//!    the server upload cancelled when it will not complete.

use std::rc::Rc;

use futures::future::Either;

use super::checkpoint::{Identity, Record, MAX_AGE_MS};
use super::flow::{Flow, Opened};
use super::parts::send_missing_parts;
use super::plan::{combined_crc64, loaded, PartDone, PartsDone, Plan};
use super::progress::{Phase, Progress};
use super::session::{Session, Shield};
use super::state::UploadState;
use crate::error::{Error, Result};
use crate::net::timeout::race;

/// Receives state changes, progress reports and warnings.
pub trait Observer {
    fn on_state(&self, state: UploadState);
    fn on_progress(&self, progress: &Progress);
    /// Something the app should know that does not stop the upload; `code` is stable.
    fn on_warning(&self, _code: &'static str, _message: &str) {}
}

/// Runs the upload of `session` through `flow` to its end. The returned future is the whole
/// upload: dropping it aborts in-flight requests (use [`super::Control::cancel`] to also cancel
/// on the server).
///
/// `cancel()` stops at once and reports `Cancelled`, with two exceptions ([`Shield`]). While
/// the server opens the upload, the state is `Cancelled` at once but the reply is still awaited
/// (without the caller waiting) so that the upload it opened is cancelled too. While the server
/// commits the file (or a quick-upload hit may create it), the reply is awaited for at most the
/// call's bound: a file committed is reported done (`cancel()` came too late to undo it); with no
/// reply by then the task is cancelled and the record and server upload are kept, so that the
/// next upload() of the file learns the outcome.
pub(crate) async fn run(session: Rc<Session>, flow: Rc<dyn Flow>) -> Result<()> {
    let control = session.control.clone();
    // Both futures are dropped at the end of this block, the loser's requests aborted, before
    // cleanup runs (and neither is held across its awaits).
    let outcome = {
        let mut upload = Box::pin(perform_upload(session.clone(), flow.clone()));
        let mut cancelled = Box::pin(async {
            while !control.is_cancelled() {
                control.changed().await;
            }
            match session.shield() {
                Shield::None => {}
                Shield::Opening => {
                    // The upload ends on its own once the reply is in (and cancels what it opened).
                    session.set_state(UploadState::Cancelled);
                    std::future::pending::<()>().await;
                }
                // The upload ends first if the commit's outcome arrives in time.
                Shield::Committing(bound) => session.uploader.timer.sleep(bound).await,
            }
        });
        match race(upload.as_mut(), cancelled.as_mut()).await {
            Either::Left(result) => result,
            Either::Right(()) => Err(Error::Aborted.into()),
        }
    };
    let key = session.record_key();
    let result = match outcome {
        Ok(()) => {
            session.forget_record().await;
            session.set_state(UploadState::Done);
            Ok(())
        }
        Err(error) => {
            let cancelled = control.is_cancelled();
            if session.commit_unknown(&error) || (!cancelled && session.keep_for_resume(&error)) {
                // Parts are on the server and the record says which: a later upload() of the
                // same file continues from there, or learns that the file was committed (or
                // discardPending() cancels it).
                session.save_record().await;
            } else {
                session.forget_record().await;
                flow.abandon().await;
            }
            if cancelled {
                session.set_state(UploadState::Cancelled);
                Err(Error::Aborted.into())
            } else {
                session.set_state(UploadState::Failed);
                Err(error)
            }
        }
    };
    if let Some(key) = key {
        session.uploader.release(&key);
    }
    session.release_hold();
    session.uploader.discard_pruned(&|record| flow.discard(record)).await;
    result
}

/// Opens the upload, sends the parts the server does not hold, and completes it.
///
/// Opening continues the server upload of an earlier attempt at this file, if there is one that
/// can be continued; otherwise begins a new one (once not paused). A record whose server upload
/// the server no longer knows is discarded (its server upload cancelled); one that could not be
/// checked fails the attempt and is kept.
async fn perform_upload(session: Rc<Session>, flow: Rc<dyn Flow>) -> Result<()> {
    // The server upload of this file's record, continued (`None`: begin a new one). In this
    // function, not one of its own: one state machine less.
    let resumed = 'resume: {
        let Plan::Multipart { part_size, .. } = session.plan else { break 'resume None };
        if !session.uploader.checkpoints.enabled() {
            break 'resume None;
        }
        let size = session.size();
        // In blocks: the strings that name the record are not held across the awaits after.
        let (record, now) = {
            let scope = flow.record_scope();
            let key = {
                // A stable identity (name, size, modification time) finds the record alone;
                // otherwise the first MiB's hash tells files apart.
                let beginning =
                    if session.source.stable_identity() { String::new() } else { session.beginning_hash().await? };
                let fingerprint = session.source.fingerprint();
                Identity {
                    library_id: &scope.library_id,
                    space_id: &scope.space_id,
                    path: &scope.path,
                    size,
                    fingerprint: &fingerprint,
                    beginning_hash: &beginning,
                }
                .key()
            };
            // The same file uploading twice at once to the same target: only the first is
            // resumable.
            if !session.uploader.claim(&key) {
                break 'resume None;
            }
            // Another tab or client is uploading this file to this target now: this upload opens
            // a server upload of its own and keeps no record (README, "Resumable uploads").
            let Some((hold, record)) = session.uploader.checkpoints.load(&key).await else { break 'resume None };
            let now = session.uploader.timer.unix_ms();
            let name = session.source.name().unwrap_or(scope.name);
            session.start_record(key, Record::new(&scope.path, &name, size, part_size, now), hold);
            (record, now)
        };
        let Some(record) = record else { break 'resume None };
        let expired = now - record.updated_at > MAX_AGE_MS;
        let fits = !expired && record.part_size == part_size && record.size == size && record.upload_id.is_some();
        let resumed = if fits { flow.resume(&record).await } else { Ok(None) };
        match resumed {
            Ok(Some(Opened::Parts(parts))) => {
                session.continue_record(&record, &parts);
                session.save_record().await;
                Some(Opened::Parts(parts))
            }
            Ok(Some(Opened::Stored)) => Some(Opened::Stored),
            Ok(None) => {
                // A record that does not fit this upload, or whose upload the server no longer
                // knows or will not continue: forget it and cancel its server upload (best
                // effort), and start cleanly.
                flow.discard(&record).await;
                if let Some(key) = session.record_key() {
                    session.uploader.checkpoints.remove(&key).await;
                }
                None
            }
            Err(e) if matches!(*e, Error::Aborted) => return Err(e),
            Err(error) => {
                // The check failed, not the upload (a network error, an overloaded server, a
                // token): the record and the server upload stay for the next attempt.
                session.leave_record();
                return Err(error);
            }
        }
    };
    let opened = match resumed {
        Some(opened) => opened,
        None => {
            session.wait_while_paused(UploadState::Preparing).await;
            session.check_cancelled()?;
            let opened = flow.begin().await?;
            session.save_record().await;
            opened
        }
    };
    let Opened::Parts(mut parts) = opened else { return Ok(()) };
    let size = session.size();
    session.set_state(UploadState::Uploading);
    session.enter_phase(Phase::Uploading, size, loaded(&parts));
    if flow.send_parts(Box::pin(send_missing_parts(&session, &flow, &mut parts))).await? {
        return Ok(());
    }
    session.save_record().await;
    session.set_state(UploadState::Confirming);
    session.enter_phase(Phase::Confirming, size, size);
    flow.complete(&parts, combined_crc64(&parts)).await
}

/// The parts of `record`'s upload that the server holds with their planned size (`listed`:
/// part number → size and ETag on the server) and that this file is proven to have sent.
///
/// A record is found by the file's name, size and modification time, which another file can
/// share: every resumed part's CRC-64 is read again from the file and must equal the record's,
/// else the part is sent again. Neither SMH nor COS lists a part's CRC-64 (only its MD5 ETag,
/// docs/cos-api.md §2.7, docs/smh-api.md §5.5), so the record is the proof. A part the server
/// holds but the record misses (stored after the record's last write, at most about a second of
/// parts) is sent again too: nothing proves this file sent it, and COS's Complete would commit
/// whatever the server holds.
pub(crate) async fn parts_on_server(
    session: &Session,
    record: &Record,
    listed: &dyn Fn(u32) -> Option<(u64, Option<String>)>,
) -> Result<PartsDone> {
    let mut done = PartsDone::new();
    for number in 1..=session.plan.part_count() {
        let range = session.plan.part_range(number);
        let len = range.end - range.start;
        let (Some(part), Some((listed_len, etag))) = (record.parts.get(&number), listed(number)) else { continue };
        if listed_len != len || part.len != len || part.crc64 != session.part_crc64(number).await? {
            continue;
        }
        done.insert(number, PartDone { number, len, crc64: part.crc64, etag });
    }
    Ok(done)
}
