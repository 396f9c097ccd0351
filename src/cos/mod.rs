//! The COS data path: the upload-domain allow-list, request signing and temporary credentials,
//! PUT of objects and parts, the multipart calls of direct uploads, COS error XML.

pub mod api;
pub mod credentials;
pub mod domain;
pub mod put;
pub mod sign;
pub mod xml;
