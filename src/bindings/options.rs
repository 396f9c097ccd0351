//! Parsing of the options objects, once, into typed Rust values; every mistake is an
//! `InvalidInput` error naming the option.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::error::invalid;
use crate::text::{concat, join};

/// Largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Reads properties of one options object and rejects names it does not know.
pub struct Reader<'a> {
    object: &'a JsValue,
    prefix: &'static str,
}

impl<'a> Reader<'a> {
    /// `object` must be a plain object (or `undefined` when `optional`).
    pub fn new(
        object: &'a JsValue,
        prefix: &'static str,
        known: &[&str],
        optional: bool,
    ) -> Result<Reader<'a>, JsValue> {
        if object.is_undefined() || object.is_null() {
            if optional {
                return Ok(Reader { object, prefix });
            }
            return Err(invalid(prefix, "an options object is required"));
        }
        if !object.is_object() || object.is_function() {
            return Err(invalid(prefix, "must be an object"));
        }
        for key in Object::keys(object.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                return Err(invalid(&key, concat(&["unknown option; known options are: ", &join(known, ", ")])));
            }
        }
        Ok(Reader { object, prefix })
    }

    fn raw(&self, name: &str) -> JsValue {
        if self.object.is_undefined() || self.object.is_null() {
            return JsValue::UNDEFINED;
        }
        Reflect::get(self.object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    fn absent(value: &JsValue) -> bool {
        value.is_undefined() || value.is_null()
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, JsValue> {
        let v = self.raw(name);
        if Self::absent(&v) {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| invalid(name, "must be a string"))
    }

    pub fn required_string(&self, name: &str) -> Result<String, JsValue> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(invalid(name, concat(&["is required in the ", self.prefix, " options"]))),
        }
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, JsValue> {
        let v = self.raw(name);
        if Self::absent(&v) {
            return Ok(None);
        }
        v.as_bool().map(Some).ok_or_else(|| invalid(name, "must be true or false"))
    }

    /// A non-negative integer (a safe one: larger values are refused, not rounded).
    pub fn integer(&self, name: &str) -> Result<Option<u64>, JsValue> {
        let v = self.raw(name);
        if Self::absent(&v) {
            return Ok(None);
        }
        match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER => Ok(Some(n as u64)),
            _ => Err(invalid(name, "must be a non-negative integer")),
        }
    }

    pub fn function(&self, name: &str) -> Result<Option<Function>, JsValue> {
        let v = self.raw(name);
        if Self::absent(&v) {
            return Ok(None);
        }
        v.dyn_into::<Function>().map(Some).map_err(|_| invalid(name, "must be a function"))
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, JsValue> {
        let v = self.raw(name);
        if Self::absent(&v) {
            return Ok(None);
        }
        if !Array::is_array(&v) {
            return Err(invalid(name, "must be an array of strings"));
        }
        Array::from(&v)
            .iter()
            .map(|item| item.as_string().ok_or_else(|| invalid(name, "must be an array of strings")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The raw value (for objects such as `signal` or a custom checkpoint store).
    pub fn value(&self, name: &str) -> Option<JsValue> {
        let v = self.raw(name);
        (!Self::absent(&v)).then_some(v)
    }
}
