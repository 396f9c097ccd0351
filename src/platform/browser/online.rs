//! [`NavigatorConnectivity`]: the [`Connectivity`] port over `navigator.onLine` (pages and
//! workers), which the browser keeps current and announces with `online` / `offline` events.
//! Also [`poll_until`], how both platforms wait for the network to come back.

use std::time::Duration;

use wasm_bindgen::prelude::wasm_bindgen;

use super::JsTimer;
use crate::platform::{Connectivity, LocalBoxFuture, Timer};

/// How often a wait for the network looks again: a check is one property read, and a fifth of
/// a second is nothing next to an outage.
const POLL: Duration = Duration::from_millis(200);

/// Completes once `online()` says so, looked at every [`POLL`]. Polling, not listening, so that
/// a wait dropped mid-way (pause, cancel) leaves no listener behind.
pub(crate) async fn poll_until(online: impl Fn() -> bool) {
    while !online() {
        JsTimer.sleep(POLL).await;
    }
}

/// `navigator.onLine`: `false` only when the browser knows it has no network (a `true` may still
/// be a captive portal; requests then fail and are retried as usual).
#[derive(Debug, Default, Clone, Copy)]
pub struct NavigatorConnectivity;

#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    #[wasm_bindgen(js_name = smhOnline)]
    fn navigator_on_line() -> bool;
}

impl Connectivity for NavigatorConnectivity {
    fn is_online(&self) -> bool {
        navigator_on_line()
    }
    fn until_online(&self) -> LocalBoxFuture<'static, ()> {
        Box::pin(poll_until(navigator_on_line))
    }
}
