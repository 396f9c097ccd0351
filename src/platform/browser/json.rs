//! A page's JSON reader: the browser's `JSON.parse` (adapters.js), whose output
//! [`crate::json::parse`] turns back into a [`crate::json::Value`], so that the wasm carries no
//! reader of its own.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/platform/browser/adapters.js")]
extern "C" {
    /// `bytes` parsed and flattened as adapters.js describes; `None` when they are not UTF-8
    /// JSON (or nest deeper than [`crate::json::MAX_DEPTH`]).
    #[wasm_bindgen(js_name = smhJsonParse)]
    pub(crate) fn parse_flat(bytes: &[u8]) -> Option<String>;
}
