//! CRC-64/XZ (COS `x-cos-hash-crc64ecma`): reflected ECMA-182 polynomial, init and xorout all
//! ones; slicing-by-8 tables built at compile time, and [`combine`] so that the whole-file CRC is
//! derived from the part CRCs without reading the file again (cos-api.md §3).

/// Reflected form of the ECMA-182 polynomial 0x42F0E1EBA9EA3693.
const POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;

const fn make_tables() -> [[u64; 256]; 8] {
    let mut tables = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY_REFLECTED } else { crc >> 1 };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
}

static TABLES: [[u64; 256]; 8] = make_tables();

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

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let t = &TABLES;
        let mut crc = self.state;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let lo = crc ^ u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            crc = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][((lo >> 24) & 0xff) as usize]
                ^ t[3][((lo >> 32) & 0xff) as usize]
                ^ t[2][((lo >> 40) & 0xff) as usize]
                ^ t[1][((lo >> 48) & 0xff) as usize]
                ^ t[0][(lo >> 56) as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ b as u64) & 0xff) as usize];
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

/// Multiplies the 64×64 GF(2) matrix `mat` by the vector `vec`.
fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 == 1 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(mat: &[u64; 64]) -> [u64; 64] {
    let mut out = [0u64; 64];
    for (n, slot) in out.iter_mut().enumerate() {
        *slot = gf2_times(mat, mat[n]);
    }
    out
}

/// CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)` (zlib's `crc32_combine`, 64-bit).
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    // Operator for one zero bit, then squared up to one zero byte.
    let mut odd = [0u64; 64];
    odd[0] = POLY_REFLECTED;
    for (n, slot) in odd.iter_mut().enumerate().skip(1) {
        *slot = 1 << (n - 1);
    }
    let mut even = gf2_square(&odd); // two zero bits
    odd = gf2_square(&even); // four zero bits
    let mut crc = crc_a;
    let mut len = len_b;
    loop {
        even = gf2_square(&odd);
        if len & 1 == 1 {
            crc = gf2_times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        odd = gf2_square(&even);
        if len & 1 == 1 {
            crc = gf2_times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    crc ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from cos-api.md §3 (verified there with crcmod against COS's definition).
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
}
