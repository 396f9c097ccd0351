//! The request pool: `wx.request`, `wx.uploadFile` and `wx.downloadFile` share a limit of 10 in
//! flight per mini-program (WeChat's network docs). Every request this package makes — SMH
//! calls and part PUTs of every client and upload alike — holds a [`Permit`] while it runs, so
//! the package never has more than [`MAX_REQUESTS_IN_FLIGHT`] open. Past the limit WeChat queues
//! requests with their timeout already running, which would turn a wait into a spurious
//! timeout; here a request waits for a permit before `wx.request` is called.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Requests this package keeps in flight at most: WeChat's limit for the whole mini-program.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 10;

#[derive(Default)]
struct PoolState {
    in_use: usize,
    waiting: VecDeque<Waker>,
}

thread_local! {
    /// One pool for the wasm instance: the limit is the mini-program's, not a client's.
    static POOL: RefCell<PoolState> = RefCell::default();
}

/// A place in the pool, given back when dropped.
#[must_use = "the place is given back when the permit is dropped"]
pub struct Permit(());

impl Drop for Permit {
    fn drop(&mut self) {
        let waiting: Vec<Waker> = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            pool.in_use -= 1;
            // Wake every waiter: one that was dropped meanwhile cannot swallow the wake-up.
            pool.waiting.drain(..).collect()
        });
        for waker in waiting {
            waker.wake();
        }
    }
}

/// Waits for a place in the pool.
pub fn acquire() -> impl Future<Output = Permit> {
    Acquire
}

struct Acquire;

impl Future for Acquire {
    type Output = Permit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.in_use < MAX_REQUESTS_IN_FLIGHT {
                pool.in_use += 1;
                Poll::Ready(Permit(()))
            } else {
                pool.waiting.push_back(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Requests in flight right now (for tests).
#[cfg(test)]
fn in_use() -> usize {
    POOL.with(|pool| pool.borrow().in_use)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn never_more_than_the_limit() {
        let mut permits: Vec<Permit> =
            (0..MAX_REQUESTS_IN_FLIGHT).map(|_| acquire().now_or_never().expect("a free place")).collect();
        assert_eq!(in_use(), MAX_REQUESTS_IN_FLIGHT);
        let mut waiting = Box::pin(acquire());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(waiting.as_mut().poll(&mut cx).is_pending(), "the 11th waits");
        drop(permits.pop());
        let eleventh = match waiting.as_mut().poll(&mut cx) {
            Poll::Ready(permit) => permit,
            Poll::Pending => panic!("a freed place goes to the waiter"),
        };
        assert_eq!(in_use(), MAX_REQUESTS_IN_FLIGHT);
        drop(eleventh);
        drop(permits);
        assert_eq!(in_use(), 0);
    }
}
