//! A small async lock for one thread: callers wait in arrival order and hold it across awaits.
//! For read-modify-write sequences over async stores (the checkpoint index) and for "one renewal
//! at a time"; the parts' connection slots are a different thing (`engine::scheduler`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
struct Inner {
    held: bool,
    next_ticket: u64,
    /// Waiting tickets in arrival order, each with the waker of its last poll.
    queue: VecDeque<(u64, Option<Waker>)>,
}

impl Inner {
    fn wake_head(&self) {
        if let Some((_, Some(waker))) = self.queue.front() {
            waker.wake_by_ref();
        }
    }
}

/// The lock; clones share it.
#[derive(Debug, Default, Clone)]
pub struct Lock(Rc<RefCell<Inner>>);

impl Lock {
    pub fn new() -> Lock {
        Lock::default()
    }

    /// Waits until the lock is free and takes it until the returned guard drops.
    pub fn lock(&self) -> Locking {
        let mut inner = self.0.borrow_mut();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        inner.queue.push_back((ticket, None));
        Locking { lock: self.clone(), ticket, taken: false }
    }
}

/// Future of [`Lock::lock`]; dropping it gives up the place in the queue.
pub struct Locking {
    lock: Lock,
    ticket: u64,
    taken: bool,
}

impl Future for Locking {
    type Output = Guard;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Guard> {
        let ticket = self.ticket;
        let mut inner = self.lock.0.borrow_mut();
        if !inner.held && inner.queue.front().map(|(t, _)| *t) == Some(ticket) {
            inner.queue.pop_front();
            inner.held = true;
            drop(inner);
            self.taken = true;
            return Poll::Ready(Guard(self.lock.clone()));
        }
        if let Some((_, waker)) = inner.queue.iter_mut().find(|(t, _)| *t == ticket) {
            *waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Locking {
    fn drop(&mut self) {
        if !self.taken {
            let mut inner = self.lock.0.borrow_mut();
            inner.queue.retain(|(t, _)| *t != self.ticket);
            if !inner.held {
                inner.wake_head();
            }
        }
    }
}

/// The held lock; released on drop.
#[derive(Debug)]
pub struct Guard(Lock);

impl Drop for Guard {
    fn drop(&mut self) {
        let mut inner = self.0 .0.borrow_mut();
        inner.held = false;
        inner.wake_head();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn one_holder_at_a_time_in_arrival_order() {
        let lock = Lock::new();
        let first = lock.lock().now_or_never().expect("free");
        let mut second = Box::pin(lock.lock());
        let mut third = Box::pin(lock.lock());
        assert!((&mut second).now_or_never().is_none());
        assert!((&mut third).now_or_never().is_none());
        drop(first);
        assert!((&mut third).now_or_never().is_none(), "the third waits behind the second");
        let second = (&mut second).now_or_never().expect("released to the second");
        drop(second);
        assert!((&mut third).now_or_never().is_some());
    }

    #[test]
    fn a_waiter_that_gives_up_leaves_the_queue() {
        let lock = Lock::new();
        let held = lock.lock().now_or_never().unwrap();
        let mut gone = Box::pin(lock.lock());
        assert!((&mut gone).now_or_never().is_none());
        drop(gone);
        drop(held);
        assert!(lock.lock().now_or_never().is_some());
    }
}
