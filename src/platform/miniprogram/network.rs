//! [`WxConnectivity`]: the [`Connectivity`] port over `wx.onNetworkStatusChange` (its
//! `isConnected`) and, until the first change, `wx.getNetworkType` (`networkType: 'none'` is
//! offline). One listener per logic layer, registered by the first client; where the APIs are
//! missing the network counts as always there.

use std::cell::Cell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::platform::browser::online::poll_until;
use crate::platform::{Connectivity, LocalBoxFuture};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = wx, js_name = onNetworkStatusChange, catch)]
    fn on_network_status_change(listener: &Function) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(js_namespace = wx, js_name = getNetworkType, catch)]
    fn get_network_type(options: &Object) -> std::result::Result<(), JsValue>;
}

thread_local! {
    static ONLINE: Cell<bool> = const { Cell::new(true) };
    /// The listener is registered (once per logic layer).
    static LISTENING: Cell<bool> = const { Cell::new(false) };
    /// A status change arrived: newer than what `getNetworkType` answers.
    static CHANGED: Cell<bool> = const { Cell::new(false) };
}

/// The mini-program's network status.
#[derive(Debug, Clone, Copy)]
pub struct WxConnectivity;

impl WxConnectivity {
    /// Starts following the network status (once per logic layer).
    pub fn follow() -> WxConnectivity {
        if !LISTENING.with(|l| l.replace(true)) {
            let field = |value: &JsValue, name: &str| Reflect::get(value, &JsValue::from_str(name)).ok();
            let listener = Closure::<dyn FnMut(JsValue)>::new(move |status: JsValue| {
                CHANGED.with(|c| c.set(true));
                let connected = field(&status, "isConnected").and_then(|v| v.as_bool()).unwrap_or(true);
                ONLINE.with(|o| o.set(connected));
            });
            if on_network_status_change(listener.as_ref().unchecked_ref()).is_ok() {
                // Lives as long as the logic layer.
                listener.forget();
            }
            let options = Object::new();
            let success = Closure::once_into_js(move |reply: JsValue| {
                let kind = field(&reply, "networkType").and_then(|v| v.as_string());
                if !CHANGED.with(Cell::get) {
                    ONLINE.with(|o| o.set(kind.as_deref() != Some("none")));
                }
            });
            let _ = Reflect::set(&options, &JsValue::from_str("success"), &success);
            let _ = get_network_type(&options);
        }
        WxConnectivity
    }
}

fn online() -> bool {
    ONLINE.with(Cell::get)
}

impl Connectivity for WxConnectivity {
    fn is_online(&self) -> bool {
        online()
    }
    fn until_online(&self) -> LocalBoxFuture<'static, ()> {
        Box::pin(poll_until(online))
    }
}
