//! Who sent a cos request and whether they may do it: signature verification (docs/cos-api.md §1.4)
//! against the bucket owner's permanent key or a temporary credential, then the credential's
//! scope — one SMH upload, or a key prefix for the bucket keys a customer backend hands out
//! (`POST /credentials` on the app origin, docs/cos-api.md §7).

use axum::http::StatusCode;

use super::error::CosError;
use super::request::{strip_port, CosRequest, Operation};
use super::sign;
use crate::state::AppState;
use crate::store::{now_secs, TempCredential};

/// Header (or query parameter) carrying a temporary credential's session token.
const SECURITY_TOKEN: &str = "x-cos-security-token";
/// How far ahead of the server's clock a signature's start (`q-sign-time`) may be before the
/// request is refused with 403 RequestTimeTooSkewed: 15 minutes (docs/cos-api.md §1.4 item 3).
/// Unconfirmed: docs/devserver-fidelity.md#cos-clock-skew
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// The signer of a request.
#[derive(Debug)]
pub enum Principal {
    /// The bucket owner's permanent key: full access.
    Owner,
    /// A temporary credential minted by SMH (only its upload) or by the customer backend (only
    /// keys under its prefix).
    Temporary(TempCredential),
}

/// The `q-*` fields of an `Authorization` header or of a presigned URL's query.
#[derive(Debug, Default)]
struct AuthFields {
    algorithm: String,
    ak: String,
    sign_time: String,
    key_time: String,
    header_list: String,
    param_list: String,
    signature: String,
}

impl AuthFields {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "q-sign-algorithm" => self.algorithm = value,
            "q-ak" => self.ak = value,
            "q-sign-time" => self.sign_time = value,
            "q-key-time" => self.key_time = value,
            "q-header-list" => self.header_list = value,
            "q-url-param-list" => self.param_list = value,
            "q-signature" => self.signature = value,
            _ => {}
        }
    }

    /// From the `Authorization` header, else from the query (presigned URL); `None` when the
    /// request carries neither (anonymous).
    fn from_request(req: &CosRequest) -> Option<AuthFields> {
        let mut fields = AuthFields::default();
        if let Some(header) = req.header("authorization") {
            for kv in header.split('&') {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                fields.set(k.trim(), super::request::decode(v.trim()));
            }
            return Some(fields);
        }
        if !req.has_param("q-signature") {
            return None;
        }
        for (k, v) in &req.query {
            fields.set(k, v.clone());
        }
        Some(fields)
    }
}

/// `"start;end"` → `(start, end)`.
pub fn parse_window(window: &str) -> Option<(i64, i64)> {
    let (start, end) = window.split_once(';')?;
    Some((start.trim().parse().ok()?, end.trim().parse().ok()?))
}

/// Verifies the request's signature and returns who signed it.
///
/// Order of checks: anonymous → 403 AccessDenied; unknown `q-ak` → 403 InvalidAccessKeyId;
/// temporary key without `x-cos-security-token` → 403 InvalidAccessKeyId, with a different
/// token → 400 InvalidToken (unconfirmed: docs/devserver-fidelity.md#cos-temp-token-errors);
/// credential expired or revoked → 403 AccessDenied "Request has expired"; `q-sign-time`
/// starting more than [`MAX_CLOCK_SKEW_SECS`] after the server's `now`
/// (a client clock running ahead) → 403 RequestTimeTooSkewed; `now` outside `q-sign-time` /
/// `q-key-time` → 403 AccessDenied "Request has expired"; signature mismatch → 403
/// SignatureDoesNotMatch. Every answer carries the server's `Date`, from which a client
/// corrects its clock.
///
/// A start in the past is not skew: a presigned URL stays valid until its end, so a clock
/// running behind shows as "Request has expired" once its window is over.
///
/// Why "Request has expired" for an expired temporary key: COS's 403 guide (doc 436/40105)
/// names it for a request after the signature's validity, and an SDK signing with temporary
/// keys sets `q-key-time` to `StartTime;ExpiredTime`, so real COS rejects such a request on the
/// time window before it looks at the key. It is also the one answer the SDKs act on (js
/// `allowRetry`; our engine renews its authorisation on it).
/// Unconfirmed: docs/devserver-fidelity.md#cos-expired-temp-key
pub fn authenticate(state: &AppState, req: &CosRequest) -> Result<Principal, CosError> {
    let Some(fields) = AuthFields::from_request(req) else {
        return Err(CosError::access_denied());
    };
    if !fields.algorithm.eq_ignore_ascii_case("sha1") || fields.ak.is_empty() || fields.signature.is_empty() {
        return Err(CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Authorization is malformed."));
    }
    let token = req.header(SECURITY_TOKEN).or_else(|| req.param(SECURITY_TOKEN));
    let (secret_key, principal) = signer(state, &fields.ak, token)?;
    let now = now_secs();
    let malformed = || CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Authorization is malformed.");
    let (sign_start, _) = parse_window(&fields.sign_time).ok_or_else(malformed)?;
    if sign_start > now + MAX_CLOCK_SKEW_SECS {
        return Err(CosError::request_time_too_skewed());
    }
    for window in [&fields.sign_time, &fields.key_time] {
        let (start, end) = parse_window(window).ok_or_else(malformed)?;
        if now < start || now > end {
            return Err(CosError::request_expired());
        }
    }
    verify_signature(req, &fields, &secret_key)?;
    Ok(principal)
}

/// The secret key of `ak` and who it is: the owner's permanent key, or a live temporary
/// credential whose session token is `token` (checks and errors as in [`authenticate`]).
pub fn signer(state: &AppState, ak: &str, token: Option<&str>) -> Result<(String, Principal), CosError> {
    if ak == state.identity.secret_id {
        return Ok((state.identity.secret_key.clone(), Principal::Owner));
    }
    let credential = state.store.credential(ak)?.ok_or_else(CosError::invalid_access_key_id)?;
    match token {
        None => return Err(CosError::invalid_access_key_id()),
        Some(token) if token != credential.token => {
            return Err(CosError::new(
                StatusCode::BAD_REQUEST,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.",
            ))
        }
        Some(_) => {}
    }
    let now = now_secs();
    if now < credential.start || now > credential.expires {
        return Err(CosError::request_expired());
    }
    Ok((credential.secret_key.clone(), Principal::Temporary(credential)))
}

/// Recomputes the signature from exactly the headers and parameters the client listed, with
/// the decoded path; `host` is tried as sent and without its port (py signs the bare hostname).
fn verify_signature(req: &CosRequest, fields: &AuthFields, secret_key: &str) -> Result<(), CosError> {
    let names = |list: &str| -> Vec<String> {
        list.split(';').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect()
    };
    let params: Vec<(String, String)> = names(&fields.param_list)
        .into_iter()
        .map(|name| {
            // An absent listed name counts as "" (SDKs never send one).
            // Unconfirmed: docs/devserver-fidelity.md#cos-absent-signed-name
            let value =
                req.query.iter().find(|(k, _)| sign::list_name(k) == name).map(|(_, v)| v.as_str()).unwrap_or("");
            let value = sign::uri_encode(value.as_bytes());
            (name, value)
        })
        .collect();
    let (_, params) = sign::canonical(params);
    let header_value = |name: &str, host: &str| -> String {
        if name == "host" {
            return sign::uri_encode(host.as_bytes());
        }
        let value = req
            .headers
            .iter()
            .find(|(k, _)| sign::list_name(k.as_str()) == name)
            .map(|(_, v)| v.as_bytes().trim_ascii())
            .unwrap_or(b"");
        sign::uri_encode(value)
    };
    let header_names = names(&fields.header_list);
    let mut hosts = vec![req.host.as_str()];
    if strip_port(&req.host) != req.host && header_names.iter().any(|n| n == "host") {
        hosts.push(strip_port(&req.host));
    }
    let mut last = String::new();
    for host in hosts {
        let headers = header_names.iter().map(|n| (n.clone(), header_value(n, host))).collect();
        let (_, headers) = sign::canonical(headers);
        let http_string = sign::http_string(req.method.as_str(), &req.sign_path, &params, &headers);
        let expected = sign::signature(secret_key, &fields.key_time, &fields.sign_time, &http_string);
        if expected.eq_ignore_ascii_case(&fields.signature) {
            return Ok(());
        }
        last = http_string;
    }
    // Dev aid (docs/cos-api.md §1.4 item 6): what the server signed, percent-encoded onto one line,
    // with a signed session token replaced by `{token}` (no secret in an error answer).
    if let Some(token) = req.header(SECURITY_TOKEN).or_else(|| req.param(SECURITY_TOKEN)).filter(|t| !t.is_empty()) {
        last = last.replace(&sign::uri_encode(token.trim().as_bytes()), "{token}");
    }
    Err(CosError::signature_does_not_match().with_header(
        axum::http::HeaderName::from_static("x-smh-debug-formatstring"),
        &sign::uri_encode(last.as_bytes()),
    ))
}

/// An SMH upload key may only PutObject its key (scope without uploadId), or UploadPart /
/// ListParts its key and upload (scope with uploadId). A bucket key may do what a customer
/// backend's upload policy grants (docs/cos-api.md §7.1: PutObject, the multipart actions,
/// ListMultipartUploads) plus HeadObject / GetObject to check and read back, on keys under its
/// prefix; not DeleteObject or GetBucket. The owner may do anything.
pub fn authorize(principal: &Principal, op: Operation, req: &CosRequest) -> Result<(), CosError> {
    let Principal::Temporary(credential) = principal else {
        return Ok(());
    };
    if let Some(prefix) = &credential.prefix {
        return if bucket_key_allows(prefix, op, req) { Ok(()) } else { Err(CosError::access_denied()) };
    }
    let scope = &credential.scope;
    let allowed = req.key == scope.key
        && match (&scope.upload_id, op) {
            (None, Operation::PutObject) => true,
            (Some(id), Operation::UploadPart | Operation::ListParts) => req.param("uploadId") == Some(id.as_str()),
            _ => false,
        };
    if allowed {
        Ok(())
    } else {
        Err(CosError::access_denied())
    }
}

/// Whether a bucket key scoped to `prefix` may do `op` on this request (see [`authorize`]).
fn bucket_key_allows(prefix: &str, op: Operation, req: &CosRequest) -> bool {
    let under_prefix = !req.key.is_empty() && req.key.starts_with(prefix);
    match op {
        Operation::PutObject
        | Operation::HeadObject
        | Operation::GetObject
        | Operation::InitiateMultipartUpload
        | Operation::UploadPart
        | Operation::ListParts
        | Operation::CompleteMultipartUpload
        | Operation::AbortMultipartUpload => under_prefix,
        // A bucket-level listing: only of uploads under the prefix.
        Operation::ListMultipartUploads => req.param("prefix").unwrap_or("").starts_with(prefix),
        // Not granted: DeleteObject, GetBucket, HeadBucket. (A PostObject is signed and checked
        // by its own form fields, never here.)
        _ => false,
    }
}
