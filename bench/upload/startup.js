// The cold-start page of `cargo xtask bench --only startup` (xtask/src/bench_startup.rs): one
// page load on an empty cache, from navigation start (time 0 of `performance.now()`) to the
// first part PUT of a 2 MiB upload. xtask writes one HTML page per variant from startup.html:
// its <head> has the npm README's preload lines or none, and its inline module imports the
// entry (or loads cos-js-sdk-v5) and calls `ours` (or `peer`) below. The result is one console
// line `BENCH {json}`, then `BENCH {"done":true}` (or `{"error":…}`).
//
// Query: `variant` (echoed), the devserver's fields (smh, cos, libraryId, spaceId, secretId,
// secretKey, bucket, region).

const q = new URLSearchParams(location.search);
const report = o => console.log('BENCH ' + JSON.stringify(o));
const MIB = 1 << 20;
/** Two parts of 1 MiB: multipart, as the upload rows, and short enough to send on a throttled link. */
const SIZE = 2 * MIB;
const PART = MIB;

// Fresh bytes for every load: quick upload (on, as by default) must miss, as for a new file.
const file = new Blob([randomBytes(SIZE)]);
const key = `bench/startup/${q.get('variant')}-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`;

function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(bytes.subarray(off, off + 65536));
  return bytes;
}

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status}`);
  return r.json();
}

/** Resource Timing of the load: the code's downloads (entries whose URL ends with `codeSuffix`),
 *  the first request to SMH or COS after `upload()` was called at `callMs`, and the first
 *  requests to the COS origin. */
function timings(codeSuffix, callMs) {
  const entries = performance.getEntriesByType('resource');
  const code = entries.filter(e => new URL(e.name).pathname.endsWith(codeSuffix));
  const cos = entries.filter(e => e.name.includes(`//${q.get('cos')}/`));
  const puts = cos.filter(e => e.name.includes('partNumber='));
  const api = entries.filter(e => (e.name.startsWith(`${q.get('smh')}/`) || e.name.includes(`//${q.get('cos')}/`)) && e.startTime >= callMs);
  const first = list => (list.length ? Math.min(...list.map(e => e.startTime)) : null);
  return {
    // The page's HTML received: what came before is the browser's own start, not the page's.
    pageMs: performance.getEntriesByType('navigation')[0]?.responseEnd ?? null,
    codeRequests: code.length,
    codeBytes: code[0]?.encodedBodySize ?? null,
    codeTransfer: code[0]?.transferSize ?? null,
    codeStartMs: code[0]?.startTime ?? null,
    codeEndMs: code[0]?.responseEnd ?? null,
    firstApiMs: first(api),
    firstCosMs: first(cos),
    firstPutMs: first(puts),
  };
}

async function run(codeSuffix, work) {
  try {
    const fields = await work();
    report({ kind: 'startup', variant: q.get('variant'), ...fields, ...timings(codeSuffix, fields.callMs) });
    report({ done: true });
  } catch (e) {
    report({ error: `${q.get('variant')}: ${String((e && e.message) || e)}` });
  }
}

/** smh-upload: `init` and `SmhClient` or `CosUploader` from the entry whose wasm is `wasm`; the
 *  client at its defaults but for the part size. The token (or keys) is fetched while `init()`
 *  runs, as a page would. */
export function ours(wasm, init, { SmhClient, CosUploader }) {
  return run(wasm, async () => {
    const secret = SmhClient ? post('/token', {}) : post('/credentials', { durationSeconds: 3600 });
    secret.catch(() => {}); // awaited below; a failure is reported there
    await init();
    const readyMs = performance.now();
    const sizes = { partSize: PART, multipartThreshold: PART };
    const client = SmhClient
      ? new SmhClient({ baseUrl: q.get('smh'), libraryId: q.get('libraryId'), spaceId: q.get('spaceId'), accessToken: (await secret).accessToken, allowedDomains: [q.get('cos')], ...sizes })
      : new CosUploader({ bucket: q.get('bucket'), region: q.get('region'), domain: q.get('cos'), getCredentials: () => secret, ...sizes });
    const callMs = performance.now();
    await client.upload(file, key).done();
    return { readyMs, callMs };
  });
}

/** cos-js-sdk-v5 (loaded by a classic <script> before this module runs), `sliceUploadFile` at
 *  its defaults but for the part size, with the keys in the page (as the upload rows). */
export function peer() {
  return run('cos-js-sdk-v5.min.js', async () => {
    const readyMs = performance.now();
    const cos = new COS({ SecretId: q.get('secretId'), SecretKey: q.get('secretKey'), Domain: q.get('cos'), Protocol: 'http:', ChunkSize: PART });
    const callMs = performance.now();
    await new Promise((resolve, reject) => cos.sliceUploadFile(
      { Bucket: q.get('bucket'), Region: q.get('region'), Key: key, Body: file },
      (err, data) => (err ? reject(new Error(JSON.stringify(err))) : resolve(data)),
    ));
    return { readyMs, callMs };
  });
}
