//! SMH request and response bodies (docs/smh-api.md §5), read from and written as [`json::Value`].
//!
//! Every reader here turns a reply that does not follow the protocol into
//! [`Error::InvalidResponse`] naming the field — never a panic, and never the field's value
//! (replies may echo tokens and signatures).

use std::rc::Rc;

use crate::date::parse_iso8601_ms;
use crate::vecmap::VecMap as BTreeMap;

use crate::error::{Error, Result};
use crate::json::{self, Value};
use crate::text::{fill, last_segment};

/// Largest byte count a reply may announce: JS numbers are exact up to 2^53 - 1, and no file
/// is larger. A bigger (or negative, or fractional) size is refused.
pub const MAX_SIZE: u64 = (1 << 53) - 1;

/// What to do when the target name exists (`conflict_resolution_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conflict {
    /// Keep both: SMH renames the new file (`name (1).ext`). SMH's default for uploads.
    #[default]
    Rename,
    /// Replace the existing file.
    Overwrite,
    /// Fail with `SameNameDirectoryOrFileExists` (409).
    Ask,
}

impl Conflict {
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::Rename => "rename",
            Conflict::Overwrite => "overwrite",
            Conflict::Ask => "ask",
        }
    }
}

/// Upload parameters from begin (201) or renew (200): where and how to PUT the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadAuth {
    /// COS bucket domain (`host[:port]`, no scheme).
    pub domain: String,
    /// URL path of the object, with a leading `/`.
    pub path: String,
    /// Multipart uploads only.
    pub upload_id: Option<String>,
    /// Headers to send verbatim (Authorization, x-cos-security-token, Content-Type, …).
    pub headers: BTreeMap<String, String>,
    pub confirm_key: String,
    /// ISO-8601 expiry of `headers`' authorisation.
    pub expiration: String,
}

/// Upload parameters are renewed this long before they expire, at most (docs/smh-api.md §9.1:
/// 5 minutes)…
const RENEW_MARGIN_MAX_MS: f64 = 5.0 * 60.0 * 1000.0;
/// …and at most this fraction of the life they had left on arrival, for short-lived ones.
const RENEW_MARGIN_FRACTION: f64 = 0.25;
/// Parameters our clock says live less than this on arrival are not renewed on a timer: SMH
/// issues none that short, so our clock is off by an unknown amount (see
/// [`UploadAuth::renew_after_ms`]).
const MIN_TIMED_LIFE_MS: f64 = 2_000.0;
/// The life assumed when `expiration` cannot be read.
const UNKNOWN_LIFE_MS: f64 = 3.0 * RENEW_MARGIN_MAX_MS;

/// `InvalidResponse` for HTTP `status` saying `what` is wrong (boxed, as every `Result` holds it).
pub(crate) fn invalid(status: u16, what: &str) -> Box<Error> {
    Error::InvalidResponse { status, message: what.to_string() }.into()
}

/// [`invalid`] for the member `name`, its message `template` with `{}` for the name.
fn invalid_member(status: u16, template: &str, name: &str) -> Box<Error> {
    invalid(status, &fill(template, &[name.into()]))
}

/// A required string member.
fn required_str<'a>(reply: &'a Value, name: &str, status: u16) -> Result<&'a str> {
    match reply.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(invalid_member(status, "reply has no string `{}`", name)),
    }
}

/// An optional string member (`null` is absent).
fn optional_str<'a>(reply: &'a Value, name: &str, status: u16) -> Result<Option<&'a str>> {
    match reply.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid_member(status, "reply's `{}` is not a string", name)),
    }
}

/// A byte count given as a number or a decimal string, at most [`MAX_SIZE`]; `None` when
/// absent or `null`.
pub fn size_field(value: Option<&Value>, name: &str, status: u16) -> Result<Option<u64>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.to_u64() {
            Some(n) if n <= MAX_SIZE => Ok(Some(n)),
            _ => Err(invalid_member(status, "reply's `{}` is not a byte count (0 to 2^53-1)", name)),
        },
    }
}

/// Whether `value` may be sent as an HTTP header value: tab, space, visible ASCII and Latin-1
/// (what XHR's `setRequestHeader` takes); no CR, LF or other control characters (a browser
/// refuses those, and they could split a request).
fn is_header_value(value: &str) -> bool {
    value.chars().all(|c| matches!(c, '\t' | ' '..='~' | '\u{a0}'..='\u{ff}'))
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl UploadAuth {
    /// Milliseconds after their arrival (at local time `unix_ms`) at which these parameters are
    /// renewed: before `expiration` by a quarter of the life they had left, at most 5 minutes.
    /// `expiration` is SMH's clock. Parameters that look expired, or all but, on arrival say
    /// that our clock is ahead of SMH's by more than their lifetime (SMH issues none that way):
    /// how long they really live is unknown, so they are not renewed on a timer — renewing
    /// would bring the same answer, every time the floor allowed — and COS's "Request has
    /// expired" renews them when it is due.
    pub fn renew_after_ms(&self, unix_ms: f64) -> f64 {
        let life = parse_iso8601_ms(&self.expiration).map_or(UNKNOWN_LIFE_MS, |exp| exp - unix_ms);
        if life < MIN_TIMED_LIFE_MS {
            return f64::INFINITY;
        }
        life - (life * RENEW_MARGIN_FRACTION).min(RENEW_MARGIN_MAX_MS)
    }

    /// Reads begin's 201 or renew's 200 reply (in the `Rc` the flow keeps it in).
    // Everything is checked before anything is copied: a refusal then has nothing to drop.
    pub fn from_json(reply: &Value, status: u16) -> Result<Rc<UploadAuth>> {
        let headers: &[(String, Value)] = match reply.get("headers") {
            None | Some(Value::Null) => &[],
            Some(Value::Object(members)) => members,
            Some(_) => return Err(invalid(status, "reply's `headers` is not an object")),
        };
        for (name, value) in headers {
            if !matches!(value, Value::String(v) if is_header_name(name) && is_header_value(v)) {
                // The value is left out of the message: it may hold a signature.
                return Err(invalid(status, "reply's `headers` holds an invalid HTTP header"));
            }
        }
        let domain = required_str(reply, "domain", status)?;
        let path = required_str(reply, "path", status)?;
        let upload_id = optional_str(reply, "uploadId", status)?;
        let confirm_key = required_str(reply, "confirmKey", status)?;
        let expiration = required_str(reply, "expiration", status)?;
        let mut map = BTreeMap::new();
        for (name, value) in headers {
            map.insert(name.clone(), value.as_str().unwrap_or_default().to_string());
        }
        Ok(Rc::new(UploadAuth {
            domain: domain.to_string(),
            path: path.to_string(),
            upload_id: upload_id.map(str::to_string),
            headers: map,
            confirm_key: confirm_key.to_string(),
            expiration: expiration.to_string(),
        }))
    }
}

/// Body of begin-upload: `{"size": "…", "beginningHash"?: "…", "fullHash"?: "…"}`.
pub fn begin_body(size: u64, beginning_hash: Option<&str>, full_hash: Option<&str>) -> String {
    let mut w = json::Writer::new();
    w.open('{').str_member("size", &json::u64_to_string(size));
    for (name, hash) in [("beginningHash", beginning_hash), ("fullHash", full_hash)] {
        if let Some(hash) = hash {
            w.str_member(name, hash);
        }
    }
    w.close('}').finish()
}

/// The committed file, from confirm (or a quick-upload hit).
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// Final path (may differ from the requested one after `rename`).
    pub path: String,
    pub name: String,
    pub size: Option<u64>,
    /// Decimal CRC-64 (the reply may give a string or a number).
    pub crc64: Option<String>,
    pub etag: Option<String>,
    pub is_overwritten: bool,
    /// The whole reply, for fields this type does not name.
    pub raw: Value,
}

impl FileInfo {
    /// Reads a file reply (in the `Box` the flow keeps it in).
    pub fn from_json(raw: Value, status: u16) -> Result<Box<FileInfo>> {
        let path = match raw.get("path") {
            Some(Value::Array(segments)) => {
                let mut path = String::new();
                for (i, segment) in segments.iter().enumerate() {
                    let Some(text) = segment.as_str() else {
                        return Err(invalid(status, "reply's `path` holds a segment that is not a string"));
                    };
                    if i > 0 {
                        path.push('/');
                    }
                    path.push_str(text);
                }
                path
            }
            Some(Value::String(s)) => crate::text::trim_start(s, b'/').to_string(),
            _ => return Err(invalid(status, "file reply has no `path`")),
        };
        let name = optional_str(&raw, "name", status)?;
        let crc64 = match raw.get("crc64") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.to_u64().ok_or_else(|| invalid(status, "reply's `crc64` is not a CRC-64"))?),
        };
        let is_overwritten = match raw.get("isOverwritten") {
            None | Some(Value::Null) => false,
            Some(v) => v.as_bool().ok_or_else(|| invalid(status, "reply's `isOverwritten` is not a boolean"))?,
        };
        let size = size_field(raw.get("size"), "size", status)?;
        let etag = optional_str(&raw, "eTag", status)?.map(str::to_string);
        let name = name.unwrap_or_else(|| last_segment(&path)).to_string();
        Ok(Box::new(FileInfo { path, name, size, crc64: crc64.map(json::u64_to_string), etag, is_overwritten, raw }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        json::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn renewal_timing() {
        let auth = |expiration: &str| UploadAuth {
            domain: "d".into(),
            path: "/o".into(),
            upload_id: Some("u".into()),
            headers: BTreeMap::new(),
            confirm_key: "ck".into(),
            expiration: expiration.into(),
        };
        let issued = parse_iso8601_ms("2030-01-01T00:00:00Z").unwrap();
        let thirty_minutes = auth("2030-01-01T00:30:00Z");
        // 5 minutes before the end; a quarter of a short life before it.
        assert_eq!(thirty_minutes.renew_after_ms(issued), 25.0 * 60_000.0);
        assert_eq!(auth("2030-01-01T00:00:08Z").renew_after_ms(issued), 6_000.0);
        // A device clock 20 minutes ahead: renewed early, 7.5 minutes on.
        assert_eq!(thirty_minutes.renew_after_ms(issued + 20.0 * 60_000.0), 7.5 * 60_000.0);
        // A device clock an hour ahead (more than the 30-minute life): not on a timer — before,
        // 1.5 s, and again 1.5 s after each renewal.
        assert_eq!(thirty_minutes.renew_after_ms(issued + 3_600_000.0), f64::INFINITY);
        assert_eq!(thirty_minutes.renew_after_ms(issued + 30.0 * 60_000.0 - 1_000.0), f64::INFINITY);
        assert_eq!(auth("garbage").renew_after_ms(issued), 11.25 * 60_000.0, "15 minutes assumed");
    }

    #[test]
    fn file_info_accepts_string_or_number_sizes() {
        let v = json(
            r#"{"path": ["a", "b (1).txt"], "name": "b (1).txt", "size": "12", "crc64": "99", "isOverwritten": false}"#,
        );
        let f = FileInfo::from_json(v, 200).unwrap();
        assert_eq!((f.path.as_str(), f.size, f.crc64.as_deref()), ("a/b (1).txt", Some(12), Some("99")));
        let f = FileInfo::from_json(json(r#"{"path": ["x"], "size": 5, "crc64": 14969823782951187105}"#), 200).unwrap();
        assert_eq!((f.name.as_str(), f.size, f.crc64.as_deref()), ("x", Some(5), Some("14969823782951187105")));
        assert!(FileInfo::from_json(json("{}"), 200).is_err());
    }

    #[test]
    fn file_info_refuses_absurd_sizes_and_wrong_types() {
        for bad in [
            r#"{"path": "a", "size": 9007199254740992}"#,
            r#"{"path": "a", "size": "18446744073709551616"}"#,
            r#"{"path": "a", "size": -1}"#,
            r#"{"path": "a", "size": "-1"}"#,
            r#"{"path": "a", "size": 1.5}"#,
            r#"{"path": "a", "size": true}"#,
            r#"{"path": "a", "crc64": "x"}"#,
            r#"{"path": "a", "crc64": -5}"#,
            r#"{"path": ["a", 1]}"#,
            r#"{"path": "a", "name": 3}"#,
            r#"{"path": "a", "isOverwritten": "yes"}"#,
        ] {
            assert!(
                matches!(
                    FileInfo::from_json(json(bad), 200).map_err(|e| *e),
                    Err(Error::InvalidResponse { status: 200, .. })
                ),
                "{bad}"
            );
        }
        let f = FileInfo::from_json(json(r#"{"path": "/a", "size": 9007199254740991, "crc64": null}"#), 200).unwrap();
        assert_eq!((f.path.as_str(), f.size, f.crc64), ("a", Some(MAX_SIZE), None));
    }

    #[test]
    fn upload_auth_fields_and_headers() {
        let ok = r#"{"domain": "b.cos", "path": "/o", "uploadId": null, "headers": {"Authorization": "q-sign"},
                     "confirmKey": "ck", "expiration": "2030-01-01T00:00:00Z"}"#;
        let auth = UploadAuth::from_json(&json(ok), 201).unwrap();
        assert_eq!(
            (auth.domain.as_str(), auth.upload_id.as_deref(), auth.headers.get("Authorization").map(String::as_str)),
            ("b.cos", None, Some("q-sign"))
        );
        for bad in [
            r#"{"path": "/o", "confirmKey": "ck", "expiration": "x"}"#,
            r#"{"domain": 1, "path": "/o", "confirmKey": "ck", "expiration": "x"}"#,
            r#"{"domain": "d", "path": "/o", "confirmKey": "ck", "expiration": "x", "uploadId": 5}"#,
            r#"{"domain": "d", "path": "/o", "confirmKey": "ck", "expiration": "x", "headers": []}"#,
            r#"{"domain": "d", "path": "/o", "confirmKey": "ck", "expiration": "x", "headers": {"a": 1}}"#,
            r#"{"domain": "d", "path": "/o", "confirmKey": "ck", "expiration": "x", "headers": {"bad name": "v"}}"#,
            r#"{"domain": "d", "path": "/o", "confirmKey": "ck", "expiration": "x", "headers": {"a": "SECRET\r\nX: y"}}"#,
            r#"{"domain": "d", "path": "/o", "confirmKey": "ck", "expiration": "x", "headers": {"a": "SECRET\u4e2d"}}"#,
        ] {
            match UploadAuth::from_json(&json(bad), 201).map_err(|e| *e) {
                Err(Error::InvalidResponse { status: 201, message }) => {
                    assert!(!message.contains("SECRET"), "{message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn begin_body_json() {
        assert_eq!(begin_body(12, None, None), r#"{"size":"12"}"#);
        assert_eq!(begin_body(0, Some("ab"), Some("cd")), r#"{"size":"0","beginningHash":"ab","fullHash":"cd"}"#);
    }
}
