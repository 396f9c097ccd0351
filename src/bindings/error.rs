//! Errors cross into JS as text the JS layer (src/bindings/js/api.js, `fromWasm`) turns into an
//! `Error` with `name = 'SmhUploadError'` and the fields `code`, `status`, `requestId`,
//! `retryable`: one string instead of an object built field by field through the glue.

use wasm_bindgen::JsValue;

use crate::error::Error;
use crate::json::u64_to_string;

/// Separates the fields of an encoded error (the message, last, may hold it too).
const SEP: char = '\u{1}';

/// `code SEP status SEP retryable ('1' or '') SEP requestId ('#id' or '') SEP message`.
pub fn encode(code: &str, status: u16, retryable: bool, request_id: Option<&str>, message: &str) -> String {
    let mut s = String::from(code);
    s.push(SEP);
    s.push_str(&u64_to_string(status.into()));
    s.push(SEP);
    if retryable {
        s.push('1');
    }
    s.push(SEP);
    if let Some(id) = request_id {
        s.push('#');
        s.push_str(id);
    }
    s.push(SEP);
    s.push_str(message);
    s
}

/// The encoded form of `error`.
pub fn encoded(error: &Error) -> String {
    encode(error.code(), error.status(), error.retryable(), error.request_id(), &error.message())
}

/// `error`, encoded, as what an exported function throws (by value, so each `map_err(thrown)`
/// needs no closure and no drop of its own).
pub fn thrown(error: Box<Error>) -> JsValue {
    JsValue::from_str(&encoded(&error))
}
