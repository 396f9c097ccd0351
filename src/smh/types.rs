//! SMH request and response bodies (smh-api.md §5).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What to do when the target name exists (`conflict_resolution_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadAuth {
    /// COS bucket domain (`host[:port]`, no scheme).
    pub domain: String,
    /// URL path of the object, with a leading `/`.
    pub path: String,
    /// Multipart uploads only.
    #[serde(default)]
    pub upload_id: Option<String>,
    /// Headers to send verbatim (Authorization, x-cos-security-token, Content-Type, …).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub confirm_key: String,
    /// ISO-8601 expiry of `headers`' authorisation.
    pub expiration: String,
}

/// Body of begin-upload.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeginBody {
    pub size: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beginning_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_hash: Option<String>,
}

/// The committed file, from confirm (or a quick-upload hit).
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    /// Final path (may differ from the requested one after `rename`).
    pub path: String,
    pub name: String,
    pub size: Option<u64>,
    pub crc64: Option<String>,
    pub etag: Option<String>,
    pub is_overwritten: bool,
    /// The whole reply, for fields this type does not name.
    pub raw: serde_json::Value,
}

/// Reads a string-or-number field as u64 (`size` is a string in JS SDKs, a number in Android).
fn u64_field(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl FileInfo {
    pub fn from_json(raw: serde_json::Value, status: u16) -> Result<FileInfo> {
        let path = match raw.get("path") {
            Some(serde_json::Value::Array(segs)) => {
                segs.iter().map(|s| s.as_str().unwrap_or_default()).collect::<Vec<_>>().join("/")
            }
            Some(serde_json::Value::String(s)) => s.trim_start_matches('/').to_string(),
            _ => return Err(Error::InvalidResponse { status, message: "file reply has no `path`".into() }),
        };
        let name = raw
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| path.rsplit('/').next().unwrap_or_default().to_string());
        let crc64 = raw.get("crc64").and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        Ok(FileInfo {
            path,
            name,
            size: raw.get("size").and_then(u64_field),
            crc64,
            etag: raw.get("eTag").and_then(|v| v.as_str()).map(str::to_string),
            is_overwritten: raw.get("isOverwritten").and_then(|v| v.as_bool()).unwrap_or(false),
            raw,
        })
    }
}

/// Parses an ISO-8601 UTC timestamp (`2021-01-01T00:15:00.000Z`, offsets allowed) to Unix ms.
pub fn parse_iso8601_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let (clock, offset_min) = if let Some(c) = time.strip_suffix('Z').or_else(|| time.strip_suffix('z')) {
        (c, 0)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = off[1..].split_once(':').unwrap_or((&off[1..3.min(off.len())], "0"));
        (c, sign * (hh.parse::<i64>().ok()? * 60 + mm.parse::<i64>().ok()?))
    } else {
        (time, 0)
    };
    let mut t = clock.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: f64 = t.next().unwrap_or("0").parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 - offset_min * 60;
    Some(secs as f64 * 1000.0 + sec * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00.000Z"), Some(0.0));
        assert_eq!(parse_iso8601_ms("2021-01-01T00:15:00.000Z"), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms("2021-01-01T08:15:00+08:00"), Some(1_609_460_100_000.0));
        assert_eq!(parse_iso8601_ms("2024-02-29T12:00:00.5Z"), Some(1_709_208_000_500.0));
        assert_eq!(parse_iso8601_ms("garbage"), None);
    }

    #[test]
    fn file_info_accepts_string_or_number_sizes() {
        let v = serde_json::json!({"path": ["a", "b (1).txt"], "name": "b (1).txt", "size": "12", "crc64": "99", "isOverwritten": false});
        let f = FileInfo::from_json(v, 200).unwrap();
        assert_eq!((f.path.as_str(), f.size, f.crc64.as_deref()), ("a/b (1).txt", Some(12), Some("99")));
        let f = FileInfo::from_json(serde_json::json!({"path": ["x"], "size": 5}), 200).unwrap();
        assert_eq!((f.name.as_str(), f.size), ("x", Some(5)));
        assert!(FileInfo::from_json(serde_json::json!({}), 200).is_err());
    }
}
