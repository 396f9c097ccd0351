//! The SMH API client: paths, tokens, request/response types and the upload calls.

pub mod api;
pub mod path;
pub mod token;
pub mod types;

pub use api::{Begin, SmhApi, SmhTarget, UploadKind};
pub use path::LibraryPath;
pub use token::{TokenProvider, Tokens};
pub use types::{Conflict, FileInfo, UploadAuth};
