//! [`CosError`]: a COS error response (docs/cos-api.md §4), rendered as the COS error XML.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::response::{add_common_headers, new_request_id};
use super::xml::Xml;
use crate::store::StoreError;

/// One COS error: HTTP status, `Code`, `Message`, and optional extra headers.
#[derive(Debug)]
pub struct CosError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Headers added to the error response (e.g. `Content-Range` on 416).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl CosError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> CosError {
        CosError { status, code, message: message.into(), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> CosError {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    pub fn access_denied() -> CosError {
        CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied.")
    }

    /// The signature's time window or the temporary credential is over. The exact message is
    /// what the official JS/node SDKs test for before correcting their clock and retrying.
    pub fn request_expired() -> CosError {
        CosError::new(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired")
    }

    /// The signature starts too far after the server's time (a client clock running ahead,
    /// see [`super::auth::authenticate`]). Code and message as docs/cos-api.md §4.2 lists them.
    pub fn request_time_too_skewed() -> CosError {
        CosError::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        )
    }

    pub fn invalid_access_key_id() -> CosError {
        CosError::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The Access Key Id you provided does not exist in our records.",
        )
    }

    pub fn signature_does_not_match() -> CosError {
        CosError::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", "The Signature you specified is invalid.")
    }

    pub fn invalid_argument(message: impl Into<String>) -> CosError {
        CosError::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub fn malformed_xml() -> CosError {
        CosError::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    pub fn not_implemented(what: &str) -> CosError {
        CosError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("{what} is not implemented by smh-devserver."),
        )
    }

    pub fn no_such_key() -> CosError {
        CosError::new(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.")
    }

    pub fn no_such_upload() -> CosError {
        CosError::new(StatusCode::NOT_FOUND, "NoSuchUpload", "The specified upload does not exist.")
    }

    pub fn no_such_bucket() -> CosError {
        CosError::new(StatusCode::NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist.")
    }

    pub fn internal() -> CosError {
        CosError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// The response for request `request_id` on `resource` (`host/path`); HEAD answers carry
    /// no body (docs/cos-api.md §4.1). Common and CORS headers are added by the caller.
    pub fn render(self, resource: &str, request_id: &str, head: bool) -> Response {
        let mut response = if head || self.status == StatusCode::NOT_MODIFIED {
            self.status.into_response()
        } else {
            let mut xml = Xml::new("Error");
            xml.leaf("Code", self.code)
                .leaf("Message", &self.message)
                .leaf("Resource", resource)
                .leaf("RequestId", request_id)
                .leaf("TraceId", request_id);
            (self.status, [(axum::http::header::CONTENT_TYPE, "application/xml")], xml.finish()).into_response()
        };
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        if let Ok(value) = HeaderValue::from_str(request_id) {
            response.headers_mut().insert("x-cos-trace-id", value);
        }
        response
    }
}

/// Standalone rendering (for layers such as fault injection that have no request context):
/// a fresh request id, no resource, the common headers with `Access-Control-Allow-Origin: *`.
impl IntoResponse for CosError {
    fn into_response(self) -> Response {
        let request_id = new_request_id();
        let mut response = self.render("", &request_id, false);
        add_common_headers(response.headers_mut(), &request_id);
        response
    }
}

impl From<StoreError> for CosError {
    fn from(e: StoreError) -> CosError {
        use StatusCode as S;
        match e {
            StoreError::NoSuchKey => CosError::no_such_key(),
            StoreError::NoSuchUpload => CosError::no_such_upload(),
            StoreError::InvalidPart(_) => CosError::new(
                S::BAD_REQUEST,
                "InvalidPart",
                "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
            ),
            StoreError::InvalidPartOrder => {
                CosError::new(S::BAD_REQUEST, "InvalidPartOrder", "The list of parts was not in ascending order.")
            }
            StoreError::EntityTooSmall(_) => CosError::new(
                S::BAD_REQUEST,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            ),
            StoreError::EntityTooLarge => CosError::new(
                S::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed object size.",
            ),
            StoreError::BadDigest => CosError::new(
                S::BAD_REQUEST,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ),
            StoreError::IncompleteBody => CosError::new(
                S::BAD_REQUEST,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ),
            StoreError::RequestTimeout => CosError::new(
                S::BAD_REQUEST,
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to within the timeout period.",
            ),
            StoreError::InvalidPartNumber => CosError::invalid_argument("Part number must be an integer between 1 and 10000, inclusive."),
            StoreError::BadCrc64 { .. } | StoreError::Io(_) | StoreError::Db(_) => {
                tracing::error!(error = %e, "cos: internal error");
                CosError::internal()
            }
        }
    }
}
