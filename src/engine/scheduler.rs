//! Connection slots shared by every upload of one client: `concurrency` is global, and waiting
//! uploads are served first-come first-served, so that several files progress fairly.
//!
//! The number of parts in flight adapts within `[1, concurrency]` like TCP's congestion window
//! (additive increase, multiplicative decrease): a part that fails in a way that says the link or
//! the server is overloaded (a timeout, a stall, a reset, 429/5xx, COS `SlowDown`) halves the
//! window, at most once per round — failures of parts that were already in flight when the window
//! was cut do not cut it again — and every `window` parts delivered grow it by one. A client on a
//! good link stays at `concurrency`; one on a link that drops parts when six go at once settles
//! where its parts get through instead of failing and retrying all six each time.
//!
//! A failed part keeps its slot through its backoff, then is re-admitted ahead of parts that have
//! not started ([`Slots::readmit`]), so the part bodies alive (sending or waiting to be sent
//! again) never exceed `concurrency`.

use std::cell::RefCell;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::future::Either;

#[derive(Debug)]
struct Inner {
    limit: usize,
    /// Slots that may be in use now, `1..=limit`.
    window: usize,
    in_use: usize,
    /// Parts delivered since the window last changed.
    delivered: usize,
    /// Bumped at every cut of the window; a slot remembers the round it was taken in.
    round: u64,
    next_ticket: u64,
    /// Waiting tickets in admission order: re-admitted parts first, then new ones by arrival.
    queue: Vec<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    ticket: u64,
    waker: Option<Waker>,
    /// A part sent again, queued ahead of the parts not started.
    readmitted: bool,
}

/// Where a waiter joins the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    /// Behind everyone: a part not started.
    Last,
    /// Behind the other re-admitted parts only: a part sent again.
    AheadOfNew,
}

/// A counting semaphore with a FIFO queue and an adaptive limit, for one thread.
#[derive(Debug, Clone)]
pub struct Slots(Rc<RefCell<Inner>>);

impl Slots {
    pub fn new(limit: usize) -> Slots {
        let limit = limit.max(1);
        Slots(Rc::new(RefCell::new(Inner {
            limit,
            window: limit,
            in_use: 0,
            delivered: 0,
            round: 0,
            next_ticket: 0,
            queue: Vec::new(),
        })))
    }

    /// Waits for a free slot; the slot is held until the returned guard drops.
    pub fn acquire(&self) -> Acquire {
        self.enqueue(Queue::Last)
    }

    fn enqueue(&self, place: Queue) -> Acquire {
        let readmitted = place == Queue::AheadOfNew;
        let ticket = {
            let mut inner = self.0.borrow_mut();
            let t = inner.next_ticket;
            inner.next_ticket += 1;
            let at =
                if readmitted { inner.queue.iter().take_while(|w| w.readmitted).count() } else { inner.queue.len() };
            inner.queue.insert(at, Waiting { ticket: t, waker: None, readmitted });
            t
        };
        Acquire { slots: self.clone(), ticket, done: false }
    }

    /// Slots in use now.
    pub fn in_use(&self) -> usize {
        self.0.borrow().in_use
    }

    /// Parts allowed in flight now.
    pub fn window(&self) -> usize {
        self.0.borrow().window
    }

    /// The part holding `slot` failed for a reason that says "too much at once": halve the
    /// window, unless it was already cut after this slot was taken.
    pub fn congested(&self, slot: &SlotGuard) {
        let mut inner = self.0.borrow_mut();
        if slot.round == inner.round {
            inner.window = (inner.window / 2).max(1);
            inner.round += 1;
            inner.delivered = 0;
        }
    }

    /// A part was delivered: every `window` deliveries grow the window by one.
    pub fn delivered(&self) {
        let mut inner = self.0.borrow_mut();
        inner.delivered += 1;
        if inner.delivered >= inner.window && inner.window < inner.limit {
            inner.window += 1;
            inner.delivered = 0;
            Slots::wake_head(&mut inner);
        }
    }

    /// Before a failed part is sent again: keeps `slot` if the window still has room for it,
    /// else gives it up and waits for a slot ahead of the parts that have not started.
    /// A plain function: no state machine of its own in the caller's.
    pub fn readmit(&self, mut slot: SlotGuard) -> Either<Ready<SlotGuard>, Acquire> {
        if self.0.borrow().in_use <= self.0.borrow().window {
            slot.round = self.0.borrow().round;
            return Either::Left(ready(slot));
        }
        // Queue first, then release: the freed slot goes to the head of the queue, never to a
        // part that has not started while this one waits.
        let again = self.enqueue(Queue::AheadOfNew);
        drop(slot);
        Either::Right(again)
    }

    fn wake_head(inner: &mut Inner) {
        if inner.in_use < inner.window {
            if let Some(Waiting { waker: Some(w), .. }) = inner.queue.first() {
                w.wake_by_ref();
            }
        }
    }
}

/// Future of [`Slots::acquire`]. Dropping it gives up the place in the queue.
pub struct Acquire {
    slots: Slots,
    ticket: u64,
    done: bool,
}

impl Future for Acquire {
    type Output = SlotGuard;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SlotGuard> {
        let ticket = self.ticket;
        let mut inner = self.slots.0.borrow_mut();
        let at_head = inner.queue.first().map(|w| w.ticket) == Some(ticket);
        if at_head && inner.in_use < inner.window {
            inner.queue.remove(0);
            inner.in_use += 1;
            let round = inner.round;
            Slots::wake_head(&mut inner);
            drop(inner);
            self.done = true;
            return Poll::Ready(SlotGuard { slots: self.slots.clone(), round });
        }
        if let Some(entry) = inner.queue.iter_mut().find(|w| w.ticket == ticket) {
            entry.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.slots.0.borrow_mut();
            if let Some(at) = inner.queue.iter().position(|w| w.ticket == self.ticket) {
                inner.queue.remove(at);
            }
            Slots::wake_head(&mut inner);
        }
    }
}

/// A held slot; released on drop.
#[derive(Debug)]
pub struct SlotGuard {
    slots: Slots,
    /// The window's round when this slot was taken (or its part re-admitted).
    round: u64,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut inner = self.slots.0.borrow_mut();
        inner.in_use -= 1;
        Slots::wake_head(&mut inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn fifo_and_release() {
        let s = Slots::new(2);
        let a = s.acquire().now_or_never().unwrap();
        let _b = s.acquire().now_or_never().unwrap();
        let mut c = Box::pin(s.acquire());
        let mut d = Box::pin(s.acquire());
        assert!((&mut c).now_or_never().is_none());
        assert!((&mut d).now_or_never().is_none());
        drop(a);
        assert!((&mut d).now_or_never().is_none(), "d must wait behind c");
        let _c = (&mut c).now_or_never().unwrap();
        assert_eq!(s.in_use(), 2);
    }

    #[test]
    fn dropped_waiter_leaves_queue() {
        let s = Slots::new(1);
        let a = s.acquire().now_or_never().unwrap();
        let mut b = Box::pin(s.acquire());
        assert!((&mut b).now_or_never().is_none());
        drop(b);
        drop(a);
        assert!(s.acquire().now_or_never().is_some());
    }

    #[test]
    fn an_overload_halves_the_window_once_per_round() {
        let s = Slots::new(6);
        let held: Vec<SlotGuard> = (0..6).map(|_| s.acquire().now_or_never().unwrap()).collect();
        s.congested(&held[0]);
        assert_eq!(s.window(), 3);
        // The other parts were in flight before the cut: their failures are the same event.
        s.congested(&held[1]);
        s.congested(&held[5]);
        assert_eq!(s.window(), 3);
        let mut next = Box::pin(s.acquire());
        let mut held = held;
        held.truncate(3);
        assert!((&mut next).now_or_never().is_none(), "3 in use, window 3: no new part");
        held.truncate(2);
        let after_cut = (&mut next).now_or_never().expect("2 in use, window 3");
        // A part taken after the cut that fails again cuts again, down to 1 and no lower.
        s.congested(&after_cut);
        assert_eq!(s.window(), 1);
        let again = s.acquire().now_or_never();
        assert!(again.is_none());
        held.clear();
        drop(after_cut);
        let last = s.acquire().now_or_never().expect("nothing in use");
        s.congested(&last);
        assert_eq!(s.window(), 1);
    }

    #[test]
    fn deliveries_grow_the_window_back_one_per_round() {
        let s = Slots::new(4);
        let a = s.acquire().now_or_never().unwrap();
        s.congested(&a);
        assert_eq!(s.window(), 2);
        s.delivered();
        assert_eq!(s.window(), 2);
        s.delivered();
        assert_eq!(s.window(), 3);
        for _ in 0..3 {
            s.delivered();
        }
        assert_eq!(s.window(), 4);
        for _ in 0..10 {
            s.delivered();
        }
        assert_eq!(s.window(), 4, "never above the concurrency");
    }

    #[test]
    fn a_part_sent_again_goes_before_parts_not_started() {
        let s = Slots::new(2);
        let a = s.acquire().now_or_never().unwrap();
        let b = s.acquire().now_or_never().unwrap();
        s.congested(&a);
        let mut fresh = Box::pin(s.acquire());
        assert!((&mut fresh).now_or_never().is_none());
        // Two in use, window 1: the failed part gives its slot up and queues ahead of `fresh`.
        let mut retry = Box::pin(s.readmit(a));
        assert!((&mut retry).now_or_never().is_none());
        assert_eq!(s.in_use(), 1);
        drop(b);
        let a = (&mut retry).now_or_never().expect("the retry is first");
        assert!((&mut fresh).now_or_never().is_none(), "window 1 is taken by the retry");
        drop(a);
        assert!((&mut fresh).now_or_never().is_some());
    }

    #[test]
    fn a_failed_part_keeps_its_slot_while_the_window_has_room() {
        let s = Slots::new(4);
        let a = s.acquire().now_or_never().unwrap();
        s.congested(&a);
        assert_eq!(s.window(), 2);
        let a = s.readmit(a).now_or_never().expect("1 in use, window 2");
        // Re-admitted after the cut: a new failure is new news.
        s.congested(&a);
        assert_eq!(s.window(), 1);
    }
}
