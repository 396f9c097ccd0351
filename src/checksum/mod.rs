//! Checksums of file bytes, a leaf that the services and the platform adapters share:
//! CRC-64/XZ as COS reports it ([`crc64`]) and SMH's quick-upload hashes ([`quick`]).

pub mod crc64;
/// In Rust where the platform has no SHA-256 (natively, mini-programs; and for the unit tests); a
/// page's comes from the browser ([`crate::platform::sha256`], the upload Worker).
#[cfg(any(not(target_arch = "wasm32"), feature = "miniprogram", test))]
pub mod quick;

#[cfg(any(not(target_arch = "wasm32"), feature = "miniprogram", test))]
pub use quick::{beginning_hash, ChainedHash};

/// Block size of both quick-upload hashes (docs/smh-api.md §5.8), and the smallest file quick
/// upload is attempted for.
pub const QUICK_UPLOAD_BLOCK: u64 = 1024 * 1024;

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
