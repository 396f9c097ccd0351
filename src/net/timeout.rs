//! Time limits over the [`Timer`] port.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures::future::Either;

use crate::error::{Error, Result};
use crate::platform::Timer;
use crate::text::fill;

/// Runs `fut` (a boxed future, like [`crate::platform::Http::send`]'s), failing with
/// [`Error::Timeout`] after `limit` (the future is dropped = aborted). The limit starts now
/// (callers await at once). A plain function around one poll_fn, not an async fn racing two.
pub fn with_timeout<'a, T: 'a>(
    timer: &dyn Timer,
    limit: Duration,
    what: &'a str,
    mut fut: impl Future<Output = Result<T>> + Unpin + 'a,
) -> impl Future<Output = Result<T>> + 'a {
    let mut sleep = timer.sleep(limit);
    poll_fn(move |cx| {
        if let Poll::Ready(done) = Pin::new(&mut fut).poll(cx) {
            return Poll::Ready(done);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let ms = limit.as_millis() as u64;
        Poll::Ready(Err(
            Error::Timeout { message: fill("{}: no response within {} ms", &[what.into(), ms.into()]) }.into()
        ))
    })
}

/// Polls `left` then `right` until one is done, and gives its output; the other is left as it
/// is, for the caller to drop or to await on. One small race over unsized futures instead of a
/// `select` copy per pair of future types.
pub fn race<'a, L, R>(
    mut left: Pin<&'a mut dyn Future<Output = L>>,
    mut right: Pin<&'a mut dyn Future<Output = R>>,
) -> impl Future<Output = Either<L, R>> + 'a {
    poll_fn(move |cx| {
        if let Poll::Ready(done) = left.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(done));
        }
        right.as_mut().poll(cx).map(Either::Right)
    })
}
