// The page of `cargo xtask bench` (xtask/src/bench_upload.rs): every measurement of the report,
// in one Chromium, against one devserver, on the same disk-backed files. Files are written to the
// Origin Private File System, so uploads read them from disk like a user's file. Each result is
// one console line `BENCH {json}`; the last is `BENCH {"done":true}` (or `{"error":…}`).
//
// Query: `sizes` (upload file sizes, comma-separated bytes), `memSizes` (two sizes for the
// memory row), `cryptoSize` (bytes for the CRC/hash rows), `sections` (comma list of upload,
// hash, crc, memory, sweep), the devserver's fields (smh, cos, libraryId, spaceId, secretId,
// secretKey, bucket, region), and for `cargo xtask bench --baseline REV`: `baseline=1` (another
// commit's package is served at /pkg/baseline/) and `abRounds` (rounds of each A/B row).
//
// With a baseline, both packages run in this page, one instance each: the SmhClient and
// CosUploader uploads, the quick-upload hash and the CRC-64 kernel alternate between them round
// by round (the order flips every round, so a drift in the machine's load favours neither), each
// a `{kind: 'ab', row, impl: 'ours' | 'baseline', round, …}` line; the memory rows alternate
// too, as `{kind: 'memory', impl, round, …}`. Before the timed rows both packages run each
// kind of upload once, unmeasured (`warmUp`).
import init, { SmhClient, CosUploader } from '/pkg/smh_upload.js';
import { createCRC64, createSHA256 } from '/hash-wasm.esm.js';

const q = new URLSearchParams(location.search);
const report = o => console.log('BENCH ' + JSON.stringify(o));
const MIB = 1 << 20;
const BLOCK = MIB; // quick-upload block
/** Our defaults, which cos-js-sdk-v5 and the raw loop are also run at. */
const OURS = { partSize: 8 * MIB, concurrency: 6 };
const sizes = (q.get('sizes') || `${256 * MIB},${1024 * MIB}`).split(',').map(Number);
const memSizes = (q.get('memSizes') || `${256 * MIB},${2048 * MIB}`).split(',').map(Number);
const cryptoSize = Number(q.get('cryptoSize') || 256 * MIB);
const sections = new Set((q.get('sections') || 'crc,hash,upload,memory,sweep').split(','));
const abRounds = q.get('baseline') === '1' ? Number(q.get('abRounds') || 4) : 0;

// ---- instruments -------------------------------------------------------------------------

const longTasks = [];
try {
  new PerformanceObserver(list => longTasks.push(...list.getEntries())).observe({ type: 'longtask', buffered: true });
} catch {
  report({ note: 'no longtask observer in this browser' });
}
performance.setResourceTimingBufferSize(100_000);
let workerSeen = false; // the Worker's script was fetched: uploads hashed off the main thread
let baselineWorkerSeen = false; // the same for the baseline's package
new PerformanceObserver(list => {
  for (const e of list.getEntries().filter(e => e.name.includes('smh_upload_worker.js'))) {
    if (e.name.includes('/pkg/baseline/')) baselineWorkerSeen = true;
    else workerSeen = true;
  }
}).observe({ type: 'resource', buffered: true });
let wasm; // our instance's exports (memory, raw kernels)
/** The packages this page runs: ours, and with `baseline=1` the baseline's, each
 *  `{impl, SmhClient, CosUploader, wasm}`. */
let impls = [];

/** Runs `work`, returning {seconds, longTasks, longest, firstPutMs, peakHeap, wasmBytes} (the
 *  linear memory of `instance`'s wasm). */
async function measure(work, instance = wasm) {
  globalThis.gc?.();
  performance.clearResourceTimings();
  const heapBase = performance.memory?.usedJSHeapSize ?? 0;
  let peakHeap = heapBase;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, performance.memory?.usedJSHeapSize ?? 0)), 20);
  const t0 = performance.now();
  const result = await work();
  const t1 = performance.now();
  clearInterval(sampler);
  const during = longTasks.filter(t => t.startTime >= t0 && t.startTime < t1 && t.duration > 50);
  // Part PUTs (multipart uploads) to the COS origin: their start is the first byte on the wire.
  const cosHost = q.get('cos');
  const puts = performance.getEntriesByType('resource').filter(e => e.name.includes(cosHost) && e.name.includes('partNumber=') && e.startTime >= t0);
  // Requests to SMH's file API after the call (a quick upload's begin calls), in order.
  const smhHost = q.get('smh').replace(/^https?:\/\//, '');
  const smhCalls = performance.getEntriesByType('resource').filter(e => e.name.includes(smhHost) && e.startTime >= t0).map(e => e.startTime - t0).sort((a, b) => a - b);
  return {
    result,
    seconds: (t1 - t0) / 1000,
    smhCalls,
    // The call → the last part's reply: what the uploader itself takes to send the bytes, apart
    // from the server's completion (assembling the parts), which no client can speed up.
    partsSeconds: puts.length ? (Math.max(...puts.map(e => e.responseEnd)) - t0) / 1000 : null,
    longTasks: during.length,
    longest: Math.round(Math.max(0, ...during.map(t => t.duration))),
    firstPutMs: puts.length ? Math.min(...puts.map(e => e.startTime)) - t0 : null,
    heapGrowth: peakHeap - heapBase,
    heapBase,
    wasmBytes: instance.memory.buffer.byteLength,
  };
}

// ---- files -------------------------------------------------------------------------------

/** A disk-backed File of `size` pseudo-random bytes (the same bytes in every run). */
async function makeFile(name, size) {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(name, { create: true });
  const existing = await handle.getFile();
  if (existing.size === size) return existing;
  const writable = await handle.createWritable();
  const chunk = new Uint32Array(2 * MIB); // 8 MiB
  let x = 0x9e3779b9;
  for (let off = 0; off < size; off += chunk.byteLength) {
    for (let i = 0; i < chunk.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      chunk[i] = x;
    }
    await writable.write(new Uint8Array(chunk.buffer, 0, Math.min(chunk.byteLength, size - off)));
  }
  await writable.close();
  return handle.getFile();
}

const fileOf = size => makeFile(`bench-${size}.bin`, size);

// ---- uploaders ---------------------------------------------------------------------------

async function token() {
  const r = await fetch('/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  return (await r.json()).accessToken;
}

/** A client with its token; the upload itself is timed apart, as cos-js-sdk-v5's is. */
/** Client options of the hash rows: the full hash is never raced by the parts (10 min). */
const HASH_ALONE = { quickUploadWait: 600_000 };

async function smhClient(options = {}, Client = SmhClient) {
  return new Client({
    baseUrl: q.get('smh'), libraryId: q.get('libraryId'), spaceId: q.get('spaceId'),
    accessToken: await token(), allowedDomains: [q.get('cos')], checkpoints: 'none', ...options,
  });
}

function smhUpload(client, file, key, uploadOptions = {}) {
  return client.upload(file, key, { quickUpload: false, conflict: 'overwrite', ...uploadOptions }).done();
}

/** A CosUploader (`Uploader`: ours or the baseline's) whose keys are fetched before, so that
 *  no timed upload waits on the backend. */
async function cosUploader(Uploader) {
  const r = await fetch('/credentials', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"durationSeconds":7200}' });
  if (!r.ok) throw new Error(`POST /credentials: ${r.status}`);
  const keys = await r.json();
  return new Uploader({ bucket: q.get('bucket'), region: q.get('region'), domain: q.get('cos'), getCredentials: async () => keys, checkpoints: 'none' });
}

function cosClient(options = {}) {
  return new COS({ SecretId: q.get('secretId'), SecretKey: q.get('secretKey'), Domain: q.get('cos'), Protocol: 'http:', ...options });
}

function cosUpload(file, key, options) {
  const cos = cosClient(options);
  return new Promise((resolve, reject) => cos.sliceUploadFile(
    { Bucket: q.get('bucket'), Region: q.get('region'), Key: key, Body: file },
    (err, data) => (err ? reject(new Error(JSON.stringify(err))) : resolve(data)),
  ));
}

/** The ceiling: the same parts PUT by `fetch` (Blob slices, no hashing), `concurrency` at a
 *  time, into one multipart upload (opened and aborted around the timed loop's PUTs). */
async function rawUpload(file, key, { partSize, concurrency }) {
  const cos = cosClient();
  const params = { Bucket: q.get('bucket'), Region: q.get('region'), Key: key };
  const init = await new Promise((resolve, reject) => cos.multipartInit(params, (e, d) => (e ? reject(new Error(JSON.stringify(e))) : resolve(d))));
  const uploadId = init.UploadId;
  let next = 0;
  const parts = Math.ceil(file.size / partSize);
  const worker = async () => {
    while (next < parts) {
      const n = next++;
      const query = { partNumber: String(n + 1), uploadId };
      const auth = COS.getAuthorization({ SecretId: q.get('secretId'), SecretKey: q.get('secretKey'), Method: 'PUT', Key: key, Query: query });
      const url = `http://${q.get('cos')}/${key}?partNumber=${n + 1}&uploadId=${encodeURIComponent(uploadId)}`;
      const body = file.slice(n * partSize, Math.min(file.size, (n + 1) * partSize));
      const r = await fetch(url, { method: 'PUT', body, headers: { Authorization: auth } });
      if (!r.ok) throw new Error(`raw PUT part ${n + 1}: ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await new Promise(resolve => cos.multipartAbort({ ...params, UploadId: uploadId }, () => resolve()));
}

// ---- hashing -----------------------------------------------------------------------------

/** hash-wasm's SHA-256, chained per 1 MiB block as docs/smh-api.md §5.8, reading 8 MiB at a time. */
async function hashWasmChain(file) {
  const sha = await createSHA256();
  let prev = null;
  for (let off = 0; off < file.size; off += 8 * MIB) {
    const bytes = new Uint8Array(await file.slice(off, Math.min(file.size, off + 8 * MIB)).arrayBuffer());
    for (let b = 0; b < bytes.length; b += BLOCK) {
      sha.init();
      if (prev) sha.update(prev);
      sha.update(bytes.subarray(b, b + BLOCK));
      prev = sha.digest('binary');
    }
  }
  return prev;
}

/** The bare WebCrypto loop: digest(previous ‖ block) per 1 MiB block. */
async function webCryptoChain(file) {
  let prev = null;
  for (let off = 0; off < file.size; off += BLOCK) {
    const slice = file.slice(off, Math.min(file.size, off + BLOCK));
    const input = await (prev ? new Blob([prev, slice]) : slice).arrayBuffer();
    prev = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  }
  return prev;
}

/** Runs one measurement; a failure is reported as that row's result (`failed`), and the bench
 *  goes on: one bad row must not cost the whole run. */
async function row(fields, work) {
  try {
    report({ ...fields, ...(await work()) });
  } catch (e) {
    report({ ...fields, failed: String((e && e.message) || e).slice(0, 200) });
  }
}

const hex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');

// ---- sections ----------------------------------------------------------------------------

const CRC_CHUNK = 8 * MIB;

/** The CRC-64 of `bytes` by the raw kernel of the wasm `instance`, 8 MiB at a time (a closure:
 *  its buffer in the instance's memory is reserved once). */
function crcKernel(instance, bytes) {
  const at = instance.smh_worker_alloc(CRC_CHUNK);
  return () => {
    let crc = 0n;
    for (let off = 0; off < bytes.length; off += CRC_CHUNK) {
      const piece = bytes.subarray(off, off + CRC_CHUNK);
      new Uint8Array(instance.memory.buffer, at, piece.length).set(piece);
      crc = instance.smh_worker_crc64(crc, at, piece.length);
    }
    return BigInt.asUintN(64, crc).toString(16).padStart(16, '0');
  };
}

function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let off = 0; off < bytes.length; off += 65536) crypto.getRandomValues(bytes.subarray(off, off + 65536));
  return bytes;
}

async function crcSection() {
  const bytes = randomBytes(cryptoSize);
  const chunk = CRC_CHUNK;
  const ours = crcKernel(wasm, bytes);
  const hasher = await createCRC64();
  const peer = () => {
    hasher.init();
    for (let off = 0; off < bytes.length; off += chunk) hasher.update(bytes.subarray(off, off + chunk));
    return hasher.digest('hex');
  };
  const best = { ours: Infinity, peer: Infinity };
  let values = {};
  for (let round = 0; round < 3; round++) {
    for (const [name, f] of [['ours', ours], ['peer', peer]]) {
      const t0 = performance.now();
      values[name] = f();
      best[name] = Math.min(best[name], (performance.now() - t0) / 1000);
    }
  }
  if (values.ours !== values.peer) throw new Error(`CRC-64 differs: ours ${values.ours}, hash-wasm ${values.peer}`);
  report({ kind: 'crc', bytes: bytes.length, ours: best.ours, peer: best.peer });
}

async function hashSection() {
  const file = await fileOf(cryptoSize);
  // Ours: the full hash of a quick upload that hits (the file is uploaded once first). The hash
  // runs alone however long it takes (`quickUploadWait`), as the row times the hash: with the
  // default 1 s a loaded machine would start the parts beside it and they could win the race.
  const client = await smhClient(HASH_ALONE);
  await smhUpload(client, file, 'bench/hash-seed.bin');
  const ours = await measure(() => smhUpload(client, file, 'bench/hash-again.bin', { quickUpload: true }));
  if (!ours.result.instant) throw new Error('the quick upload did not hit; the hash row would time an upload');
  const wasmPeer = await measure(() => hashWasmChain(file));
  const subtle = await measure(() => webCryptoChain(file));
  if (hex(wasmPeer.result) !== hex(subtle.result)) throw new Error('hash-wasm and WebCrypto chains differ');
  // The hashing: the call → the second SMH call, after the begin that answered 202 (the check
  // that the path is free, sent once the full hash is known, then the begin carrying it). What follows is the server creating the file: the
  // devserver copies the stored object, which real SMH need not do.
  if (ours.smhCalls.length < 2) throw new Error(`expected two begin calls, saw ${ours.smhCalls.length}`);
  report({
    kind: 'hash', bytes: file.size,
    ours: ours.seconds, oursHashing: ours.smhCalls[1] / 1000, oursLongTasks: ours.longTasks, oursLongest: ours.longest,
    hashWasm: wasmPeer.seconds, hashWasmLongTasks: wasmPeer.longTasks,
    webCrypto: subtle.seconds, webCryptoLongTasks: subtle.longTasks,
  });
}

async function uploadSection() {
  for (const size of sizes) {
    const file = await fileOf(size);
    const client = await smhClient();
    const runs = [
      ['smh-upload', 'defaults', () => smhUpload(client, file, `bench/smh-${size}.bin`)],
      ['cos-js-sdk-v5', 'defaults', () => cosUpload(file, `bench/cos-${size}.bin`, {})],
      ['cos-js-sdk-v5', 'at ours', () => cosUpload(file, `bench/cos-ours-${size}.bin`, { ChunkSize: OURS.partSize, ChunkParallelLimit: OURS.concurrency })],
      ['raw fetch', 'at ours', () => rawUpload(file, `bench/raw-${size}.bin`, OURS)],
    ];
    for (const [client, config, run] of runs) {
      await row({ kind: 'upload', bytes: size, client, config }, async () => {
        const m = await measure(run);
        return { seconds: m.seconds, partsSeconds: m.partsSeconds, longTasks: m.longTasks, longest: m.longest, firstPutMs: m.firstPutMs };
      });
    }
  }
}

/** Part size × concurrency, to choose the defaults (docs/design.md §6): smh-upload at each, and the
 *  raw loop at the two largest. */
async function sweepSection() {
  const file = await fileOf(sizes[0]);
  const client = c => smhClient({ partSize: c[0] * MIB, concurrency: c[1] });
  for (const c of [[1, 3], [4, 4], [8, 4], [8, 6], [8, 8], [16, 4], [16, 6]]) {
    const ours = await client(c);
    await row({ kind: 'sweep', bytes: file.size, client: 'smh-upload', partMiB: c[0], concurrency: c[1] }, async () => {
      const m = await measure(() => smhUpload(ours, file, 'bench/sweep.bin'));
      return { seconds: m.seconds, partsSeconds: m.partsSeconds };
    });
  }
  for (const c of [[8, 4], [8, 6], [16, 6]]) {
    await row({ kind: 'sweep', bytes: file.size, client: 'raw fetch', partMiB: c[0], concurrency: c[1] }, async () => {
      const m = await measure(() => rawUpload(file, 'bench/sweep-raw.bin', { partSize: c[0] * MIB, concurrency: c[1] }));
      return { seconds: m.seconds, partsSeconds: m.partsSeconds };
    });
  }
}

/** One upload per size (without a baseline), or `abRounds` per package: the first is ours, so
 *  ours' first line is the one a run without a baseline makes. */
async function memorySection() {
  for (const size of memSizes) {
    const file = await fileOf(size);
    const clients = new Map();
    for (const impl of impls) clients.set(impl, await smhClient({}, impl.SmhClient));
    await alternate({ kind: 'memory', bytes: size }, Math.max(abRounds, 1), async impl => {
      const m = await measure(() => smhUpload(clients.get(impl), file, `bench/mem-${size}.bin`), impl.wasm);
      return { heapGrowth: m.heapGrowth, heapBase: m.heapBase, wasmBytes: m.wasmBytes, seconds: m.seconds, longTasks: m.longTasks };
    });
  }
}

// ---- ours vs the baseline ----------------------------------------------------------------

/** `rounds` rounds of `run(impl)` for each package, the order flipped every round; each result a
 *  `{…fields, impl, round, …}` line. */
async function alternate(fields, rounds, run) {
  for (let round = 0; round < rounds; round++) {
    for (const impl of round % 2 ? [...impls].reverse() : impls) {
      await row({ ...fields, impl: impl.impl, round }, () => run(impl));
    }
  }
}

/** Each package's SmhClient upload, quick upload that hits and CosUploader upload, once and
 *  unmeasured, before the timed A/B rows: by then ours has run the other sections, and a
 *  package's first uploads are slower (its wasm not yet optimised by V8, its Worker new), which
 *  would count against whichever package had not run yet. */
async function warmUp() {
  const file = await fileOf(sizes[0]);
  for (const impl of impls) {
    const client = await smhClient({}, impl.SmhClient);
    await smhUpload(client, file, 'bench/warm-up.bin');
    await smhUpload(client, file, 'bench/warm-up-again.bin', { quickUpload: true });
    await (await cosUploader(impl.CosUploader)).upload(file, 'bench/warm-up-cos.bin').done();
  }
}

/** The SmhClient and CosUploader uploads of `file` (defaults, quick upload off), both packages. */
async function abUploads(file) {
  const clients = new Map();
  for (const impl of impls) clients.set(impl, { smh: await smhClient({}, impl.SmhClient), cos: await cosUploader(impl.CosUploader) });
  const timed = m => ({ seconds: m.seconds, partsSeconds: m.partsSeconds, longTasks: m.longTasks, longest: m.longest });
  // Each round is one SmhClient upload and one CosUploader upload of each package, in turn.
  await alternate({ kind: 'ab', row: 'SmhClient upload', bytes: file.size }, abRounds, async impl =>
    timed(await measure(() => smhUpload(clients.get(impl).smh, file, `bench/ab-smh-${file.size}.bin`), impl.wasm)));
  await alternate({ kind: 'ab', row: 'CosUploader upload', bytes: file.size }, abRounds, async impl =>
    timed(await measure(() => clients.get(impl).cos.upload(file, `bench/ab-cos-${file.size}.bin`).done(), impl.wasm)));
}

/** A quick upload that hits, both packages: the hashing is the call → the begin carrying the
 *  full hash (as the hash row). */
async function abHash() {
  const file = await fileOf(cryptoSize);
  const clients = new Map();
  for (const impl of impls) clients.set(impl, await smhClient(HASH_ALONE, impl.SmhClient));
  // Each package uploads the file once (its Worker reading it), so neither starts warmer.
  for (const impl of impls) await smhUpload(clients.get(impl), file, `bench/hash-seed-${impl.impl}.bin`);
  await alternate({ kind: 'ab', row: 'hash', bytes: file.size }, abRounds, async impl => {
    const m = await measure(() => smhUpload(clients.get(impl), file, `bench/hash-ab-${impl.impl}.bin`, { quickUpload: true }), impl.wasm);
    if (!m.result.instant) throw new Error('the quick upload did not hit');
    if (m.smhCalls.length < 2) throw new Error(`expected two begin calls, saw ${m.smhCalls.length}`);
    return { seconds: m.seconds, hashingSeconds: m.smhCalls[1] / 1000, longTasks: m.longTasks };
  });
}

/** The raw CRC-64 kernels of both packages on the same bytes (their results must agree). */
async function abCrc() {
  const bytes = randomBytes(cryptoSize);
  const kernels = new Map(impls.map(impl => [impl, crcKernel(impl.wasm, bytes)]));
  const values = new Set([...kernels.values()].map(kernel => kernel())); // unmeasured: warms up
  await alternate({ kind: 'ab', row: 'crc', bytes: bytes.length }, abRounds, async impl => {
    const t0 = performance.now();
    values.add(kernels.get(impl)());
    return { seconds: (performance.now() - t0) / 1000 };
  });
  if (values.size !== 1) throw new Error(`the CRC-64 kernels differ: ${[...values].join(' ')}`);
}

try {
  wasm = await init();
  impls = [{ impl: 'ours', SmhClient, CosUploader, wasm }];
  if (abRounds) {
    const baseline = await import('/pkg/baseline/smh_upload.js');
    impls.push({ impl: 'baseline', SmhClient: baseline.SmhClient, CosUploader: baseline.CosUploader, wasm: await baseline.default() });
  }
  // Memory first: wasm memory never shrinks, and the CRC section reserves a buffer in it.
  if (sections.has('memory')) await memorySection();
  if (sections.has('upload')) await uploadSection();
  if (abRounds && ['upload', 'hash', 'crc'].some(s => sections.has(s))) {
    await row({ kind: 'section', name: 'A/B warm-up' }, async () => (await warmUp(), { ok: true }));
  }
  if (sections.has('upload') && abRounds) for (const size of sizes) await abUploads(await fileOf(size));
  if (sections.has('hash')) await row({ kind: 'section', name: 'hash' }, async () => (await hashSection(), { ok: true }));
  if (sections.has('hash') && abRounds) await row({ kind: 'section', name: 'hash A/B' }, async () => (await abHash(), { ok: true }));
  if (sections.has('crc')) await row({ kind: 'section', name: 'crc' }, async () => (await crcSection(), { ok: true }));
  if (sections.has('crc') && abRounds) await row({ kind: 'section', name: 'crc A/B' }, async () => (await abCrc(), { ok: true }));
  if (sections.has('sweep')) await sweepSection();
  report({ kind: 'worker', loaded: workerSeen, ...(abRounds ? { baselineLoaded: baselineWorkerSeen } : {}) });
  report({ done: true });
} catch (e) {
  report({ error: String((e && e.message) || e), code: e && e.code });
}
