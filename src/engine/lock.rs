//! A small async lock for one thread: callers wait in arrival order and hold it across awaits.
//! For read-modify-write sequences over async stores (the checkpoint index) and for "one renewal
//! at a time". It is the parts' connection slots ([`super::scheduler::Slots`]) with one
//! slot: their FIFO queue, wakers and give-up-on-drop are exactly a lock's, and one copy of that
//! machinery in the wasm is smaller than two (the package's size is budgeted).

use super::scheduler::{Acquire, SlotGuard, Slots};

/// The lock; clones share it.
#[derive(Debug, Clone)]
pub struct Lock(Slots);

impl Default for Lock {
    fn default() -> Lock {
        Lock::new()
    }
}

impl Lock {
    pub fn new() -> Lock {
        Lock(Slots::new(1))
    }

    /// Waits until the lock is free and takes it until the returned guard drops. Dropping the
    /// future gives up the place in the queue.
    pub fn lock(&self) -> Locking {
        self.0.acquire()
    }
}

/// Future of [`Lock::lock`].
pub type Locking = Acquire;

/// The held lock; released on drop.
pub type Guard = SlotGuard;

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
