// smh-upload's hashing Worker: computes the CRC-64 of each part and the quick-upload hashes off
// the page's main thread, reading the same Blob slices the page sends (a Blob crosses
// postMessage by reference, not by copy). Started by the page side (src/platform/browser/
// adapters.js, in each entry's glue); see src/platform/browser/worker.rs for the whole design.
//
// Kernels: CRC-64 in the page's own compiled WebAssembly.Module (posted once, so nothing is
// fetched or compiled twice), instantiated here without wasm-bindgen's glue — the raw
// `smh_worker_*` exports (src/bindings/worker.rs) call no import, so every import is a stub that
// throws. SHA-256 goes to WebCrypto where it exists and to JavaScript where it does not (pages
// served over plain http from a non-loopback host): `chainHash`, `chunks`, `readPiece` and
// `sha256` come from src/platform/browser/sha256.js, which `cargo xtask pkg` puts at the head of
// this file (the page's fallback runs the same code).
//
// Protocol. In: `{module}` once, then `{id, op: 'crc64', blob}` or
// `{id, op: 'chain', blob, previous: Uint8Array(32) | null, via: 'auto' | 'worker' | 'js', key,
// next, nextKey}` (WebCrypto where it exists for all but 'js') or `{id, op: 'memory'}`. Out:
// `{ready: true}` or `{failed: message}` once, then
// `{id, value}` / `{id, error: {name, message}}` per request, in any order.
//
// Jobs run side by side: the page sends one CRC-64 request per part in flight, and each must be
// done by the time its PUT is (the engine holds the part's slot until both are), so reads of
// several parts overlap (one at a time, the Worker's reads were the upload's bottleneck: 40–300 ms
// per 8 MiB while the network read the same file). Each job reads its Blob in chunks with one
// read ahead; a chunk is copied into the one wasm buffer and hashed in the same synchronous step,
// so jobs share that buffer. The Worker holds at most two chunks per CRC job in flight: with the
// engine's one job per part in flight, at most 2 × CHUNK × concurrency bytes, whatever the file.
// A chained hash keeps CHAIN_AHEAD + 1 chunks in flight and starts the first CHAIN_AHEAD of the
// request the page names as next (20 MiB at most), whatever the file.

/** Bytes read per step (and the size of the wasm buffer): few, large reads are fastest. */
const CHUNK = 4 * 1024 * 1024;
/** Reads of a chained hash in flight beyond the one being hashed: the digests are sequential, so
 *  reading ahead is the only overlap, and two large reads ahead keep the digest from waiting on
 *  the file (`cargo xtask bench --only hash`). */
const CHAIN_AHEAD = 2;
/** How long the first reads of a hinted next request are kept for it (a paused hash drops them). */
const HINT_TTL_MS = 5000;

let kernel = null; // Promise of {exports, at}: the instance and its buffer's address

self.onmessage = ({ data }) => {
  if (data && data.module) {
    kernel = instantiate(data.module);
    kernel.then(() => self.postMessage({ ready: true }), e => self.postMessage({ failed: describe(e).message }));
    return;
  }
  const { id } = data;
  run(data).then(value => self.postMessage({ id, value }), e => self.postMessage({ id, error: describe(e) }));
};

function describe(e) {
  return { name: (e && e.name) || 'Error', message: String((e && e.message) || e) };
}

async function instantiate(module) {
  const imports = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== 'function') throw new Error(`the wasm imports a ${kind} (${from}.${name}); the Worker supports functions only`);
    (imports[from] ??= {})[name] = () => {
      throw new Error(`${name} is not available in the upload Worker`);
    };
  }
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports;
  for (const name of ['smh_worker_alloc', 'smh_worker_crc64']) {
    if (typeof exports[name] !== 'function') throw new Error(`the wasm lacks ${name}`);
  }
  const at = exports.smh_worker_alloc(CHUNK);
  if (!at) throw new Error('no wasm memory for the Worker buffer');
  return { exports, at };
}

async function run(request) {
  switch (request.op) {
    case 'crc64':
      return crc64(request.blob);
    case 'chain':
      return chain(request);
    case 'memory': {
      const { exports } = await kernel;
      return exports.memory.buffer.byteLength;
    }
    default:
      throw new Error(`unknown request ${request.op}`);
  }
}

/** The first reads of `blob` (pieces of `size`), at most `count`. */
function firstReads(blob, size, count) {
  const reads = [];
  for (let start = 0; start < blob.size && reads.length < count; start += size) reads.push(readPiece(blob, start, size));
  return reads;
}

// Reads started for the request the page said comes next (key → {reads, timer}): the engine
// hashes a file in requests of a few MiB, and without them each request would begin with a read
// that nothing overlaps. The key names a range of one file on the page (never reused for other
// bytes), so bytes read ahead are only used for that range.
const hinted = new Map();

function takeHinted(key) {
  const entry = key != null && hinted.get(key);
  if (!entry) return [];
  hinted.delete(key);
  clearTimeout(entry.timer);
  return entry.reads;
}

function hint(key, blob) {
  if (key == null || !blob || blob.size === 0 || hinted.has(key)) return;
  const timer = setTimeout(() => hinted.delete(key), HINT_TTL_MS);
  hinted.set(key, { reads: firstReads(blob, CHUNK, CHAIN_AHEAD), timer });
}

/** CRC-64/XZ of `blob`, as a decimal string (a u64 does not fit a JS number). */
async function crc64(blob) {
  const { exports, at } = await kernel;
  let crc = 0n;
  for await (const bytes of chunks(blob, CHUNK)) {
    new Uint8Array(exports.memory.buffer, at, bytes.length).set(bytes);
    crc = exports.smh_worker_crc64(crc, at, bytes.length);
  }
  return BigInt.asUintN(64, crc).toString(); // i64 results arrive signed
}

/** The chained SHA-256 over the 1 MiB blocks of `blob`, continuing from `previous`; reads of
 *  `next` (the page's next request, `nextKey`) start once `blob`'s last read has. */
function chain({ blob, previous, via, key, next, nextKey }) {
  const pieces = chunks(blob, CHUNK, CHAIN_AHEAD, takeHinted(key), () => hint(nextKey, next));
  return chainHash(pieces, previous, via !== 'js' && self.crypto?.subtle);
}
