// SHA-256 where a page has no WebCrypto, and the quick-upload chain (docs/smh-api.md §5.8) over a
// Blob's bytes, for the page and the upload Worker alike. wasm-bindgen copies this file to
// pkg/snippets/…/src/platform/browser/ (the page's glue imports it: src/platform/browser/sha256.rs),
// and `cargo xtask pkg` puts it at the head of pkg/smh_upload_worker.js (the Worker uses
// `chainHash`, `chunks` and `readPiece`), so the two run the same code.
//
// `crypto.subtle` exists only in secure contexts: a page served over plain http from a host other
// than loopback has none, in the page or in its Worker. The browser's wasm carries no SHA-256;
// there the hashes are computed by `sha256` below, in JavaScript, which every browser compiles.

/** Quick-upload block (docs/smh-api.md §5.8): h_i = SHA-256(h_{i-1} ‖ block_i). */
const BLOCK = 1024 * 1024;

// The round constants and the initial hash (FIPS 180-4 §4.2.2, §5.3.3): the first 32 bits of the
// fractional parts of the cube roots of the first 64 primes and of the square roots of the first
// 8. Computed rather than listed: the doubles hold them with a wide margin (every such fraction
// is at least 2^-39 from the next multiple of 2^-32, Math.cbrt's error is near 2^-50).
const K = new Int32Array(64);
const IV = new Int32Array(8);
const W = new Int32Array(64);
const fraction32 = x => (x - Math.floor(x)) * 2 ** 32;
for (let n = 2, i = 0; i < 64; n++) {
  let d = 2;
  while (n % d) d++;
  if (d === n) {
    if (i < 8) IV[i] = fraction32(Math.sqrt(n));
    K[i++] = fraction32(Math.cbrt(n));
  }
}

/** Runs the 64-byte blocks of `bytes[0, end)` through the state `h` (FIPS 180-4 §6.2.2). */
function compress(h, bytes, end) {
  // Locals, not the arrays' elements, in the loops: about a third faster in V8.
  const w = W;
  let a0 = h[0], b0 = h[1], c0 = h[2], d0 = h[3], e0 = h[4], f0 = h[5], g0 = h[6], k0 = h[7];
  for (let at = 0; at < end; at += 64) {
    for (let t = 0; t < 16; t++) {
      const i = at + 4 * t;
      w[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      w[t] = ((((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3))
        + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 7] + w[t - 16]) | 0;
    }
    let a = a0, b = b0, c = c0, d = d0, e = e0, f = f0, g = g0, k = k0;
    for (let t = 0; t < 64; t++) {
      const t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
        + (g ^ (e & (f ^ g))) + K[t] + w[t]) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10)))
        + ((a & b) | (c & (a | b)))) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
    e0 = (e0 + e) | 0;
    f0 = (f0 + f) | 0;
    g0 = (g0 + g) | 0;
    k0 = (k0 + k) | 0;
  }
  h.set([a0, b0, c0, d0, e0, f0, g0, k0]);
}

/** SHA-256 of `bytes` (a Uint8Array), as a Uint8Array(32). */
export function sha256(bytes) {
  const h = IV.slice();
  const length = bytes.length;
  const whole = length - (length % 64);
  compress(h, bytes, whole);
  // The last bytes, 0x80, zeros and the length in bits (big-endian 64-bit) fill one or two blocks.
  const tail = new Uint8Array(length % 64 < 56 ? 64 : 128);
  tail.set(bytes.subarray(whole));
  tail[length % 64] = 0x80;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, length / 2 ** 29);
  view.setUint32(tail.length - 4, length << 3);
  compress(h, tail, tail.length);
  const digest = new DataView(new ArrayBuffer(32));
  h.forEach((word, i) => digest.setInt32(4 * i, word));
  return new Uint8Array(digest.buffer);
}

/** The page's glue: `out` (32 bytes of wasm memory) = SHA-256 of `bytes` (checkpoint keys). */
export function smhSha256(bytes, out) {
  out.set(sha256(bytes));
}

/** A read of `blob`'s bytes [start, start + size), checked for length (a file that changed). */
export function readPiece(blob, start, size) {
  const end = Math.min(start + size, blob.size);
  const promise = blob.slice(start, end).arrayBuffer().then(buffer => {
    if (buffer.byteLength !== end - start) {
      throw Object.assign(new Error(`read ${buffer.byteLength} bytes at ${start}, expected ${end - start}; the file changed`), { name: 'NotReadableError' });
    }
    return new Uint8Array(buffer);
  });
  promise.catch(() => {}); // a read ahead the consumer never awaits must not be "unhandled"
  return promise;
}

/** The bytes of `blob` in pieces of `size`, `ahead` reads in flight beyond the one used;
 *  `started` are reads of its first pieces already under way; `allIssued` runs once its last
 *  read is started. */
export async function* chunks(blob, size, ahead = 1, started = [], allIssued = () => {}) {
  const reads = started.slice();
  let next = reads.length * size;
  let issued = false;
  const fill = () => {
    while (reads.length <= ahead && next < blob.size) {
      reads.push(readPiece(blob, next, size));
      next += size;
    }
    if (next >= blob.size && !issued) {
      issued = true;
      allIssued();
    }
  };
  fill();
  while (reads.length) {
    const bytes = await reads.shift();
    fill();
    yield bytes;
  }
}

/** The chained SHA-256 (docs/smh-api.md §5.8) over the 1 MiB blocks of the bytes `pieces`
 *  yields (any lengths, in order), continuing from `previous` (32 bytes, or null: a new chain).
 *  Each block goes to WebCrypto's `subtle` when given, else to `sha256`. Resolves with a
 *  Uint8Array(32); rejects (NotReadableError) when there is no byte to hash. */
export async function chainHash(pieces, previous, subtle) {
  const input = new Uint8Array(32 + BLOCK); // previous ‖ block
  let hash = previous ? new Uint8Array(previous) : null;
  let filled = 0; // bytes of the current block in `input`, after its 32-byte prefix
  let hashed = false;
  const digest = async () => {
    const skip = hash ? 0 : 32; // the first block of a chain has no previous hash
    if (hash) input.set(hash);
    const bytes = input.subarray(skip, 32 + filled);
    // digest() copies its input before returning, so `input` is reused at once.
    hash = new Uint8Array(subtle ? await subtle.digest('SHA-256', bytes) : sha256(bytes));
    filled = 0;
    hashed = true;
  };
  for await (const bytes of pieces) {
    for (let offset = 0; offset < bytes.length; ) {
      const take = Math.min(BLOCK - filled, bytes.length - offset);
      input.set(bytes.subarray(offset, offset + take), 32 + filled);
      filled += take;
      offset += take;
      if (filled === BLOCK) await digest();
    }
  }
  if (filled > 0) await digest();
  if (!hashed) throw Object.assign(new Error('no bytes to hash'), { name: 'NotReadableError' });
  return hash;
}

/** The page's glue, where the upload Worker cannot run: the chain of `blob` after `previous`
 *  (Uint8Array(32) or undefined), read 1 MiB at a time; `js`: SHA-256 in JavaScript even where
 *  WebCrypto exists (the browser tests' way to check it). */
export function smhPageChainHash(blob, previous, js) {
  return chainHash(chunks(blob, BLOCK), previous, !js && globalThis.crypto?.subtle);
}
