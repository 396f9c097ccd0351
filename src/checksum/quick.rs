//! Quick-upload (秒传) hashes, exactly as docs/smh-api.md §5.8: `beginningHash` = SHA-256 of the first
//! 1 MiB; `fullHash` = chained SHA-256 over 1 MiB blocks, `h = sha256(h_raw32 ‖ block_i)`.

use sha2::{Digest, Sha256};

use super::hex;

/// Block size of both hashes, and the smallest file quick upload is attempted for.
pub const QUICK_UPLOAD_BLOCK: u64 = 1024 * 1024;

/// `beginningHash` of a file whose first `min(size, 1 MiB)` bytes are `first_block`.
pub fn beginning_hash(first_block: &[u8]) -> String {
    hex(&Sha256::digest(first_block))
}

/// Streaming `fullHash`: feed consecutive 1 MiB blocks (the last may be shorter).
#[derive(Debug, Default, Clone)]
pub struct ChainedHash {
    state: Option<[u8; 32]>,
}

impl ChainedHash {
    pub fn new() -> ChainedHash {
        ChainedHash::default()
    }

    /// Continues a chain whose raw hash so far is `previous` (`None`: a new chain).
    pub fn resume(previous: Option<[u8; 32]>) -> ChainedHash {
        ChainedHash { state: previous }
    }

    /// The raw 32-byte hash so far; `None` before the first block.
    pub fn raw(&self) -> Option<[u8; 32]> {
        self.state
    }

    /// Feeds the next block. Every block but the last must be exactly [`QUICK_UPLOAD_BLOCK`] bytes.
    pub fn update_block(&mut self, block: &[u8]) {
        let mut hasher = Sha256::new();
        if let Some(prev) = &self.state {
            hasher.update(prev);
        }
        hasher.update(block);
        self.state = Some(hasher.finalize().into());
    }

    /// Hex of the chained hash; `None` before the first block.
    pub fn finish(&self) -> Option<String> {
        self.state.as_ref().map(|h| hex(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector from docs/smh-api.md §5.8: bytes(range(256)) * 8192 (2 MiB).
    #[test]
    fn spec_vector() {
        let data: Vec<u8> = (0..(2 << 20)).map(|i| (i % 256) as u8).collect();
        let (first, second) = data.split_at(1 << 20);
        assert_eq!(beginning_hash(first), "fbbab289f7f94b25736c58be46a994c441fd02552cc6022352e3d86d2fab7c83");
        let mut full = ChainedHash::new();
        full.update_block(first);
        full.update_block(second);
        assert_eq!(full.finish().as_deref(), Some("1265d50fb492427896c2dbd7250cca60f30440769b086cf7e74a540a2e514744"));
    }

    #[test]
    fn one_block_full_hash_equals_beginning_hash() {
        let block = vec![7u8; 1 << 20];
        let mut full = ChainedHash::new();
        full.update_block(&block);
        assert_eq!(full.finish().unwrap(), beginning_hash(&block));
    }
}
