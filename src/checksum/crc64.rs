//! CRC-64/XZ (COS `x-cos-hash-crc64ecma`): reflected ECMA-182 polynomial, init and xorout all
//! ones, and [`combine`] so that the whole-file CRC is derived from the part CRCs without reading
//! the file again (docs/cos-api.md §3).
//!
//! Speed: slicing-by-16 — 16 bytes per step through 16 lookup tables, whose loads are
//! independent, so the CPU overlaps them (wasm has no carry-less multiply for a folding scheme).
//! `cargo xtask bench` (row "CRC-64") compares it with hash-wasm's crc64 on the same bytes. The
//! 32 KiB of tables are built on first use, not stored in the binary, where they would weigh on
//! the package's size budget.

use std::sync::atomic::{AtomicU8, Ordering};

/// Reflected form of the ECMA-182 polynomial 0x42F0E1EBA9EA3693.
const POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;
/// Bytes consumed per step of [`Crc64::update`]'s main loop (and number of tables).
const SLICES: usize = 16;

type Tables = [[u64; 256]; SLICES];

/// Zeroed storage (no bytes in the binary) filled once by [`tables`]. A static, not a heap box:
/// its address is a constant, so each lookup is one load at a constant offset instead of
/// needing 16 table pointers in registers.
static mut TABLES: Tables = [[0; 256]; SLICES];
/// [`TABLES`]' state: [`EMPTY`], [`FILLING`] (by one thread; the others wait) or [`FILLED`].
/// A `Once` of three values: std's `Once` is more code than this in the wasm, which runs one
/// thread per instance.
static TABLES_STATE: AtomicU8 = AtomicU8::new(EMPTY);
const EMPTY: u8 = 0;
const FILLING: u8 = 1;
const FILLED: u8 = 2;

/// `tables[0]` is the classic byte-at-a-time table; `tables[k][b]` is the CRC of byte `b`
/// followed by `k` zero bytes, so the 16 bytes of a step are looked up independently.
fn tables() -> &'static Tables {
    if TABLES_STATE.load(Ordering::Acquire) != FILLED {
        if TABLES_STATE.compare_exchange(EMPTY, FILLING, Ordering::Acquire, Ordering::Acquire).is_ok() {
            fill_tables();
            TABLES_STATE.store(FILLED, Ordering::Release);
        }
        // Another thread fills them (the loop takes microseconds; it cannot panic).
        while TABLES_STATE.load(Ordering::Acquire) != FILLED {
            std::hint::spin_loop();
        }
    }
    // SAFETY: filled (the Acquire load saw the Release store after the fill) and never
    // written again.
    unsafe { &*std::ptr::addr_of!(TABLES) }
}

fn fill_tables() {
    // SAFETY: the only write, by the one thread that moved TABLES_STATE from EMPTY to FILLING;
    // nothing reads the tables before it is FILLED.
    let tables = unsafe { &mut *std::ptr::addr_of_mut!(TABLES) };
    for (i, entry) in tables[0].iter_mut().enumerate() {
        let mut crc = i as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
        }
        *entry = crc;
    }
    for t in 1..SLICES {
        for i in 0..256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
        }
    }
}

/// Incremental CRC-64/XZ.
#[derive(Debug, Clone, Copy)]
pub struct Crc64 {
    /// The register before the final xor.
    state: u64,
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64 { state: !0 }
    }
}

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64::default()
    }

    /// Continues from a CRC returned by [`Crc64::finish`] (of the bytes before those fed next).
    pub fn resume(crc: u64) -> Crc64 {
        Crc64 { state: !crc }
    }

    /// Feeds `bytes`.
    ///
    /// Written to need no inlining: the package is built with `opt-level = "z"`, where rustc
    /// leaves small std helpers as calls; slice helpers (`chunks_exact`, `split_at`, `try_into`)
    /// would stay calls in every 16-byte step, with their results through the stack. Plain index
    /// arithmetic and unaligned loads compile to the same code at "s" and "z".
    pub fn update(&mut self, bytes: &[u8]) {
        let t = tables();
        let mut crc = self.state;
        let steps = bytes.len() / SLICES;
        let start = bytes.as_ptr();
        let mut step = 0;
        while step < steps {
            // SAFETY: `step < steps`, so the 16 bytes at `16 * step` lie within `bytes`;
            // `read_unaligned` accepts any alignment.
            let (lo, hi) = unsafe {
                let at = start.add(step * SLICES);
                (at.cast::<u64>().read_unaligned(), at.add(8).cast::<u64>().read_unaligned())
            };
            let lo = crc ^ u64::from_le(lo);
            let hi = u64::from_le(hi);
            let byte = |word: u64, k: u32| (word >> (8 * k) & 0xff) as usize;
            crc = t[15][byte(lo, 0)]
                ^ t[14][byte(lo, 1)]
                ^ t[13][byte(lo, 2)]
                ^ t[12][byte(lo, 3)]
                ^ t[11][byte(lo, 4)]
                ^ t[10][byte(lo, 5)]
                ^ t[9][byte(lo, 6)]
                ^ t[8][byte(lo, 7)]
                ^ t[7][byte(hi, 0)]
                ^ t[6][byte(hi, 1)]
                ^ t[5][byte(hi, 2)]
                ^ t[4][byte(hi, 3)]
                ^ t[3][byte(hi, 4)]
                ^ t[2][byte(hi, 5)]
                ^ t[1][byte(hi, 6)]
                ^ t[0][byte(hi, 7)];
            step += 1;
        }
        let mut at = steps * SLICES;
        while at < bytes.len() {
            crc = (crc >> 8) ^ t[0][((crc ^ bytes[at] as u64) & 0xff) as usize];
            at += 1;
        }
        self.state = crc;
    }

    /// The CRC of everything fed so far.
    pub fn finish(&self) -> u64 {
        !self.state
    }
}

/// CRC-64/XZ of `bytes`.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut crc = Crc64::new();
    crc.update(bytes);
    crc.finish()
}

/// `a(x)·b(x) mod P(x)` in the reflected representation (bit 63 is `x^0`).
fn mul_mod_p(a: u64, mut b: u64) -> u64 {
    let mut product = 0;
    let mut bit = 1u64 << 63;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
            if a & (bit - 1) == 0 {
                break;
            }
        }
        bit >>= 1;
        b = if b & 1 == 1 { (b >> 1) ^ POLY_REFLECTED } else { b >> 1 };
    }
    product
}

/// `x^(8·len) mod P(x)`: the operator that appends `len` zero bytes, by squaring `x^8`.
fn x_pow_8n(mut len: u64) -> u64 {
    let mut power = 1u64 << 55; // x^8
    let mut result = 1u64 << 63; // x^0
    while len != 0 {
        if len & 1 == 1 {
            result = mul_mod_p(power, result);
        }
        len >>= 1;
        if len != 0 {
            power = mul_mod_p(power, power);
        }
    }
    result
}

/// CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)` (zlib 1.2.12's `crc32_combine`, 64-bit):
/// `crc(A)·x^(8·len(B)) mod P ⊕ crc(B)`. A few thousand steps, so combining the parts of a
/// large file stays far below a frame on the page (a 64×64 GF(2) matrix form costs hundreds of
/// times more per part).
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    mul_mod_p(x_pow_8n(len_b), crc_a) ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from docs/cos-api.md §3 (verified there with crcmod against COS's definition).
    #[test]
    fn published_vectors() {
        assert_eq!(checksum(b"123456789"), 11051210869376104954);
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(b"hello world\n"), 14969823782951187105);
        assert_eq!(checksum(&[0u8; 10]), 18232163685681099542);
        assert_eq!(checksum(&vec![b'a'; 1 << 20]), 6701094182323390671);
        assert_eq!(checksum(&vec![b'b'; 1 << 20]), 4085814139916291200);
    }

    #[test]
    fn combine_matches_direct() {
        assert_eq!(combine(6701094182323390671, 4085814139916291200, 1 << 20), 761757173010594295);
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for split in [0usize, 1, 7, 8, 9, 4096, 99_999, 100_003] {
            let (a, b) = data.split_at(split);
            assert_eq!(combine(checksum(a), checksum(b), b.len() as u64), checksum(&data), "split {split}");
        }
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut crc = Crc64::new();
        for chunk in data.chunks(333) {
            crc.update(chunk);
        }
        assert_eq!(crc.finish(), checksum(&data));
    }

    /// Bit-at-a-time definition, the reference the table-driven code must equal.
    fn bitwise(bytes: &[u8]) -> u64 {
        let mut crc = !0u64;
        for &b in bytes {
            crc ^= b as u64;
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn random_lengths_match_the_bitwise_definition() {
        // xorshift bytes; lengths around every slicing boundary and a few larger ones.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let data: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let lengths = (0..=40).chain([63, 64, 65, 255, 256, 257, 4095, 4097, 65_537, 70_000]);
        for len in lengths {
            for offset in [0usize, 1, 3, 8] {
                let bytes = &data[offset..offset + len.min(data.len() - offset)];
                assert_eq!(checksum(bytes), bitwise(bytes), "length {} at offset {offset}", bytes.len());
            }
        }
    }

    #[test]
    fn resume_continues_a_finished_crc() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 256) as u8).collect();
        let (a, b) = data.split_at(333);
        let mut crc = Crc64::resume(checksum(a));
        crc.update(b);
        assert_eq!(crc.finish(), checksum(&data));
    }
}
