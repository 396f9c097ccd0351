//! The COS data path: the upload-domain allow-list, PUT of objects and parts, COS error XML, and
//! CRC-64/XZ with combine.

pub mod api;
pub mod crc64;
pub mod credentials;
pub mod domain;
pub mod put;
pub mod sign;
pub mod xml;
