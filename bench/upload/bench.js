// Uploads one disk-backed 256 MiB File (written to the Origin Private File System, so it is read
// from disk like a user's file) with smh-upload and with cos-js-sdk-v5, one after the other, to
// the same devserver, and reports each time on the console as `BENCH {json}`.
import init, { SmhClient } from '/pkg/smh_upload.js';

const q = new URLSearchParams(location.search);
const report = o => console.log('BENCH ' + JSON.stringify(o));
const MIB = 1 << 20;

async function makeFile(size) {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle('bench.bin', { create: true });
  const writable = await handle.createWritable();
  const chunk = new Uint32Array(2 * MIB); // 8 MiB
  let x = 0x9e3779b9;
  for (let off = 0; off < size; off += chunk.byteLength) {
    for (let i = 0; i < chunk.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      chunk[i] = x;
    }
    const n = Math.min(chunk.byteLength, size - off);
    await writable.write(new Uint8Array(chunk.buffer, 0, n));
  }
  await writable.close();
  return handle.getFile();
}

async function token() {
  const r = await fetch('/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  return (await r.json()).accessToken;
}

async function timed(name, config, upload) {
  const t0 = performance.now();
  await upload();
  const seconds = (performance.now() - t0) / 1000;
  report({ client: name, config, seconds, bytes: size });
}

async function smhUpload(file, key, options) {
  const client = new SmhClient({
    baseUrl: q.get('smh'), libraryId: q.get('libraryId'), spaceId: q.get('spaceId'),
    accessToken: await token(), allowedDomains: [q.get('cos')], checkpoints: 'none', ...options,
  });
  await client.upload(file, key, { quickUpload: false, conflict: 'overwrite' }).done();
}

function cosUpload(file, key, options) {
  const cos = new COS({ SecretId: q.get('secretId'), SecretKey: q.get('secretKey'), Domain: q.get('cos'), Protocol: 'http:', ...options });
  return new Promise((resolve, reject) => cos.sliceUploadFile(
    { Bucket: q.get('bucket'), Region: q.get('region'), Key: key, Body: file },
    (err, data) => (err ? reject(new Error(JSON.stringify(err))) : resolve(data)),
  ));
}

const size = Number(q.get('size')) || 256 * MIB;
try {
  await init();
  const file = await makeFile(size);
  report({ file: file.size });
  for (let round = 1; round <= Number(q.get('rounds') || 2); round++) {
    await timed('smh-upload', 'defaults (auto 8 MiB parts, concurrency 4)', () => smhUpload(file, `sdk-${round}.bin`, {}));
    await timed('cos-js-sdk-v5', 'defaults (1 MiB slices, 3 in parallel)', () => cosUpload(file, `bench/cosjs-default-${round}.bin`, {}));
    await timed('smh-upload', '8 MiB parts, concurrency 6', () => smhUpload(file, `sdk6-${round}.bin`, { partSize: 8 * MIB, concurrency: 6 }));
    await timed('cos-js-sdk-v5', '8 MiB slices, 6 in parallel', () => cosUpload(file, `bench/cosjs-8m-${round}.bin`, { ChunkSize: 8 * MIB, ChunkParallelLimit: 6 }));
  }
  report({ done: true });
} catch (e) {
  report({ error: String(e && e.message || e), code: e && e.code });
}
