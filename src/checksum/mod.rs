//! Checksums of file bytes, a leaf that the services and the platform adapters share:
//! CRC-64/XZ as COS reports it ([`crc64`]) and SMH's quick-upload hashes ([`quick`]).

pub mod crc64;
pub mod quick;

pub use quick::{beginning_hash, ChainedHash, QUICK_UPLOAD_BLOCK};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}
