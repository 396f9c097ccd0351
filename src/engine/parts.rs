//! The part machinery, the same for both services: parts take the client's connection slots
//! ([`super::scheduler`]), each is read, sent with a stall watchdog, checked against its CRC-64
//! and retried inside its own loop; progress is reported as bytes go out, the record written as
//! parts complete, and a pause or cancel stops every part in flight.
//!
//! [`send_missing_parts`] → [`send_part`] → [`put_watched`].

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use super::flow::{Flow, SignedPut};
use super::plan::{PartDone, PartsDone, Plan};
use super::scheduler::SlotGuard;
use super::session::{Session, PROGRESS_INTERVAL_MS};
use super::state::UploadState;
use crate::cos::put::check_put_reply;
use crate::error::{Error, Result};
use crate::net::retry::{wait_online, Retry};
use crate::platform::{Body, HttpResponse, LocalBoxFuture, Part, ProgressFn};
use crate::text::fill;

/// Renewals one part may trigger in a row before its expired-authorisation error is final.
const MAX_RENEWALS_PER_PART: u32 = 3;

/// What [`send_missing_parts`] waits for.
enum Event {
    /// A connection slot for the next part.
    Slot(SlotGuard),
    /// A part's outcome.
    Part(Result<PartDone>),
    /// Paused or cancelled.
    Interrupted,
}

/// Sends every part not in `parts` (adding each as it is done), pausing and resuming as told,
/// until all are done, one fails, or the upload is cancelled.
///
/// By rounds: each sends the parts missing at its start until all are done, one fails, or the
/// upload is paused or cancelled (then the parts in flight are aborted, and the record written).
pub(crate) async fn send_missing_parts(
    session: &Rc<Session>,
    flow: &Rc<dyn Flow>,
    parts: &mut PartsDone,
) -> Result<()> {
    let count = session.plan.part_count();
    let slots = session.uploader.slots.clone();
    'rounds: loop {
        session.wait_while_paused(UploadState::Uploading).await;
        session.check_cancelled()?;
        // In reverse: parts are taken from the end, lowest number first.
        let mut missing = Vec::new();
        for n in (1..=count).rev() {
            if !parts.contains_key(&n) {
                missing.push(n);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        // The parts in flight, no more than the connection slots: all polled at each wake-up.
        let mut running: Vec<LocalBoxFuture<'static, Result<PartDone>>> = Vec::new();
        let mut acquiring = Some(slots.acquire());
        let mut interrupted = session.control.interrupted();
        loop {
            if acquiring.is_none() && running.is_empty() {
                continue 'rounds;
            }
            let event = poll_fn(|cx| {
                if Pin::new(&mut interrupted).poll(cx).is_ready() {
                    return Poll::Ready(Event::Interrupted);
                }
                for (i, part) in running.iter_mut().enumerate() {
                    if let Poll::Ready(result) = part.as_mut().poll(cx) {
                        drop(running.swap_remove(i));
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
            let stop = match event {
                Event::Interrupted => {
                    running.clear();
                    true
                }
                Event::Slot(slot) => {
                    if let Some(n) = missing.pop() {
                        running.push(Box::pin(send_part(session.clone(), flow.clone(), n, slot)));
                    }
                    acquiring = missing.last().map(|_| slots.acquire());
                    continue;
                }
                Event::Part(Ok(part)) => {
                    session.record_part(&part);
                    session.progress.borrow_mut().part_done(part.number, part.len);
                    if running.is_empty() && acquiring.is_none() {
                        session.report_progress_now();
                    } else {
                        session.report_progress();
                    }
                    parts.insert(part.number, part);
                    false
                }
                Event::Part(Err(e)) => return Err(e),
            };
            if stop || session.save_is_due() {
                session.save_record().await;
            }
            if stop {
                for n in 1..=count {
                    session.progress.borrow_mut().part_aborted(n);
                }
                continue 'rounds;
            }
        }
    }
}

/// Reads, sends and verifies part `number`, retrying inside; holds `slot` throughout.
async fn send_part(session: Rc<Session>, flow: Rc<dyn Flow>, number: u32, mut slot: SlotGuard) -> Result<PartDone> {
    let range = session.plan.part_range(number);
    let len = range.end - range.start;
    let part_number = matches!(session.plan, Plan::Multipart { .. }).then_some(number);
    let mut retry = Retry::new(session.uploader.config().retry.max_retries, session.backoff());
    let mut reads = session.read_retry();
    let (mut renewals, mut best_sent) = (0u32, 0u64);
    // The body goes out while its CRC is computed; the CRC is known from the first reply on.
    let mut part: Option<(Body, Option<LocalBoxFuture<'static, Result<u64>>>)> = None;
    let mut crc: Option<u64> = None;
    'send: loop {
        if part.is_none() {
            let Part { body, crc64 } = session.source.part(range.clone()).await?;
            if body.len() != len {
                return Err(Error::FileRead {
                    message: fill(
                        "part {}: expected {} bytes, the file gave {}; the file changed",
                        &[number.into(), len.into(), body.len().into()],
                    ),
                }
                .into());
            }
            part = Some((body, Some(crc64)));
        }
        let Some((body, pending_crc)) = part.as_mut() else { continue };
        if !session.is_online() {
            // Waits for the network, with progress saying so.
            let waiting = session.offline_wait();
            let outcome = wait_online(&*session.uploader.timer, &session.uploader.config().retry).await;
            drop(waiting);
            session.report_progress_now();
            outcome?;
        }
        let sent = Rc::new(Cell::new(0u64));
        // The PUT and, on the part's first send, the CRC (`None` after), both to their end (in a
        // block: the PUT's future is not kept across the waits after).
        let (reply, computed) = {
            let mut put = pin!(put_watched(&session, &*flow, number, part_number, body.clone(), sent.clone()));
            let (mut reply, mut computed) = (None, None);
            let reply = poll_fn(|cx| {
                if reply.is_none() {
                    if let Poll::Ready(done) = put.as_mut().poll(cx) {
                        reply = Some(done);
                    }
                }
                if let Some(crc) = pending_crc.as_mut() {
                    if let Poll::Ready(value) = crc.as_mut().poll(cx) {
                        computed = Some(value);
                        *pending_crc = None;
                    }
                }
                match reply.take_if(|_| pending_crc.is_none()) {
                    Some(reply) => Poll::Ready(reply),
                    None => Poll::Pending,
                }
            })
            .await;
            (reply, computed)
        };
        // The wait before the part goes again, and whether its slot must be admitted again
        // (in a block: the error and the reply are not kept across the waits).
        let (wait, readmit) = 'next: {
            match computed {
                Some(Ok(value)) => crc = Some(value),
                Some(Err(error)) if matches!(*error, Error::FileRead { .. }) => {
                    // The read behind the CRC failed: read the part again.
                    let Some(wait) = reads.take() else { return Err(error) };
                    part = None;
                    session.progress.borrow_mut().part_aborted(number);
                    break 'next (wait, false);
                }
                Some(Err(error)) => return Err(error),
                None => {}
            }
            let (generation, reply) = reply?;
            let expected = crc.unwrap_or_default();
            let date = reply.as_ref().ok().and_then(|r| r.header("date")).map(str::to_string);
            let error = match reply.and_then(|resp| check_put_reply(&resp, expected)) {
                Ok(stored) => {
                    if !stored.crc_checked {
                        session.warn_crc_not_checked();
                    }
                    if part_number.is_some() {
                        flow.check_stored(number, stored.etag.as_deref())?;
                    }
                    session.uploader.slots.delivered();
                    return Ok(PartDone { number, len, crc64: expected, etag: stored.etag });
                }
                Err(e) => e,
            };
            session.progress.borrow_mut().part_aborted(number);
            if error.is_expired_authorisation() && renewals < MAX_RENEWALS_PER_PART {
                renewals += 1;
                flow.reauthorise(generation, &error, date.as_deref()).await?;
                continue 'send;
            }
            let crc_mismatch = matches!(*error, Error::IntegrityMismatch { .. });
            if crc_mismatch {
                // COS stored other bytes than the CRC says: the bytes read for the CRC may not be
                // the bytes sent (a file changing, a bad read). Read the part again, CRC too.
                part = None;
                crc = None;
            }
            if sent.get() > best_sent {
                // The part made progress: start its retry count again.
                best_sent = sent.get();
                retry.reset();
            }
            if error.retryable() && !session.is_online() {
                // The outage failed it, not the server: wait for the network, no retry spent.
                continue 'send;
            }
            if error.retryable() {
                // Overload (timeouts, resets, 429/5xx, SlowDown): fewer parts in flight.
                session.uploader.slots.congested(&slot);
            }
            if error.retryable() || crc_mismatch {
                if let Some(wait) = retry.take().filter(|_| session.take_budget()) {
                    break 'next (wait, true);
                }
            }
            return Err(error);
        };
        session.uploader.timer.sleep(wait).await;
        if readmit {
            slot = session.uploader.slots.readmit(slot).await;
        }
    }
}

/// One PUT with a stall watchdog: no upload progress for `stall_timeout` aborts it. Returns the
/// generation of the authorisation used and the outcome of the PUT.
async fn put_watched(
    session: &Rc<Session>,
    flow: &dyn Flow,
    number: u32,
    part_number: Option<u32>,
    body: Body,
    sent: Rc<Cell<u64>>,
) -> Result<(u64, Result<HttpResponse>)> {
    let timer = session.uploader.timer.clone();
    let last_activity = Rc::new(Cell::new(timer.now_ms()));
    let progress: ProgressFn = {
        let (session, last_activity, timer) = (Rc::downgrade(session), last_activity.clone(), timer.clone());
        Rc::new(move |bytes: u64| {
            sent.set(bytes);
            last_activity.set(timer.now_ms());
            if let Some(session) = session.upgrade() {
                session.progress.borrow_mut().part_progress(number, bytes);
                session.report_progress();
            }
        })
    };
    let SignedPut { request, generation } = flow.part_request(part_number, body, progress).await?;
    let stall = session.uploader.config().retry.stall_timeout;
    let stall_ms = stall.as_secs_f64() * 1000.0;
    // The same tick flushes held-back progress reports.
    let tick = (stall / 4).clamp(Duration::from_millis(50), Duration::from_millis(PROGRESS_INTERVAL_MS as u64));
    let mut send = session.uploader.http.send(request);
    let mut tick_wait = timer.sleep(tick);
    let outcome = poll_fn(|cx| {
        if let Poll::Ready(outcome) = send.as_mut().poll(cx) {
            return Poll::Ready(outcome);
        }
        // The watchdog, at every tick: held-back progress is flushed, and a PUT with no progress
        // for `stall_timeout` fails (dropping `send` aborts it).
        while tick_wait.as_mut().poll(cx).is_ready() {
            session.flush_progress();
            if timer.now_ms() - last_activity.get() > stall_ms {
                let message =
                    fill("part {}: no upload progress for {} ms", &[number.into(), (stall.as_millis() as u64).into()]);
                return Poll::Ready(Err(Error::Timeout { message }.into()));
            }
            tick_wait = timer.sleep(tick);
        }
        Poll::Pending
    })
    .await;
    Ok((generation, outcome))
}
