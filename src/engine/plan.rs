//! Part plan: simple upload or multipart, the part size, and the parts done.
//!
//! COS limits (docs/cos-api.md §2.6): parts of 1 MiB .. 5 GiB except the last, at most 10 000
//! parts; a simple PUT holds at most 5 GiB. Per-request overhead dominates small parts
//! (docs/design.md §6), so the automatic part size is large enough to keep every connection busy
//! and small enough that a file of a few parts still spreads over all connections. Parts above
//! [`AUTO_PART_CEILING`] gain nothing on a fast link, so that is the ceiling; `cargo xtask bench`
//! (section "sweep") measures part sizes against parts in flight.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::vecmap::VecMap;

pub const MIB: u64 = 1024 * 1024;
/// COS minimum size of every part but the last.
pub const MIN_PART_SIZE: u64 = MIB;
/// COS maximum size of a part, and of a simple PUT.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// Largest part or simple upload the SDK accepts: each body is held in memory once.
pub const MAX_IN_MEMORY_BODY: u64 = 512 * MIB;
/// COS maximum number of parts.
pub const MAX_PARTS: u64 = 10_000;
/// Largest automatic part size before the 10 000-part rule forces more.
pub const AUTO_PART_CEILING: u64 = 8 * MIB;
/// Files up to this size go in one simple PUT (one request instead of begin + parts).
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 8 * MIB;

/// How to cut one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// One PUT of the whole file.
    Simple { size: u64 },
    /// Parts numbered from 1; every part but the last is `part_size` bytes.
    Multipart { size: u64, part_size: u64 },
}

impl Plan {
    /// Plans an upload of `size` bytes.
    ///
    /// `part_size`: the user's choice (validated) or `None` for automatic;
    /// `multipart_threshold`: files larger than this use multipart;
    /// `concurrency`: parts in flight, used to spread mid-size files over all connections.
    pub fn new(size: u64, part_size: Option<u64>, multipart_threshold: u64, concurrency: usize) -> Result<Plan> {
        if size <= multipart_threshold {
            if size > MAX_PART_SIZE {
                return Err(Error::invalid_input("multipartThreshold", "a simple upload holds at most 5 GiB"));
            }
            return Ok(Plan::Simple { size });
        }
        let floor = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
        let part_size = match part_size {
            Some(p) => {
                if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&p) {
                    return Err(Error::invalid_input("partSize", "must be between 1 MiB and 5 GiB"));
                }
                if size.div_ceil(p) > MAX_PARTS {
                    return Err(Error::invalid_input("partSize", "too small for this file: more than 10000 parts"));
                }
                p
            }
            None => {
                let spread = size.div_ceil(concurrency.max(1) as u64).div_ceil(MIB) * MIB;
                spread.clamp(MIN_PART_SIZE, AUTO_PART_CEILING).max(floor)
            }
        };
        if part_size > MAX_PART_SIZE {
            return Err(Error::invalid_input("file", "larger than COS allows (10000 parts of 5 GiB)"));
        }
        Ok(Plan::Multipart { size, part_size })
    }

    /// Number of parts (1 for a simple upload).
    pub fn part_count(&self) -> u32 {
        match *self {
            Plan::Simple { .. } => 1,
            Plan::Multipart { size, part_size } => size.div_ceil(part_size) as u32,
        }
    }

    /// Byte range of part `number` (1-based).
    pub fn part_range(&self, number: u32) -> Range<u64> {
        match *self {
            Plan::Simple { size } => 0..size,
            Plan::Multipart { size, part_size } => {
                let start = (number as u64 - 1) * part_size;
                start..(start + part_size).min(size)
            }
        }
    }
}

/// A part the server holds: COS acknowledged it, or listed it when the upload resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDone {
    pub number: u32,
    pub len: u64,
    /// CRC-64/XZ of its bytes.
    pub crc64: u64,
    /// The ETag COS gave it, where known (CompleteMultipartUpload of a direct-COS upload lists
    /// them; resumable records do not keep them, ListParts gives them again).
    pub etag: Option<String>,
}

/// The parts done of one upload, by number.
pub type PartsDone = VecMap<u32, PartDone>;

/// Whole-file CRC-64 from the part CRCs (in part order).
pub fn combined_crc64(parts: &PartsDone) -> u64 {
    // Combining onto 0 gives the part's own CRC (the combination is linear).
    let mut crc = 0;
    for p in parts.values() {
        crc = crate::checksum::crc64::combine(crc, p.crc64, p.len);
    }
    crc
}

/// Bytes of `parts`.
pub fn loaded(parts: &PartsDone) -> u64 {
    let mut bytes = 0;
    for p in parts.values() {
        bytes += p.len;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_up_to_threshold() {
        assert_eq!(Plan::new(0, None, 8 * MIB, 4).unwrap(), Plan::Simple { size: 0 });
        assert_eq!(Plan::new(8 * MIB, None, 8 * MIB, 4).unwrap(), Plan::Simple { size: 8 * MIB });
        assert!(matches!(Plan::new(8 * MIB + 1, None, 8 * MIB, 4).unwrap(), Plan::Multipart { .. }));
    }

    #[test]
    fn auto_part_size_spreads_and_caps() {
        // 9 MiB over 4 connections: 3 MiB parts.
        let p = Plan::new(9 * MIB, None, 8 * MIB, 4).unwrap();
        assert_eq!(p, Plan::Multipart { size: 9 * MIB, part_size: 3 * MIB });
        assert_eq!(p.part_count(), 3);
        // Large files: 8 MiB parts.
        let p = Plan::new(1024 * MIB, None, 8 * MIB, 4).unwrap();
        assert_eq!(p, Plan::Multipart { size: 1024 * MIB, part_size: 8 * MIB });
        // Huge files grow parts to stay within 10 000.
        let size = 200 * 1024 * MIB;
        let p = Plan::new(size, None, 8 * MIB, 4).unwrap();
        assert!(p.part_count() as u64 <= MAX_PARTS);
        if let Plan::Multipart { part_size, .. } = p {
            assert_eq!(part_size % MIB, 0);
        }
    }

    #[test]
    fn ranges_cover_the_file_last_part_short() {
        let p = Plan::new(2 * MIB + 1, Some(MIB), MIB, 4).unwrap();
        assert_eq!(p.part_count(), 3);
        assert_eq!(p.part_range(1), 0..MIB);
        assert_eq!(p.part_range(3), 2 * MIB..2 * MIB + 1);
    }

    #[test]
    fn user_part_size_validated() {
        assert!(Plan::new(10 * MIB, Some(MIB - 1), MIB, 4).is_err());
        assert!(Plan::new(20_000 * MIB, Some(MIB), MIB, 4).is_err());
        assert!(Plan::new(10 * MIB, Some(6 * 1024 * MIB), MIB, 4).is_err());
    }
}
