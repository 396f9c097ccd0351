//! Quick-upload (秒传) hashes computed by the server from the bytes it stores (docs/smh-api.md §5.8):
//! `beginningHash` = SHA-256 of the first MiB, `fullHash` = SHA-256 chained over 1 MiB blocks
//! (`h = sha256(block0)`, then `h = sha256(h || block_i)`), both lowercase hex.

use std::io::Read;

use ring::digest::{Context, SHA256};

/// Block size of both hashes (1 MiB).
pub const QUICK_BLOCK: usize = 1024 * 1024;
/// Smallest file quick upload applies to (every SDK skips smaller files, docs/smh-api.md §5.8).
/// Unconfirmed: docs/devserver-fidelity.md#smh-quick-min-size
pub const QUICK_MIN_SIZE: u64 = QUICK_BLOCK as u64;

/// `(beginningHash, fullHash)` of everything `reader` yields.
pub fn quick_hashes(mut reader: impl Read) -> std::io::Result<(String, String)> {
    let mut block = vec![0u8; QUICK_BLOCK];
    let mut beginning: Option<String> = None;
    let mut chained: Option<[u8; 32]> = None;
    loop {
        let n = read_full(&mut reader, &mut block)?;
        if n == 0 && chained.is_some() {
            break;
        }
        let mut hasher = Context::new(&SHA256);
        if let Some(previous) = chained {
            hasher.update(&previous);
        }
        hasher.update(&block[..n]);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(hasher.finish().as_ref());
        if beginning.is_none() {
            beginning = Some(hex::encode(digest));
        }
        chained = Some(digest);
        if n < QUICK_BLOCK {
            break;
        }
    }
    Ok((beginning.unwrap_or_default(), chained.map(hex::encode).unwrap_or_default()))
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vector of docs/smh-api.md §5.8: `bytes(range(256)) * 8192` (2 MiB).
    #[test]
    fn spec_vector() {
        let data: Vec<u8> = (0..2 * QUICK_BLOCK).map(|i| (i % 256) as u8).collect();
        let (beginning, full) = quick_hashes(&data[..]).unwrap();
        assert_eq!(beginning, "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83");
        assert_eq!(full, "1265d50fb492427896c2dbd7250cca60f30440769b086cf7e74a540a2e514744");
    }

    #[test]
    fn small_file_full_equals_beginning() {
        let (beginning, full) = quick_hashes(&b"hello"[..]).unwrap();
        assert_eq!(beginning, full);
    }
}
