//! Pause / resume / cancel signals from a task handle to its running upload.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
struct Inner {
    paused: bool,
    cancelled: bool,
    /// Bumped on every change, so a waiter can tell a change happened.
    generation: u64,
    wakers: Vec<Waker>,
}

/// Shared between a task handle (which sets it) and the upload (which obeys it).
#[derive(Debug, Default, Clone)]
pub struct Control(Rc<RefCell<Inner>>);

impl Control {
    pub fn new() -> Control {
        Control::default()
    }

    /// Registers `waker` unless an equivalent one is already waiting (a future polled many times
    /// must not grow the list).
    fn register(inner: &mut Inner, waker: &Waker) {
        if !inner.wakers.iter().any(|w| w.will_wake(waker)) {
            inner.wakers.push(waker.clone());
        }
    }

    /// Wakers waiting now (for tests).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.0.borrow().wakers.len()
    }

    /// Applies `f`; if it changed a signal, wakes the waiters. (A fn pointer, not a generic: one
    /// copy of this for the three signals.)
    fn change(&self, f: fn(&mut Inner) -> bool) {
        let wakers = {
            let mut inner = self.0.borrow_mut();
            if !f(&mut inner) {
                return;
            }
            inner.generation += 1;
            std::mem::take(&mut inner.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Asks the upload to stop sending (in-flight requests are aborted) until [`Control::resume`].
    pub fn pause(&self) {
        self.change(|i| !i.cancelled && !std::mem::replace(&mut i.paused, true));
    }

    pub fn resume(&self) {
        self.change(|i| std::mem::replace(&mut i.paused, false));
    }

    /// Asks the upload to stop for good.
    pub fn cancel(&self) {
        self.change(|i| !std::mem::replace(&mut i.cancelled, true));
    }

    pub fn is_paused(&self) -> bool {
        self.0.borrow().paused
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.borrow().cancelled
    }

    /// Resolves when the upload must stop what it is doing: paused or cancelled.
    pub fn interrupted(&self) -> Interrupted {
        Interrupted { control: self.clone() }
    }

    /// Resolves on the next change of the signals.
    pub fn changed(&self) -> Changed {
        Changed { control: self.clone(), seen: self.0.borrow().generation }
    }
}

/// See [`Control::interrupted`].
pub struct Interrupted {
    control: Control,
}

impl Future for Interrupted {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.control.0.borrow_mut();
        if inner.paused || inner.cancelled {
            Poll::Ready(())
        } else {
            Control::register(&mut inner, cx.waker());
            Poll::Pending
        }
    }
}

/// See [`Control::changed`].
pub struct Changed {
    control: Control,
    seen: u64,
}

impl Future for Changed {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.control.0.borrow_mut();
        if inner.generation != self.seen {
            Poll::Ready(())
        } else {
            Control::register(&mut inner, cx.waker());
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn signals() {
        let c = Control::new();
        assert!(c.interrupted().now_or_never().is_none());
        let changed = c.changed();
        c.pause();
        assert!(c.interrupted().now_or_never().is_some());
        assert!(changed.now_or_never().is_some());
        c.resume();
        assert!(!c.is_paused());
        c.cancel();
        c.pause(); // no effect after cancel
        assert!(c.is_cancelled() && !c.is_paused());
    }

    #[test]
    fn repeated_polls_register_one_waker() {
        let c = Control::new();
        let mut interrupted = c.interrupted();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..100 {
            assert!(Pin::new(&mut interrupted).poll(&mut cx).is_pending());
        }
        assert_eq!(c.waiting(), 1, "one waker, however often the upload loop polls");
        c.pause();
        assert_eq!(c.waiting(), 0);
    }
}
