//! Time limits over the [`Timer`] port.

use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};

use crate::error::{Error, Result};
use crate::platform::Timer;
use crate::text::fill;

/// Runs `fut`, failing with [`Error::Timeout`] after `limit` (the future is dropped = aborted).
pub async fn with_timeout<T>(
    timer: &dyn Timer,
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let fut = std::pin::pin!(fut);
    match select(fut, timer.sleep(limit)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            let ms = limit.as_millis() as u64;
            Err(Error::Timeout { message: fill("{}: no response within {} ms", &[what.into(), ms.into()]) })
        }
    }
}
