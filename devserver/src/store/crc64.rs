//! CRC-64/XZ, the algorithm of COS `x-cos-hash-crc64ecma` (docs/cos-api.md §3): the CRC of a byte
//! string, and the CRC of a concatenation from the CRCs of its pieces (GF(2) arithmetic, as
//! zlib's `crc32_combine`), which lets CompleteMultipartUpload report the object's CRC-64 from
//! the part CRCs stored at UploadPart time without reading a byte.
//!
//! CRC-64/XZ is reflected with polynomial `0x42F0E1EBA9EA3693` (reversed: `0xC96C5795D7870F42`)
//! and init = xorout = all ones. For such a CRC, `crc(A ‖ B) = crc(A)·x^(8·|B|) mod P ⊕ crc(B)`:
//! the init/xorout terms cancel, exactly as for zlib's CRC-32.

use std::sync::OnceLock;

/// The reversed (reflected) polynomial of CRC-64/XZ.
const POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;
/// The polynomial `1` (x⁰) in the reflected representation: the top bit.
const ONE: u64 = 1 << 63;

/// CRC-64/XZ of `bytes`.
pub fn crc64_of(bytes: &[u8]) -> u64 {
    let mut crc = crc64fast::Digest::new();
    crc.write(bytes);
    crc.sum64()
}

/// The CRC-64 of `A ‖ B` from `crc_a` = CRC of `A`, `crc_b` = CRC of `B` and `len_b` = `|B|`
/// in bytes. O(log len_b) multiplications; `combine(0, c, n) = c` (0 is the CRC of no bytes).
pub fn crc64_combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    // Shifting A by |B| bytes = multiplying by x^(8·|B|) = x^(|B|·2³).
    multiply(x_pow_2n_times(len_b, 3), crc_a) ^ crc_b
}

/// `a·b mod P` in the reflected representation (bit 63 is x⁰).
fn multiply(a: u64, mut b: u64) -> u64 {
    let mut product = 0u64;
    let mut bit = ONE;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        // b·x mod P: one step of the reflected CRC shift.
        b = if b & 1 != 0 { (b >> 1) ^ POLY_REFLECTED } else { b >> 1 };
        bit >>= 1;
    }
    product
}

/// `x^(n·2^k) mod P`, by the binary expansion of `n` over the table of `x^(2^i)`.
fn x_pow_2n_times(mut n: u64, mut k: usize) -> u64 {
    let table = x_pow_2_pow_i();
    let mut power = ONE;
    while n != 0 {
        if n & 1 != 0 {
            power = multiply(table[k], power);
        }
        n >>= 1;
        k += 1;
    }
    power
}

/// `table[i] = x^(2^i) mod P` for i in 0..128 (a u64 byte count times 2³ needs i < 67).
fn x_pow_2_pow_i() -> &'static [u64; 128] {
    static TABLE: OnceLock<[u64; 128]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0u64; 128];
        let mut power = ONE >> 1; // x¹
        for entry in table.iter_mut() {
            *entry = power;
            power = multiply(power, power);
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32).map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8).collect()
    }

    // Vectors from docs/cos-api.md §3 (verified there against crcmod).
    #[test]
    fn crc64_matches_spec_vectors() {
        let table = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
        let odd = pseudo_random(100_003, 0);
        assert_eq!(crc64_of(&odd), table.checksum(&odd), "same as the table-driven CRC of the crc crate");
        assert_eq!(crc64_of(b"123456789"), 0x995dc9bbdf1939fa);
        assert_eq!(crc64_of(b""), 0);
        assert_eq!(crc64_of(b"hello world\n"), 14969823782951187105);
        assert_eq!(crc64_of(&[0u8; 10]), 18232163685681099542);
        let mut both = vec![b'a'; 1 << 20];
        assert_eq!(crc64_of(&both), 6701094182323390671);
        both.extend(std::iter::repeat_n(b'b', 1 << 20));
        assert_eq!(crc64_of(&both), 761757173010594295);
    }

    /// Pieces of awkward lengths (0, 1, odd, a few MiB) combined in order equal the CRC of the
    /// whole, computed by the table-driven `crc` crate (independent of crc64fast).
    #[test]
    fn combined_crc_equals_whole_body_crc() {
        let table = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
        let lengths = [0usize, 1, 7, 4096, 1 << 20, 3 * (1 << 20) + 5, 0, 65_537, 2];
        let mut whole = Vec::new();
        let mut combined = 0u64;
        for (i, len) in lengths.iter().enumerate() {
            let piece = pseudo_random(*len, i as u32 * 77);
            combined = crc64_combine(combined, crc64_of(&piece), piece.len() as u64);
            whole.extend_from_slice(&piece);
        }
        assert_eq!(combined, table.checksum(&whole));
        assert_eq!(crc64_combine(crc64_of(b"hello "), crc64_of(b"world\n"), 6), 14969823782951187105);
        assert_eq!(crc64_combine(12345, 0, 0), 12345, "an empty piece changes nothing");
    }
}
