//! One call at a time, its outcome shared: whoever asks while a call runs waits for that call
//! instead of starting another (token refreshes, COS credential fetches). Much smaller in the
//! wasm than `futures::future::Shared`, whose generality (threads, any future) the package does
//! not need.
//!
//! The call is polled by its waiters, whichever is polled; it keeps the waker of the last poll
//! only, so a waiter that is dropped (its upload cancelled) wakes the others, and one of them
//! polls the call next. A call whose waiters are all gone stays in flight: the next caller joins
//! it.

use std::cell::RefCell;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::platform::LocalBoxFuture;

/// One call.
enum Call<T> {
    /// Running: the future (out while a waiter polls it) and the wakers of the waiters.
    Running(Option<LocalBoxFuture<'static, T>>, Vec<Waker>),
    /// Finished: what every waiter gets a clone of.
    Done(T),
}

type CallRef<T> = Rc<RefCell<Call<T>>>;

/// The call in flight, if any. Clones share it.
pub struct SingleFlight<T>(Rc<RefCell<Option<CallRef<T>>>>);

impl<T> Clone for SingleFlight<T> {
    fn clone(&self) -> Self {
        SingleFlight(self.0.clone())
    }
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight(Rc::default())
    }
}

impl<T: Clone> SingleFlight<T> {
    /// Waits for the call in flight, or for a new one `start` makes when there is none.
    pub fn join(&self, start: impl FnOnce() -> LocalBoxFuture<'static, T>) -> Joined<T> {
        let call = self
            .0
            .borrow_mut()
            .get_or_insert_with(|| Rc::new(RefCell::new(Call::Running(Some(start()), Vec::new()))))
            .clone();
        Joined { flight: self.clone(), call }
    }
}

/// Future of [`SingleFlight::join`]: the call's outcome.
pub struct Joined<T> {
    flight: SingleFlight<T>,
    call: CallRef<T>,
}

impl<T: Clone> Future for Joined<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let future = match &mut *self.call.borrow_mut() {
            Call::Done(out) => return Poll::Ready(out.clone()),
            Call::Running(future, wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                future.take()
            }
        };
        // None: another waiter is polling it (from inside the call's own poll).
        let Some(mut future) = future else { return Poll::Pending };
        let Poll::Ready(out) = future.as_mut().poll(cx) else {
            if let Call::Running(slot, _) = &mut *self.call.borrow_mut() {
                *slot = Some(future);
            }
            return Poll::Pending;
        };
        {
            let mut current = self.flight.0.borrow_mut();
            if current.as_ref().is_some_and(|c| Rc::ptr_eq(c, &self.call)) {
                *current = None;
            }
        }
        if let Call::Running(_, wakers) = mem::replace(&mut *self.call.borrow_mut(), Call::Done(out.clone())) {
            wakers.into_iter().for_each(Waker::wake);
        }
        Poll::Ready(out)
    }
}

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        // The call may hold this waiter's waker only: the others poll it again.
        let wakers = match &mut *self.call.borrow_mut() {
            Call::Running(_, wakers) => mem::take(wakers),
            Call::Done(_) => return,
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    use futures::executor::LocalPool;
    use futures::future::{abortable, poll_fn};
    use futures::task::LocalSpawnExt;

    /// A call that finishes when `open` is set, and remembers the waker of its last poll only
    /// (as a JS promise's future does).
    #[derive(Clone, Default)]
    struct Gate {
        open: Rc<Cell<Option<u32>>>,
        waker: Rc<RefCell<Option<Waker>>>,
        starts: Rc<Cell<u32>>,
    }

    impl Gate {
        fn call(&self) -> LocalBoxFuture<'static, u32> {
            self.starts.set(self.starts.get() + 1);
            let gate = self.clone();
            Box::pin(poll_fn(move |cx| match gate.open.get() {
                Some(n) => Poll::Ready(n),
                None => {
                    *gate.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            }))
        }

        fn finish(&self, n: u32) {
            self.open.set(Some(n));
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }

    /// Two tasks wait for one call; one of them (`gone`: the one that started it, or the other)
    /// is cancelled midway. The other still gets the outcome, and the call ran once.
    #[test]
    fn a_cancelled_waiter_leaves_the_others_waiting_for_the_same_call() {
        for gone in 0..2 {
            let (gate, flight) = (Gate::default(), SingleFlight::default());
            let mut pool = LocalPool::new();
            let outcomes: Rc<RefCell<Vec<u32>>> = Rc::default();
            let mut aborts = Vec::new();
            for _ in 0..2 {
                let (waiter, abort) = abortable(flight.join(|| gate.call()));
                let outcomes = outcomes.clone();
                pool.spawner()
                    .spawn_local(async move {
                        if let Ok(n) = waiter.await {
                            outcomes.borrow_mut().push(n);
                        }
                    })
                    .unwrap();
                aborts.push(abort);
                // Both polled, in this order: the call keeps the second one's waker.
                pool.run_until_stalled();
            }
            aborts[gone].abort();
            pool.run_until_stalled();
            gate.finish(7);
            pool.run_until_stalled();
            assert_eq!(*outcomes.borrow(), [7], "the waiter left ({gone}) did not strand the other");
            assert_eq!(gate.starts.get(), 1);
            // Finished: the next caller starts a new call.
            gate.open.set(Some(8));
            assert_eq!(futures::executor::block_on(flight.join(|| gate.call())), 8);
            assert_eq!(gate.starts.get(), 2);
        }
    }

    /// A call whose waiters are all gone stays in flight; the next caller waits for it.
    #[test]
    fn a_call_left_by_all_is_joined_by_the_next_caller() {
        let (gate, flight) = (Gate::default(), SingleFlight::default());
        let mut first = Box::pin(flight.join(|| gate.call()));
        let waker = futures::task::noop_waker();
        assert!(first.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        drop(first);
        gate.finish(3);
        assert_eq!(futures::executor::block_on(flight.join(|| gate.call())), 3);
        assert_eq!(gate.starts.get(), 1);
    }
}
