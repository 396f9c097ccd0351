//! [`SmhError`]: every error the smh origin answers, rendered as SMH's JSON error body
//! `{"code","message","requestId"}` with an `X-Request-Id` header (docs/smh-api.md §7).
//!
//! Messages name paths and parameters but never tokens, secrets or signatures.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;

/// The response header carrying the request id (Java SDK `Headers.REQUEST_ID`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An SMH API error. Each variant is one SMH error code; [`SmhError::status`] is its HTTP status
/// per docs/smh-api.md §7.
#[derive(Debug, thiserror::Error)]
pub enum SmhError {
    #[error("library_id and library_secret are required")]
    EmptyLibraryIdOrSecret,
    #[error("library_id is required")]
    EmptyLibraryId,
    #[error("library_secret is required")]
    EmptyLibrarySecret,
    #[error("the library id or the library secret is wrong")]
    WrongLibraryIdOrSecret,
    #[error("an access token is required")]
    EmptyAccessToken,
    #[error("the access token is invalid, expired, or not applicable to this library")]
    InvalidAccessToken,
    #[error("the access token does not apply to space {0}")]
    AccessTokenNotMatchSpace(String),
    #[error("the access token has no permission for this operation")]
    NoPermission,
    #[error("this library has no tenant spaces")]
    NotMultiSpaceLibrary,
    #[error("library {0} not found")]
    LibraryNotFound(String),
    #[error("space {0} not found")]
    SpaceNotFound(String),
    #[error("a path is required")]
    EmptyPath,
    #[error("a path segment is empty")]
    EmptyFileName,
    #[error("illegal file or directory name: {0}")]
    IllegalFileName(String),
    #[error("file name longer than 255 characters")]
    FileNameLengthExceed,
    #[error("directory name longer than 255 characters")]
    DirectoryNameLengthExceed,
    #[error("this library does not allow directories")]
    DirectoryNotAllowed,
    #[error("albums cannot be nested")]
    DirectoryLevelExceed,
    #[error("files must be uploaded into an album")]
    UploadToRootDirectoryNotAllowed,
    #[error("file extension {0:?} is not allowed in this library")]
    ExtnameNotAllowed(String),
    #[error("conflict_resolution_strategy must be ask, rename or overwrite")]
    InvalidConflictResolutionStrategy,
    #[error("{0}")]
    ParamInvalid(String),
    #[error("the space quota would be exceeded")]
    QuotaLimitReached,
    #[error("crc64 mismatch: the uploaded content has crc64 {actual}")]
    BadCrc64 { actual: u64 },
    #[error("the file content has not been uploaded")]
    UploadIncomplete,
    #[error("the uploaded parts are not contiguous from 1: part {0} is missing")]
    MultipartUploadIncomplete(u32),
    #[error("part {0} is smaller than the minimum part size")]
    MultipartUploadPartTooSmall(u32),
    #[error("directory {0:?} not found")]
    DirectoryNotFound(String),
    #[error("file {0:?} not found")]
    FileNotFound(String),
    #[error("marker not found")]
    MarkerNotFound,
    #[error("upload task not found")]
    UploadNotFound,
    #[error("a directory or file named {0:?} already exists")]
    SameNameDirectoryOrFileExists(String),
    #[error("the upload task is already confirmed")]
    UploadComplete,
    #[error("no free name found for {0:?}")]
    RenameTooManyTimes(String),
    #[error("request body larger than {0} bytes")]
    RequestEntityTooLarge(usize),
    #[error("no such API")]
    ApiNotFound,
    /// An injected fault or any other code chosen at run time.
    #[error("{message}")]
    Custom { status: StatusCode, code: String, message: String },
    /// A bug or an I/O failure here; the detail is logged, the client sees a generic message.
    #[error("internal error")]
    Internal(String),
}

impl SmhError {
    pub fn status(&self) -> StatusCode {
        use SmhError::*;
        match self {
            EmptyLibraryIdOrSecret
            | EmptyLibraryId
            | EmptyLibrarySecret
            | EmptyAccessToken
            | NotMultiSpaceLibrary
            | EmptyPath
            | EmptyFileName
            | IllegalFileName(_)
            | FileNameLengthExceed
            | DirectoryNameLengthExceed
            | DirectoryNotAllowed
            | DirectoryLevelExceed
            | UploadToRootDirectoryNotAllowed
            | ExtnameNotAllowed(_)
            | InvalidConflictResolutionStrategy
            | ParamInvalid(_)
            | QuotaLimitReached
            | BadCrc64 { .. }
            | UploadIncomplete
            | MultipartUploadIncomplete(_)
            | MultipartUploadPartTooSmall(_) => StatusCode::BAD_REQUEST,
            InvalidAccessToken | AccessTokenNotMatchSpace(_) | NoPermission => StatusCode::FORBIDDEN,
            WrongLibraryIdOrSecret
            | LibraryNotFound(_)
            | SpaceNotFound(_)
            | DirectoryNotFound(_)
            | FileNotFound(_)
            | MarkerNotFound
            | UploadNotFound
            | ApiNotFound => StatusCode::NOT_FOUND,
            SameNameDirectoryOrFileExists(_) | UploadComplete | RenameTooManyTimes(_) => StatusCode::CONFLICT,
            RequestEntityTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Custom { status, .. } => *status,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &str {
        use SmhError::*;
        match self {
            EmptyLibraryIdOrSecret => "EmptyLibraryIdOrSecret",
            EmptyLibraryId => "EmptyLibraryId",
            EmptyLibrarySecret => "EmptyLibrarySecret",
            WrongLibraryIdOrSecret => "WrongLibraryIdOrSecret",
            EmptyAccessToken => "EmptyAccessToken",
            InvalidAccessToken => "InvalidAccessToken",
            AccessTokenNotMatchSpace(_) => "AccessTokenNotMatchSpace",
            NoPermission => "NoPermission",
            NotMultiSpaceLibrary => "NotMultiSpaceLibrary",
            LibraryNotFound(_) => "LibraryNotFound",
            SpaceNotFound(_) => "SpaceNotFound",
            EmptyPath => "EmptyPath",
            EmptyFileName => "EmptyFileName",
            IllegalFileName(_) => "IllegalFileName",
            FileNameLengthExceed => "FileNameLengthExceed",
            DirectoryNameLengthExceed => "DirectoryNameLengthExceed",
            DirectoryNotAllowed => "DirectoryNotAllowed",
            DirectoryLevelExceed => "DirectoryLevelExceed",
            UploadToRootDirectoryNotAllowed => "UploadToRootDirectoryNotAllowed",
            ExtnameNotAllowed(_) => "ExtnameNotAllowed",
            InvalidConflictResolutionStrategy => "InvalidConflictResolutionStrategy",
            ParamInvalid(_) => "ParamInvalid",
            QuotaLimitReached => "QuotaLimitReached",
            BadCrc64 { .. } => "BadCrc64",
            UploadIncomplete => "UploadIncomplete",
            MultipartUploadIncomplete(_) => "MultipartUploadIncomplete",
            MultipartUploadPartTooSmall(_) => "MultipartUploadPartTooSmall",
            DirectoryNotFound(_) => "DirectoryNotFound",
            FileNotFound(_) => "FileNotFound",
            MarkerNotFound => "MarkerNotFound",
            UploadNotFound => "UploadNotFound",
            SameNameDirectoryOrFileExists(_) => "SameNameDirectoryOrFileExists",
            UploadComplete => "UploadComplete",
            RenameTooManyTimes(_) => "RenameTooManyTimes",
            RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            ApiNotFound => "ApiNotFound",
            Custom { code, .. } => code,
            Internal(_) => "InternalServerError",
        }
    }
}

/// Renders SMH's JSON error body with a fresh request id (also in `X-Request-Id`).
/// Unconfirmed: docs/devserver-fidelity.md#smh-error-request-id
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = super::http::new_request_id();
    let body = serde_json::json!({ "code": code, "message": message, "requestId": request_id });
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

impl IntoResponse for SmhError {
    fn into_response(self) -> Response {
        if let SmhError::Internal(detail) = &self {
            tracing::error!(%detail, "smh: internal error");
        }
        error_response(self.status(), self.code(), &self.to_string())
    }
}

impl From<rusqlite::Error> for SmhError {
    fn from(e: rusqlite::Error) -> Self {
        SmhError::Internal(format!("sqlite: {e}"))
    }
}

impl From<StoreError> for SmhError {
    fn from(e: StoreError) -> Self {
        SmhError::Internal(format!("store: {e}"))
    }
}

impl From<serde_json::Error> for SmhError {
    fn from(e: serde_json::Error) -> Self {
        SmhError::Internal(format!("json: {e}"))
    }
}

pub type SmhResult<T> = Result<T, SmhError>;
