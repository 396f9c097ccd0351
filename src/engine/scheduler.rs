//! Connection slots shared by every upload of one client: `concurrency` is global, and waiting
//! uploads are served first-come first-served, so that several files progress fairly.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Debug)]
struct Inner {
    limit: usize,
    in_use: usize,
    next_ticket: u64,
    /// Waiting tickets in arrival order.
    queue: VecDeque<(u64, Option<Waker>)>,
}

/// A counting semaphore with a FIFO queue, for one thread.
#[derive(Debug, Clone)]
pub struct Slots(Rc<RefCell<Inner>>);

impl Slots {
    pub fn new(limit: usize) -> Slots {
        Slots(Rc::new(RefCell::new(Inner { limit: limit.max(1), in_use: 0, next_ticket: 0, queue: VecDeque::new() })))
    }

    /// Waits for a free slot; the slot is held until the returned guard drops.
    pub fn acquire(&self) -> Acquire {
        let ticket = {
            let mut inner = self.0.borrow_mut();
            let t = inner.next_ticket;
            inner.next_ticket += 1;
            inner.queue.push_back((t, None));
            t
        };
        Acquire { slots: self.clone(), ticket, done: false }
    }

    /// Slots in use now.
    pub fn in_use(&self) -> usize {
        self.0.borrow().in_use
    }

    fn wake_head(inner: &mut Inner) {
        if inner.in_use < inner.limit {
            if let Some((_, Some(w))) = inner.queue.front() {
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
        let at_head = inner.queue.front().map(|(t, _)| *t) == Some(ticket);
        if at_head && inner.in_use < inner.limit {
            inner.queue.pop_front();
            inner.in_use += 1;
            Slots::wake_head(&mut inner);
            drop(inner);
            self.done = true;
            return Poll::Ready(SlotGuard { slots: self.slots.clone() });
        }
        if let Some(entry) = inner.queue.iter_mut().find(|(t, _)| *t == ticket) {
            entry.1 = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.slots.0.borrow_mut();
            inner.queue.retain(|(t, _)| *t != self.ticket);
            Slots::wake_head(&mut inner);
        }
    }
}

/// A held slot; released on drop.
#[derive(Debug)]
pub struct SlotGuard {
    slots: Slots,
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
}
