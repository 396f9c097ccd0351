//! Quick-upload (秒传) hashes, exactly as docs/smh-api.md §5.8: `beginningHash` = SHA-256 of the first
//! 1 MiB; `fullHash` = chained SHA-256 over 1 MiB blocks, `h = sha256(h_raw32 ‖ block_i)`.

use sha2::{Digest, Sha256};

use super::{hex, QUICK_UPLOAD_BLOCK};

/// `beginningHash` of a file whose first `min(size, 1 MiB)` bytes are `first_block`.
pub fn beginning_hash(first_block: &[u8]) -> String {
    hex(&Sha256::digest(first_block))
}

/// Streaming `fullHash`: feed consecutive 1 MiB blocks (the last may be shorter), whole with
/// [`ChainedHash::update_block`] or in pieces of any size with [`ChainedHash::update`].
#[derive(Debug, Default, Clone)]
pub struct ChainedHash {
    state: Option<[u8; 32]>,
    /// The block being fed in pieces: its hasher and its bytes so far.
    open: Option<(Sha256, u64)>,
}

impl ChainedHash {
    pub fn new() -> ChainedHash {
        ChainedHash::default()
    }

    /// Continues a chain whose raw hash so far is `previous` (`None`: a new chain).
    pub fn resume(previous: Option<[u8; 32]>) -> ChainedHash {
        ChainedHash { state: previous, open: None }
    }

    /// The raw 32-byte hash so far, a block fed in part counting as the (short) last block;
    /// `None` before the first byte.
    pub fn raw(&self) -> Option<[u8; 32]> {
        match &self.open {
            Some((hasher, _)) => Some(hasher.clone().finalize().into()),
            None => self.state,
        }
    }

    /// Feeds the next bytes of the chain, in pieces of any size: blocks close every
    /// [`QUICK_UPLOAD_BLOCK`] bytes. Lets a caller hash a block in slices, yielding in between.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let previous = self.state;
            let (hasher, filled) = self.open.get_or_insert_with(|| {
                let mut hasher = Sha256::new();
                if let Some(prev) = &previous {
                    hasher.update(prev);
                }
                (hasher, 0)
            });
            let take = bytes.len().min((QUICK_UPLOAD_BLOCK - *filled) as usize);
            hasher.update(&bytes[..take]);
            *filled += take as u64;
            bytes = &bytes[take..];
            if *filled == QUICK_UPLOAD_BLOCK {
                self.state = self.open.take().map(|(hasher, _)| hasher.finalize().into());
            }
        }
    }

    /// Feeds the next block. Every block but the last must be exactly [`QUICK_UPLOAD_BLOCK`] bytes
    /// (and no block may be open from [`ChainedHash::update`]).
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
        self.raw().as_ref().map(|h| hex(h))
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
    fn pieces_of_any_size_give_the_chain_of_whole_blocks() {
        let data: Vec<u8> = (0..(5 << 19) + 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = ChainedHash::new();
        for block in data.chunks(QUICK_UPLOAD_BLOCK as usize) {
            whole.update_block(block);
        }
        for piece in [1000, 4096, 256 * 1024, 300_001, 1 << 20, 3 << 20] {
            let mut sliced = ChainedHash::new();
            for chunk in data.chunks(piece) {
                sliced.update(chunk);
            }
            assert_eq!(sliced.finish(), whole.finish(), "pieces of {piece} bytes");
        }
        // Continued from a previous range's raw hash, as the engine hashes a file range by range.
        let (first, rest) = data.split_at(2 << 20);
        let mut head = ChainedHash::new();
        head.update(first);
        let mut tail = ChainedHash::resume(head.raw());
        tail.update(rest);
        assert_eq!(tail.finish(), whole.finish());
    }

    #[test]
    fn one_block_full_hash_equals_beginning_hash() {
        let block = vec![7u8; 1 << 20];
        let mut full = ChainedHash::new();
        full.update_block(&block);
        assert_eq!(full.finish().unwrap(), beginning_hash(&block));
    }
}
