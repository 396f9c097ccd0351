//! The public [`Error`]: one enum whose every variant maps to a stable `code` for JS.
//!
//! Messages never contain access tokens, signatures or query strings: URLs are recorded without
//! their query (that is where `access_token` and COS signatures live).

use std::fmt;

use crate::text::{fill, Arg};

/// Everything an upload can fail with.
///
/// [`Error::retryable`] is the single decision point for retries; the JS `retryable` field is the
/// same value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The SMH API answered with an error (JSON `{code, message, requestId}`).
    ///
    /// Retried when the status is 5xx or 429.
    Smh { status: u16, code: String, message: String, request_id: Option<String> },
    /// The COS bucket answered with an error (XML `<Error><Code>…`).
    ///
    /// Retried when the status is 5xx, 429, or the code is `SlowDown`, `RequestTimeout`,
    /// `InternalError` or `ServiceUnavailable` (COS may answer CompleteMultipartUpload 200 with
    /// an error in the body: docs/cos-api.md §2.8). `AccessDenied` "Request has expired" is handled by renewing the authorisation first.
    Cos { status: u16, code: String, message: String, request_id: Option<String> },
    /// The request did not complete: connection refused or reset, DNS, CORS. Retried.
    Network { message: String },
    /// No response within the time limit, or no upload progress for the stall limit. Retried.
    Timeout { message: String },
    /// SMH handed out an upload domain that `allowedDomains` does not allow; nothing was sent there.
    DomainNotAllowed { domain: String },
    /// Bytes that reached the server differ from the bytes read (CRC64 mismatch).
    ///
    /// A part whose reply has the wrong CRC is sent again by the engine; as a final error
    /// (SMH's `BadCrc64` at confirm) it is not retryable.
    IntegrityMismatch { message: String },
    /// A bad argument or option; `option` names it.
    InvalidInput { option: String, message: String },
    /// A server reply that is not what the protocol says (non-JSON, truncated, missing fields).
    InvalidResponse { status: u16, message: String },
    /// The file could not be read, or it changed while uploading.
    FileRead { message: String },
    /// `getAccessToken()` failed or returned no token. Retryable: it is the app's backend, which
    /// may answer next time (so an upload keeps its record for the next attempt).
    AccessToken { message: String },
    /// `getCredentials()` (direct COS) failed, or returned no usable temporary credentials.
    /// Retryable, as [`Error::AccessToken`].
    Credentials { message: String },
    /// The upload was cancelled (`task.cancel()`, or the `AbortSignal` fired).
    Aborted,
}

/// `Result` with a boxed [`Error`]: the error is 40 bytes on wasm32 (a status, two strings and an
/// optional request id), so unboxed, every `Result` of the engine would be at least that large,
/// and every `?`, every future holding one and every return would copy those bytes — code in the
/// package wherever a `Result` moves. Boxed, `Result<()>` is one pointer, and an error costs one
/// allocation where it is made, on the failure path only.
/// Match on a boxed error through `*`: `Err(e) if matches!(*e, Error::Aborted)`.
pub type Result<T, E = Box<Error>> = std::result::Result<T, E>;

impl Error {
    /// The stable code exposed to JS: the server's code for `Smh`/`Cos`, else the SDK's own.
    pub fn code(&self) -> &str {
        match self {
            Error::Smh { code, .. } | Error::Cos { code, .. } => code,
            Error::Network { .. } => "Network",
            Error::Timeout { .. } => "Timeout",
            Error::DomainNotAllowed { .. } => "DomainNotAllowed",
            Error::IntegrityMismatch { .. } => "IntegrityMismatch",
            Error::InvalidInput { .. } => "InvalidInput",
            Error::InvalidResponse { .. } => "InvalidResponse",
            Error::FileRead { .. } => "FileReadError",
            Error::AccessToken { .. } => "AccessTokenError",
            Error::Credentials { .. } => "CredentialsError",
            Error::Aborted => "Aborted",
        }
    }

    /// HTTP status of the failed request, or 0 when there was none.
    pub fn status(&self) -> u16 {
        match self {
            Error::Smh { status, .. } | Error::Cos { status, .. } | Error::InvalidResponse { status, .. } => *status,
            _ => 0,
        }
    }

    /// The server's request id, when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Smh { request_id, .. } | Error::Cos { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether repeating the same request may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Smh { status, .. } => *status >= 500 || *status == 429,
            Error::Cos { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    || matches!(code.as_str(), "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable")
            }
            Error::Network { .. } | Error::Timeout { .. } => true,
            Error::InvalidResponse { status, .. } => *status >= 500,
            Error::AccessToken { .. } | Error::Credentials { .. } => true,
            _ => false,
        }
    }

    /// COS refused an expired upload authorisation: renew it, then retry.
    pub fn is_expired_authorisation(&self) -> bool {
        match self {
            Error::Cos { status: 403, code, message, .. } => {
                code == "AccessDenied" && crate::text::contains(message, "expired")
                    || code == "ExpiredToken"
                    || code == "RequestTimeTooSkewed"
            }
            Error::Cos { code, .. } => code == "ExpiredToken",
            _ => false,
        }
    }

    /// SMH refused the access token (invalid or expired — SMH uses one code for both).
    pub fn is_invalid_token(&self) -> bool {
        matches!(self, Error::Smh { status: 403, code, .. } if code == "InvalidAccessToken")
    }

    /// A boxed [`Error::InvalidInput`] (the engine's `Result` error), built at one place.
    pub(crate) fn invalid_input(option: &str, message: impl Into<String>) -> Box<Error> {
        Box::new(Error::InvalidInput { option: option.to_string(), message: message.into() })
    }
}

impl Error {
    /// The message users read (`Display`, and `message` of the JS error), built without
    /// `core::fmt` (src/text.rs says why).
    pub fn message(&self) -> String {
        let (template, args): (&str, &[Arg]) = match self {
            Error::Smh { status, code, message, .. } => {
                ("SMH error {} {}: {}", &[(*status).into(), code.into(), message.into()])
            }
            Error::Cos { status, code, message, .. } => {
                ("COS error {} {}: {}", &[(*status).into(), code.into(), message.into()])
            }
            Error::Network { message } => ("network error: {}", &[message.into()]),
            Error::Timeout { message } => ("timeout: {}", &[message.into()]),
            Error::DomainNotAllowed { domain } => {
                ("upload domain {} is not in allowedDomains; no bytes were sent to it", &[domain.into()])
            }
            Error::IntegrityMismatch { message } => ("integrity check failed: {}", &[message.into()]),
            Error::InvalidInput { option, message } => ("invalid `{}`: {}", &[option.into(), message.into()]),
            Error::InvalidResponse { status, message } => {
                ("invalid server response (HTTP {}): {}", &[(*status).into(), message.into()])
            }
            Error::FileRead { message } => ("cannot read the file: {}", &[message.into()]),
            Error::AccessToken { message } => ("cannot get an access token: {}", &[message.into()]),
            Error::Credentials { message } => ("cannot get COS credentials: {}", &[message.into()]),
            Error::Aborted => ("the upload was cancelled", &[]),
        };
        fill(template, args)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

/// Removes the query string and fragment of a URL, for messages and logs.
pub fn redact_url(url: &str) -> &str {
    let end = url.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(url.len());
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retryability() {
        let e = Error::Cos { status: 503, code: "SlowDown".into(), message: String::new(), request_id: None };
        assert!(e.retryable());
        // An `<Error>` in a 200 reply (CompleteMultipartUpload) is retried when its code says so.
        let e = Error::Cos { status: 200, code: "InternalError".into(), message: String::new(), request_id: None };
        assert!(e.retryable());
        let e = Error::Cos {
            status: 403,
            code: "AccessDenied".into(),
            message: "Request has expired".into(),
            request_id: Some("r".into()),
        };
        assert!(!e.retryable());
        assert!(e.is_expired_authorisation());
        assert_eq!(e.request_id(), Some("r"));
        let e = Error::Smh { status: 403, code: "InvalidAccessToken".into(), message: String::new(), request_id: None };
        assert!(e.is_invalid_token() && !e.retryable());
        assert_eq!(Error::Aborted.code(), "Aborted");
        assert_eq!(Error::Network { message: String::new() }.status(), 0);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("https://h/p?access_token=secret#x"), "https://h/p");
        assert_eq!(redact_url("https://h/p"), "https://h/p");
    }
}
