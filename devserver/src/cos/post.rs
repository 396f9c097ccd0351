//! PostObject: `POST /` with a `multipart/form-data` body, the HTML-form upload of COS
//! (docs/cos-api.md §9.1 "opt" row; Tencent's API doc 436/14690 "POST Object"), which
//! cos-wx-sdk-v5 uses for small files (`wx.uploadFile`).
//!
//! A form is signed one of two ways:
//! - **policy** (doc 436/14690 "Signature protection"): fields `policy` (base64 of a JSON
//!   policy), `q-sign-algorithm` = `sha1`, `q-ak`, `q-key-time` and `q-signature`, where
//!   SignKey = hex(HMAC-SHA1(SecretKey, q-key-time)), StringToSign = hex(SHA1(the policy's JSON
//!   text, i.e. the base64-*decoded* field)) and q-signature = hex(HMAC-SHA1(SignKey as hex
//!   text, StringToSign)). The doc's worked example is the unit test below; cos-wx-sdk-v5's
//!   `server/sts.js` (`/post-policy`) signs the same way. The policy's `expiration` and
//!   `conditions` are then enforced.
//! - **Signature** (cos-wx-sdk-v5 `postObject`, `lib/request.js`): a field `Signature` holding
//!   an ordinary `Authorization` value for `POST /` (docs/cos-api.md §1). The headers it lists are
//!   the request's `Host` and the form fields of those names (the SDK signs its headers, then
//!   sends them as form fields); it is verified like any request ([`super::auth`]).
//!
//! Fields precede the file (`file`, which must come last; anything after it is ignored). The
//! file streams into the store like a PutObject body, never whole in memory, bounded by the
//! policy's `content-length-range`, and replaces the object atomically.
//!
//! Error codes and messages for policy failures are S3's.
//! Unconfirmed: docs/devserver-fidelity.md#cos-post-policy-errors

use std::io;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;
use multer::{Constraints, Field, Multipart, SizeLimit};
use serde_json::Value;
use sha1::{Digest as _, Sha1};

use super::auth::{authenticate, authorize, parse_window, signer, Principal};
use super::error::CosError;
use super::object::{body_stream, content_md5, stored_headers, take, write_headers};
use super::request::{CosRequest, Operation, MAX_KEY_BYTES};
use super::sign::{hmac_sha1_hex, uri_encode};
use crate::state::AppState;
use crate::store::{now_secs, BodyLength, MAX_PUT_OBJECT_SIZE};

/// Name of the form's file field.
const FILE_FIELD: &str = "file";
/// Longest value of one non-file field (a policy with many conditions stays far below).
const MAX_FIELD_BYTES: u64 = 64 * 1024;
/// Most bytes of all non-file fields together.
const MAX_FIELDS_BYTES: usize = 256 * 1024;
/// What replaces `${filename}` in the `key` field (doc 436/14690 example 7).
const FILENAME_VARIABLE: &str = "${filename}";
/// Header of a temporary credential's session token (also a form field here).
const SECURITY_TOKEN: &str = "x-cos-security-token";

/// The form fields before the file, and the file.
struct Form {
    /// `(name as sent, value)` in form order.
    fields: Vec<(String, String)>,
    file: Field<'static>,
    file_name: String,
}

impl Form {
    /// A field's value; names compare case-insensitively (`Content-Type` = `content-type`).
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The form fields as headers (those that are valid header names and values).
    fn as_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.fields {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.insert(name, value);
            }
        }
        headers
    }
}

/// One policy condition (doc 436/14690 "Construct a policy").
#[derive(Debug)]
enum Condition {
    /// `{"name": "value"}` or `["eq", "$name", "value"]`.
    Equals { field: String, value: String, source: String },
    /// `["starts-with", "$name", "prefix"]`.
    StartsWith { field: String, prefix: String, source: String },
    /// `["content-length-range", min, max]`.
    LengthRange(u64, u64),
}

/// A decoded policy.
#[derive(Debug)]
struct Policy {
    /// Unix seconds.
    expires: i64,
    conditions: Vec<Condition>,
}

fn not_a_form() -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        "Bucket POST must be of the enclosure-type multipart/form-data.",
    )
}

fn malformed_form() -> CosError {
    CosError::new(
        StatusCode::BAD_REQUEST,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn invalid_policy(why: &str) -> CosError {
    CosError::new(StatusCode::BAD_REQUEST, "InvalidPolicyDocument", format!("Invalid Policy: {why}"))
}

fn policy_denied(why: &str) -> CosError {
    CosError::new(StatusCode::FORBIDDEN, "AccessDenied", format!("Invalid according to Policy: {why}"))
}

/// A multer error as the stream error it wraps when there is one (so a stalled body stays a
/// `TimedOut`), else as "not a well-formed form".
fn stream_error(error: multer::Error) -> io::Error {
    match error {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => io::Error::other(other),
        },
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

fn form_error(error: multer::Error) -> CosError {
    let error = stream_error(error);
    match error.kind() {
        io::ErrorKind::TimedOut => crate::store::StoreError::RequestTimeout.into(),
        _ => malformed_form(),
    }
}

/// POST / (multipart/form-data).
pub async fn post_object(state: &AppState, req: &CosRequest, body: &mut Option<Body>) -> Result<Response, CosError> {
    let content_type = req.header("content-type").unwrap_or("");
    if !content_type.trim_start().to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(not_a_form());
    }
    let boundary = multer::parse_boundary(content_type).map_err(|_| not_a_form())?;
    let limits = SizeLimit::new().per_field(MAX_FIELD_BYTES).for_field(FILE_FIELD, u64::MAX);
    let mut multipart =
        Multipart::with_constraints(body_stream(take(body)), boundary, Constraints::new().size_limit(limits));
    let result = store_form(state, req, &mut multipart).await;
    // Read what is left (fields after the file, the closing boundary, or — after an error —
    // the unread file), so that the client gets this answer rather than a reset connection.
    if result.is_ok() || declared_length(req) <= super::dispatch::MAX_DRAIN_BYTES {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    }
    result
}

fn declared_length(req: &CosRequest) -> u64 {
    req.header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(u64::MAX)
}

/// Reads the fields, authenticates, checks the policy, stores the file, and answers.
async fn store_form(
    state: &AppState,
    req: &CosRequest,
    multipart: &mut Multipart<'static>,
) -> Result<Response, CosError> {
    let form = read_form(multipart).await?;
    let key = object_key(&form)?;
    // The form as the request it stands for: its fields as headers, the key as the path.
    let as_put = CosRequest {
        method: Method::POST,
        headers: form.as_headers(),
        host: req.host.clone(),
        sign_path: req.sign_path.clone(),
        key: key.clone(),
        query: req.query.clone(),
        bucket: req.bucket.clone(),
    };
    let (principal, policy) = authenticate_form(state, req, &form)?;
    // A temporary credential may write here if it may PutObject this key.
    authorize(&principal, Operation::PutObject, &as_put)?;
    let length = match &policy {
        Some(policy) => check_policy(policy, &form, &req.bucket, &key)?,
        None => BodyLength::Between(0, MAX_PUT_OBJECT_SIZE),
    };
    let md5 = content_md5(&as_put)?;
    let (content_type, stored) = stored_headers(&as_put)?;
    let redirect = form.get("success_action_redirect").filter(|url| !url.is_empty()).map(str::to_string);
    let success_status = form.get("success_action_status").map(|s| s.trim().to_string());
    let file = form.file.map(|chunk| chunk.map_err(stream_error));
    let meta = state.store.put_object_with_length(&key, &content_type, stored, Box::pin(file), length, md5).await?;
    let mut headers = write_headers(&meta.etag, meta.crc64);
    let (status, location) = match redirect {
        // Example 8: the redirect URL with bucket, key and ETag appended.
        Some(url) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let query = [("bucket", req.bucket.as_str()), ("key", key.as_str()), ("etag", meta.etag.as_str())]
                .map(|(name, value)| format!("{name}={}", uri_encode(value.as_bytes())))
                .join("&");
            (StatusCode::SEE_OTHER, format!("{url}{separator}{query}"))
        }
        None => {
            let status = match success_status.as_deref() {
                Some("200") => StatusCode::OK,
                Some("201") => StatusCode::CREATED,
                _ => StatusCode::NO_CONTENT,
            };
            let path = key.split('/').map(|segment| uri_encode(segment.as_bytes())).collect::<Vec<_>>().join("/");
            (status, format!("http://{}/{path}", req.host))
        }
    };
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    // Doc 436/14690: the response body is empty, whatever the status.
    Ok((status, headers, [(header::CONTENT_LENGTH, "0")]).into_response())
}

/// The fields up to the file field.
async fn read_form(multipart: &mut Multipart<'static>) -> Result<Form, CosError> {
    let mut fields = Vec::new();
    let mut total = 0;
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or("").to_string();
        if name == FILE_FIELD {
            let file_name = field.file_name().unwrap_or("").to_string();
            return Ok(Form { fields, file: field, file_name });
        }
        let value = field.text().await.map_err(form_error)?;
        total += name.len() + value.len();
        if total > MAX_FIELDS_BYTES {
            return Err(CosError::invalid_argument("The form fields before the file are too large."));
        }
        fields.push((name, value));
    }
    Err(CosError::invalid_argument("POST requires exactly one file upload per request."))
}

/// The `key` field with `${filename}` replaced by the file's name.
fn object_key(form: &Form) -> Result<String, CosError> {
    let key = form.get("key").unwrap_or("").replace(FILENAME_VARIABLE, &form.file_name);
    if key.is_empty() {
        return Err(CosError::invalid_argument("Bucket POST must contain a field named 'key'."));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(CosError::new(
            StatusCode::BAD_REQUEST,
            "KeyTooLong",
            format!("Your key is too long (max {MAX_KEY_BYTES} bytes)."),
        ));
    }
    Ok(key)
}

/// Who signed the form, and its policy when it was signed with one.
fn authenticate_form(state: &AppState, req: &CosRequest, form: &Form) -> Result<(Principal, Option<Policy>), CosError> {
    if form.get("q-signature").is_some() || form.get("policy").is_some() {
        return authenticate_policy(state, form).map(|(principal, policy)| (principal, Some(policy)));
    }
    let Some(authorization) = form.get("Signature") else {
        return Err(CosError::access_denied());
    };
    // cos-wx-sdk-v5: the request's own headers, the form fields over them (never `host`),
    // and the `Signature` as the `Authorization`.
    let mut headers = req.headers.clone();
    for (name, value) in form.as_headers() {
        if let Some(name) = name.filter(|n| n != header::HOST) {
            headers.insert(name, value);
        }
    }
    let authorization = HeaderValue::from_str(authorization).map_err(|_| CosError::access_denied())?;
    headers.insert(header::AUTHORIZATION, authorization);
    let signed = CosRequest {
        method: req.method.clone(),
        headers,
        host: req.host.clone(),
        sign_path: req.sign_path.clone(),
        key: String::new(),
        query: req.query.clone(),
        bucket: req.bucket.clone(),
    };
    Ok((authenticate(state, &signed)?, None))
}

/// The policy signature: the signer's key (the owner's, or a live temporary credential's with
/// its token in the `x-cos-security-token` field, [`signer`]), `q-key-time` covering now, and
/// `q-signature` over the decoded policy.
fn authenticate_policy(state: &AppState, form: &Form) -> Result<(Principal, Policy), CosError> {
    let malformed = || CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Authorization is malformed.");
    let algorithm = form.get("q-sign-algorithm").unwrap_or("");
    let (Some(ak), Some(key_time), Some(signature), Some(policy)) =
        (form.get("q-ak"), form.get("q-key-time"), form.get("q-signature"), form.get("policy"))
    else {
        return Err(malformed());
    };
    if !algorithm.eq_ignore_ascii_case("sha1") {
        return Err(malformed());
    }
    let (secret_key, principal) = signer(state, ak, form.get(SECURITY_TOKEN))?;
    let now = now_secs();
    let (start, end) = parse_window(key_time).ok_or_else(malformed)?;
    if now < start || now > end {
        return Err(CosError::request_expired());
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(policy.trim())
        .map_err(|_| invalid_policy("Policy is not valid base64."))?;
    if !policy_signature(&secret_key, key_time, &json).eq_ignore_ascii_case(signature) {
        return Err(CosError::signature_does_not_match());
    }
    Ok((principal, parse_policy(&json)?))
}

/// q-signature of a policy's JSON text (doc 436/14690 steps 4–6).
fn policy_signature(secret_key: &str, key_time: &str, policy_json: &[u8]) -> String {
    let sign_key = hmac_sha1_hex(secret_key.as_bytes(), key_time.as_bytes());
    let string_to_sign = hex::encode(Sha1::digest(policy_json));
    hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes())
}

/// A JSON scalar as the text a form field would hold (`200` and `"200"` alike).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_policy(json: &[u8]) -> Result<Policy, CosError> {
    let policy: Value = serde_json::from_slice(json).map_err(|_| invalid_policy("Invalid JSON."))?;
    let expiration =
        policy.get("expiration").and_then(Value::as_str).ok_or_else(|| invalid_policy("Policy missing expiration."))?;
    let expires = time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid_policy("Invalid 'expiration' value: must be ISO 8601."))?
        .unix_timestamp();
    let list = policy
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_policy("Policy missing conditions."))?;
    let mut conditions = Vec::new();
    for item in list {
        let source = item.to_string();
        let bad = || invalid_policy(&format!("Invalid condition: {source}"));
        match item {
            Value::Object(map) => {
                for (field, value) in map {
                    let value = scalar(value).ok_or_else(bad)?;
                    conditions.push(Condition::Equals { field: field.clone(), value, source: source.clone() });
                }
            }
            Value::Array(parts) if parts.len() == 3 => {
                let op = parts[0].as_str().ok_or_else(bad)?.to_ascii_lowercase();
                if op == "content-length-range" {
                    let bound = |v: &Value| scalar(v).and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad);
                    conditions.push(Condition::LengthRange(bound(&parts[1])?, bound(&parts[2])?));
                    continue;
                }
                let field = parts[1].as_str().and_then(|f| f.strip_prefix('$')).ok_or_else(bad)?.to_string();
                let value = scalar(&parts[2]).ok_or_else(bad)?;
                conditions.push(match op.as_str() {
                    "eq" => Condition::Equals { field, value, source },
                    "starts-with" => Condition::StartsWith { field, prefix: value, source },
                    _ => return Err(bad()),
                });
            }
            _ => return Err(bad()),
        }
    }
    Ok(Policy { expires, conditions })
}

/// Enforces the policy on the form; returns the file's allowed length.
///
/// A condition names a form field (case-insensitively), `bucket` (the request's), `key` (after
/// `${filename}`) or `q-sign-time` (the `q-key-time` field); "fields used in the policy must be
/// used in the form" (doc 436/14690), so a condition on an absent field fails.
fn check_policy(policy: &Policy, form: &Form, bucket: &str, key: &str) -> Result<BodyLength, CosError> {
    if now_secs() > policy.expires {
        return Err(policy_denied("Policy expired."));
    }
    let value_of = |field: &str| -> Option<&str> {
        match field.to_ascii_lowercase().as_str() {
            "bucket" => Some(bucket),
            "key" => Some(key),
            "q-sign-time" => form.get("q-sign-time").or_else(|| form.get("q-key-time")),
            _ => form.get(field),
        }
    };
    let (mut min, mut max) = (0, MAX_PUT_OBJECT_SIZE);
    for condition in &policy.conditions {
        let (holds, source) = match condition {
            Condition::Equals { field, value, source } => (value_of(field) == Some(value.as_str()), source),
            Condition::StartsWith { field, prefix, source } => {
                (value_of(field).is_some_and(|v| v.starts_with(prefix.as_str())), source)
            }
            Condition::LengthRange(low, high) => {
                min = min.max(*low);
                max = max.min(*high);
                continue;
            }
        };
        if !holds {
            return Err(policy_denied(&format!("Policy Condition failed: {source}")));
        }
    }
    Ok(BodyLength::Between(min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of doc 436/14690 "Signature protection use cases".
    #[test]
    fn policy_signature_matches_the_doc_example() {
        let policy = "ewogICAgImV4cGlyYXRpb24iOiAiMjAxOS0wOC0zMFQwOTozODoxMi40MTRaIiwKICAgICJjb25kaXRpb25zIjogWwogICAgICAgIHsgImFjbCI6ICJkZWZhdWx0IiB9LAogICAgICAgIHsgImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0LTEyNTAwMDAwMDAiIH0sCiAgICAgICAgWyAic3RhcnRzLXdpdGgiLCAiJGtleSIsICJmb2xkZXIvc3ViZm9sZGVyLyIgXSwKICAgICAgICBbICJzdGFydHMtd2l0aCIsICIkQ29udGVudC1UeXBlIiwgImltYWdlLyIgXSwKICAgICAgICBbICJzdGFydHMtd2l0aCIsICIkc3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiLCAiaHR0cHM6Ly9teS53ZWJzaXRlLyIgXSwKICAgICAgICBbICJlcSIsICIkeC1jb3Mtc2VydmVyLXNpZGUtZW5jcnlwdGlvbiIsICJBRVMyNTYiIF0sCiAgICAgICAgeyAicS1zaWduLWFsZ29yaXRobSI6ICJzaGExIiB9LAogICAgICAgIHsgInEtYWsiOiAiQUtJRFFqejNsdG9tcFZqQm5pNUxpdGtXSEZsRnB3a245VTVxIiB9LAogICAgICAgIHsgInEtc2lnbi10aW1lIjogIjE1NjcxNTA2OTI7MTU2NzE1Nzg5MiIgfQogICAgXQp9";
        let json = base64::engine::general_purpose::STANDARD.decode(policy).unwrap();
        let key_time = "1567150692;1567157892";
        let secret_key = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz";
        assert_eq!(
            hmac_sha1_hex(secret_key.as_bytes(), key_time.as_bytes()),
            "39acc8c9f34ba5b19bce4e965b370cd3f62d2fba"
        );
        assert_eq!(hex::encode(Sha1::digest(&json)), "d5d903b8360468bc81c1311f134989bc8c8b5b89");
        assert_eq!(policy_signature(secret_key, key_time, &json), "7758dc9a832e9d301dca704cacbf9d9f8172fdef");

        let parsed = parse_policy(&json).unwrap();
        assert_eq!(parsed.expires, 1567157892);
        assert_eq!(parsed.conditions.len(), 9);
        assert!(matches!(&parsed.conditions[2], Condition::StartsWith { field, prefix, .. }
            if field == "key" && prefix == "folder/subfolder/"));
    }

    #[test]
    fn malformed_policies_are_invalid_policy_documents() {
        for json in [
            "not json",
            r#"{"conditions": []}"#,
            r#"{"expiration": "tomorrow", "conditions": []}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z"}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["in", "$key", "a"]]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", "a", 2]]}"#,
        ] {
            let error = parse_policy(json.as_bytes()).unwrap_err();
            assert_eq!(error.code, "InvalidPolicyDocument", "{json}");
        }
        let ok = r#"{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [["content-length-range", 1, "10"], {"success_action_status": 201}]}"#;
        let parsed = parse_policy(ok.as_bytes()).unwrap();
        assert!(matches!(parsed.conditions[0], Condition::LengthRange(1, 10)));
        assert!(matches!(&parsed.conditions[1], Condition::Equals { value, .. } if value == "201"));
    }
}
