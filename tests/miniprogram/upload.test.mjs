// smh-upload's mini-program build in the imitated logic layer, against the devserver: loading,
// sizes, quick upload, the request pool, pause / resume / cancel, resume after a reload,
// injected faults and bad file arguments. Bytes are checked on the devserver (GET /_dev/objects
// sha256), never taken from the SDK's own report.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import vm from 'node:vm';
import zlib from 'node:zlib';

import { assertLanded, assertPlatformRules, bounded, byteRequests, makeBytes, makeMiniProgram, MIB, packageDir, until, upload, useMiniProgram } from './helpers.mjs';

const env = useMiniProgram();
const PART = 2 * MIB;       // the mini-program default part size
const THRESHOLD = 4 * MIB;  // the mini-program default multipart threshold
const PART_PUT = { origin: 'cos', method: 'PUT', query: 'partNumber' };

/** Requests the harness saw from index `mark` on. */
const requestsSince = mark => env.mp.stats.requests.slice(mark);

test('the logic layer has only what a mini-program has', () => {
  const missing = vm.runInContext("['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'URL', 'XMLHttpRequest', 'document', 'window', 'queueMicrotask'].filter(n => typeof globalThis[n] !== 'undefined')", env.mp.context);
  assert.deepEqual([...missing], []);
  assert.equal(vm.runInContext('typeof wx.request + typeof WXWebAssembly.instantiate', env.mp.context), 'functionfunction');
  assert.throws(() => vm.runInContext("new Function('return 1')", env.mp.context), /Code generation from strings disallowed/);
});

test('the package defines no globals, and exports the web build\'s classes plus init', async () => {
  const mp = makeMiniProgram(env.ready);
  try {
    const before = mp.globalNames();
    const page = mp.require('/pages/test/test.js');
    await page.load();
    const record = await bounded(page.start({ ready: env.ready, file: mp.addFile('g.bin', makeBytes(10, 1)), path: 'mp/globals.bin' }).finished, 30_000, 'upload');
    assert.equal(record.finalState, 'done', JSON.stringify(record));
    assert.deepEqual(mp.globalNames(), before, 'globals after loading and using the package');
    const webClasses = [...readFileSync(join(packageDir(), '..', 'smh_upload.js'), 'utf8').matchAll(/\bexport class (\w+)/g)].map(m => m[1]);
    assert.ok(webClasses.includes('SmhClient'), `web classes: ${webClasses}`);
    const names = [...page.exportNames()];
    for (const name of [...webClasses, 'init']) assert.ok(names.includes(name), `${name} missing from ${names}`);
  } finally {
    mp.close();
  }
});

test('init() takes a bare Instance too, and refuses a path outside the package', async () => {
  const mp = makeMiniProgram(env.ready, { wasmResult: 'instance' });
  try {
    const page = mp.require('/pages/test/test.js');
    await assert.rejects(page.load({ wasmPath: 'http://127.0.0.1:1/smh_upload_bg.wasm.br' }), /not a \.wasm or \.wasm\.br path in the code package/);
    await assert.rejects(page.load({ wasmPath: '/miniprogram_npm/nothing/x.wasm.br' }), /no file/);
    await assert.rejects(page.load({ wasmPath: 42 }), e => e.code === 'InvalidInput');
    await page.load({ wasmPath: '/miniprogram_npm/smh-upload/smh_upload_bg.wasm.br' });
    const file = mp.addFile('bare.bin', makeBytes(1000, 2));
    const record = await bounded(page.start({ ready: env.ready, file: { path: file.path, size: file.size }, path: 'mp/bare-instance.bin' }).finished, 30_000, 'upload');
    await assertLanded(env, record, { path: 'mp/bare-instance.bin', size: 1000, seed: 2 });
  } finally {
    mp.close();
  }
});

test('reply header names in any case: the part CRCs are still read and checked', { timeout: 60_000 }, async () => {
  const mp = makeMiniProgram(env.ready, { titleCaseHeaders: true });
  try {
    const page = mp.require('/pages/test/test.js');
    await page.load();
    const size = 5 * MIB + 9;
    const file = mp.addFile('case.bin', makeBytes(size, 4));
    const record = await bounded(page.start({ ready: env.ready, file: { filePath: file.path, size }, path: 'mp/header-case.bin' }).finished, 50_000, 'upload');
    await assertLanded(env, record, { path: 'mp/header-case.bin', size, seed: 4 });
    assert.deepEqual([...record.warnings], [], 'no CrcNotChecked: x-cos-hash-crc64ecma was found as X-Cos-Hash-Crc64ecma');
    assert.ok(mp.stats.requests.some(r => r.method === 'PUT'), 'parts were sent');
  } finally {
    mp.close();
  }
});

test('the wasm exports no Global (iOS refuses them)', () => {
  const wasm = zlib.brotliDecompressSync(readFileSync(join(packageDir(), 'smh_upload_bg.wasm.br')));
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasm));
  assert.deepEqual(exports.filter(e => e.kind === 'global'), []);
  // Its other exports have short names (xtask/src/wasm_names.rs); the CRC-64 kernel keeps its own.
  assert.ok(exports.some(e => e.name === 'smh_worker_crc64'), 'it is the SDK');
});

for (const size of [0, 1, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 4 * PART + 3]) {
  test(`upload of ${size} bytes lands byte-exact, read range by range`, { timeout: 60_000 }, async () => {
    const reads = env.mp.stats.reads.length;
    const path = `mp/size-${size}.bin`;
    const record = await upload(env, { size, seed: 100 + size % 97, path });
    await assertLanded(env, record, { path, size, seed: 100 + size % 97 });
    assert.equal(record.result.size, size);
    const mine = env.mp.stats.reads.slice(reads);
    // readFile always with a range, never of length 0 (WeChat refuses it), never whole once multipart.
    for (const r of mine) {
      assert.ok(Number.isInteger(r.position) && Number.isInteger(r.length) && r.length >= 1, `read ${JSON.stringify(r)}`);
      if (size > THRESHOLD) assert.ok(r.length < size, `a multipart upload read the whole file: ${JSON.stringify(r)}`);
    }
    if (size === 0) assert.equal(mine.length, 0, 'a 0-byte file is never read');
    // Progress moves part by part: wx.request reports no bytes in between.
    const sending = record.progress.filter(p => p.phase === 'uploading').map(p => p.loaded);
    // Parts finish in any order: a report is a sum of whole parts (the last one is shorter).
    const last = size > THRESHOLD ? size - Math.floor((size - 1) / PART) * PART : size;
    const wholeParts = n => size > THRESHOLD && n % PART === 0;
    for (const loaded of sending) assert.ok(loaded === 0 || loaded === size || wholeParts(loaded) || wholeParts(loaded - last), `progress ${loaded} of ${size}`);
    assert.equal(sending.at(-1), size, `the last upload progress: ${JSON.stringify(record.progress.slice(-3))}`);
    assert.deepEqual([...record.warnings], [], 'every part\'s CRC-64 was read from the reply and checked');
    assertPlatformRules(env.mp);
  });
}

test('quick upload: the same content again sends no byte', { timeout: 60_000 }, async () => {
  const size = 3 * MIB + 5;
  const first = await upload(env, { size, seed: 7, path: 'mp/quick-a.bin' });
  await assertLanded(env, first, { path: 'mp/quick-a.bin', size, seed: 7 });
  const mark = await env.dev.logMark();
  const second = await upload(env, { size, seed: 7, path: 'mp/quick-b.bin' });
  await assertLanded(env, second, { path: 'mp/quick-b.bin', size, seed: 7 });
  assert.equal(second.result.instant, true);
  assert.deepEqual(byteRequests(await env.dev.logSince(mark, 'cos')), [], 'no byte request for a quick upload');
});

test('at most 10 requests in flight, parts and SMH calls together, even with concurrency 32', { timeout: 90_000 }, async () => {
  // Slow parts keep many requests open at once.
  await env.dev.faults({ ...PART_PUT, times: 1000, action: { type: 'delay', ms: 150 } });
  const size = 24 * MIB;
  env.mp.stats.maxInFlight = 0;
  const queued = env.mp.stats.queued;
  const record = await upload(env, { size, seed: 11, path: 'mp/pool.bin', clientOptions: { concurrency: 32, partSize: MIB } });
  await assertLanded(env, record, { path: 'mp/pool.bin', size, seed: 11 });
  assert.equal(env.mp.stats.maxInFlight, 10, 'the pool is used up to the limit, not past it');
  assert.equal(env.mp.stats.queued, queued, 'no request waited in WeChat\'s own queue');
  assertPlatformRules(env.mp);
});

/** Starts an upload of slow parts; resolves once `bytes` have been reported sent. */
async function startSlow({ size, seed, path, bytes, clientOptions = { partSize: MIB, concurrency: 2 }, delayMs = 200 }) {
  await env.dev.faults({ ...PART_PUT, times: 1000, action: { type: 'delay', ms: delayMs } });
  const file = env.mp.addFile(path.split('/').pop(), makeBytes(size, seed));
  const run = env.page.start({ ready: env.ready, file: { filePath: file.path, size }, path, clientOptions });
  await until(() => run.record.progress.some(p => p.phase === 'uploading' && p.loaded >= bytes), 30_000, `${bytes} bytes sent`);
  return { ...run, file };
}

test('pause stops every request; resume finishes the upload', { timeout: 90_000 }, async () => {
  const size = 8 * MIB + 1;
  // Parts take 3 s at the server: only aborting them empties the pool within 1 s.
  const run = await startSlow({ size, seed: 21, path: 'mp/pause.bin', bytes: 2 * MIB, delayMs: 3000 });
  run.task.pause();
  await until(() => env.mp.stats.inFlight === 0, 1_000, 'the requests in flight aborted');
  await until(() => run.task.state === 'paused', 10_000, 'state paused');
  const during = env.mp.stats.requests.length;
  await new Promise(r => setTimeout(r, 500));
  assert.equal(env.mp.stats.requests.length, during, 'nothing is sent while paused');
  await env.dev.del('faults');
  run.task.resume();
  const record = await bounded(run.finished, 60_000, 'resumed upload');
  await assertLanded(env, record, { path: 'mp/pause.bin', size, seed: 21 });
  assert.ok(record.states.includes('paused'), record.states.join(' '));
});

test('cancel aborts the requests and leaves nothing open on the server', { timeout: 90_000 }, async () => {
  const size = 8 * MIB + 2;
  const run = await startSlow({ size, seed: 22, path: 'mp/cancel.bin', bytes: MIB, delayMs: 3000 });
  const inFlight = () => env.mp.stats.requests.filter(r => r.method === 'PUT' && r.inFlightAtStart !== undefined && r.status === undefined);
  await until(() => inFlight().length > 0, 5_000, 'a part PUT in flight');
  const parts = inFlight();
  run.task.cancel();
  await until(() => parts.every(r => r.status !== undefined), 1_000, 'the part requests aborted');
  assert.ok(parts.every(r => r.status === 'request:fail abort'), JSON.stringify(parts.map(r => r.status)));
  const record = await bounded(run.finished, 30_000, 'cancelled upload');
  assert.equal(record.error.code, 'Aborted', JSON.stringify(record.error));
  assert.equal(record.finalState, 'cancelled');
  await until(() => env.mp.stats.inFlight === 0, 10_000, 'no request in flight');
  let open;
  const deadline = Date.now() + 10_000;
  do {
    open = await env.dev.uploads();
    if (open.smh.length === 0 && open.cos.length === 0) break;
    await new Promise(r => setTimeout(r, 100));
  } while (Date.now() < deadline);
  assert.deepEqual(open, { smh: [], cos: [] }, 'no upload left open');
  assert.equal(await env.dev.objectAt('mp/cancel.bin'), undefined);
});

test('resume after the mini-program is reopened: checkpoints in wx storage, sent parts kept', { timeout: 120_000 }, async () => {
  const size = 10 * MIB + 3;
  const path = 'mp/resume.bin';
  const run = await startSlow({ size, seed: 23, path, bytes: 4 * MIB, clientOptions: {} });
  run.task.pause();
  await until(() => env.mp.stats.inFlight === 0, 10_000, 'paused');
  const keys = [...env.mp.storage.keys()];
  assert.ok(keys.length > 0 && keys.every(k => k.startsWith('smh-upload:')), `storage keys: ${keys}`);
  await env.dev.del('faults');
  await env.reload();
  const mark = await env.dev.logMark();
  const { finished } = env.page.start({ ready: env.ready, file: { tempFilePath: run.file.path, size }, path });
  const record = await bounded(finished, 60_000, 'resumed upload');
  await assertLanded(env, record, { path, size, seed: 23 });
  const parts = byteRequests(await env.dev.logSince(mark, 'cos'));
  assert.ok(parts.length > 0 && parts.length < Math.ceil(size / PART), `only the missing parts were sent again: ${parts.length}`);
});

test('a part answered 500 twice, then OK: retried, lands', { timeout: 60_000 }, async () => {
  await env.dev.faults({ ...PART_PUT, times: 2, action: { type: 'status', status: 500 } });
  const record = await upload(env, { size: 6 * MIB + 1, seed: 31, path: 'mp/fault-500.bin' });
  await assertLanded(env, record, { path: 'mp/fault-500.bin', size: 6 * MIB + 1, seed: 31 });
  assert.equal((await env.dev.get('faults')).rules[0].fired, 2);
});

test('a part\'s connection reset: retried, lands', { timeout: 60_000 }, async () => {
  await env.dev.faults({ ...PART_PUT, times: 1, action: { type: 'reset' } });
  const record = await upload(env, { size: 5 * MIB, seed: 32, path: 'mp/fault-reset.bin' });
  await assertLanded(env, record, { path: 'mp/fault-reset.bin', size: 5 * MIB, seed: 32 });
  assert.equal((await env.dev.get('faults')).rules[0].fired, 1);
});

test('a stalled part is aborted by the stall timeout and sent again', { timeout: 60_000 }, async () => {
  await env.dev.faults({ ...PART_PUT, skip: 1, times: 1, action: { type: 'stall', ms: 20_000 } });
  const record = await upload(env, { size: 5 * MIB + 7, seed: 33, path: 'mp/fault-stall.bin', clientOptions: { stallTimeout: 1500 } });
  await assertLanded(env, record, { path: 'mp/fault-stall.bin', size: 5 * MIB + 7, seed: 33 });
  assert.ok(record.seconds < 20, `the watchdog ended the stall, not the server (${record.seconds} s)`);
});

test('readFile failing twice in a row: the part is read again, lands', { timeout: 60_000 }, async () => {
  // Not quick upload: only the parts read the file, and each read is a readFile of one part.
  const failed = env.mp.stats.failedReads || 0;
  env.mp.failReads = 2;
  const record = await upload(env, { size: 5 * MIB + 3, seed: 35, path: 'mp/read-again.bin', uploadOptions: { quickUpload: false } });
  env.mp.failReads = 0;
  await assertLanded(env, record, { path: 'mp/read-again.bin', size: 5 * MIB + 3, seed: 35 });
  assert.equal(env.mp.stats.failedReads - failed, 2, 'both injected failures were met');
});

test('FileSystemManager.read failing twice while hashing: read again, lands', { timeout: 60_000 }, async () => {
  // Quick upload: the first MiB is hashed (open + read) before any part is read.
  const failed = env.mp.stats.failedReads || 0;
  const reads = env.mp.stats.reads.length;
  env.mp.failReads = 2;
  const record = await upload(env, { size: 3 * MIB + 5, seed: 36, path: 'mp/read-again-hash.bin' });
  env.mp.failReads = 0;
  await assertLanded(env, record, { path: 'mp/read-again-hash.bin', size: 3 * MIB + 5, seed: 36 });
  assert.equal(env.mp.stats.failedReads - failed, 2, 'both injected failures were met');
  assert.equal(env.mp.stats.reads[reads]?.api, 'read', 'the hash read first, with FileSystemManager.read');
  assert.deepEqual([...env.mp.openFiles.keys()], [], 'every file opened was closed');
});

test('an expired upload signature: renewed with SMH, lands', { timeout: 60_000 }, async () => {
  await env.dev.faults({ ...PART_PUT, skip: 1, times: 1, action: { type: 'expired' } });
  const mark = await env.dev.logMark();
  const record = await upload(env, { size: 6 * MIB, seed: 34, path: 'mp/fault-expired.bin' });
  await assertLanded(env, record, { path: 'mp/fault-expired.bin', size: 6 * MIB, seed: 34 });
  const cos = (await env.dev.logSince(mark, 'cos')).filter(e => e.status === 403);
  assert.equal(cos.length, 1, 'COS refused one part as expired');
});

test('an access token that expires mid-upload: getAccessToken is called again, lands', { timeout: 90_000 }, async () => {
  const size = 8 * MIB;
  const mark = env.mp.stats.requests.length;
  const run = await startSlow({ size, seed: 35, path: 'mp/token-expired.bin', bytes: 2 * MIB });
  await env.dev.post('tokens/expire', {});
  const record = await bounded(run.finished, 60_000, 'upload');
  await assertLanded(env, record, { path: 'mp/token-expired.bin', size, seed: 35 });
  const tokens = requestsSince(mark).filter(r => r.url.endsWith('/token'));
  assert.ok(tokens.length >= 2, `tokens fetched: ${tokens.length}`);
});

test('bad file arguments are typed errors, thrown by upload()', () => {
  const real = env.mp.addFile('real.bin', makeBytes(100, 5));
  const cases = [
    [null, 'InvalidInput'],
    ['wxfile://tmp_1.bin', 'InvalidInput'],
    [{ size: 100 }, 'InvalidInput'],
    [{ filePath: '', size: 100 }, 'InvalidInput'],
    [{ filePath: real.path }, 'InvalidInput'],
    [{ filePath: real.path, size: -1 }, 'InvalidInput'],
    [{ filePath: real.path, size: 1.5 }, 'InvalidInput'],
    [{ filePath: real.path, size: '100' }, 'InvalidInput'],
    [{ filePath: 'wxfile://tmp_missing.bin', size: 100 }, 'FileReadError'],
    [{ filePath: real.path, size: 99 }, 'FileReadError'],
    [{ filePath: real.path, size: 101 }, 'FileReadError'],
  ];
  for (const [file, code] of cases) {
    const error = env.page.uploadThrows(env.ready, file, 'mp/bad.bin');
    assert.ok(error, `upload(${JSON.stringify(file)}) did not throw`);
    assert.equal(error.name, 'SmhUploadError', JSON.stringify(error));
    assert.equal(error.code, code, `upload(${JSON.stringify(file)}): ${JSON.stringify(error)}`);
  }
  assert.equal(env.page.uploadThrows(env.ready, { path: real.path, size: 100 }, '')?.code, 'InvalidInput', 'an empty library path');
});

test('the imitation enforces WeChat\'s rules (so the tests above mean something)', async () => {
  const run = code => bounded(vm.runInContext(code, env.mp.context), 10_000, code);
  const fail = api => `new Promise(resolve => ${api}, fail: e => resolve(e.errMsg) }))`;
  assert.match(await run(fail("wx.request({ url: 'https://example.com/', success: () => resolve('sent')")), /not in domain list/);
  assert.match(await run(fail("wx.request({ url: 'http://10.0.0.1/', success: () => resolve('sent')")), /https/);
  const file = env.mp.addFile('rules.bin', makeBytes(10, 3));
  const read = args => run(fail(`wx.getFileSystemManager().readFile({ filePath: ${JSON.stringify(file.path)}, ${args}, success: () => resolve('read')`));
  assert.match(await read('position: 0, length: 0'), /"length" is out of range/);
  assert.match(await read('position: 10, length: 1'), /"position" is out of range/);
  assert.match(await read('position: 5, length: 6'), /"length" is out of range/);
  assert.equal(await read('position: 5, length: 5'), 'read');
  const big = 'x'.repeat(1024 * 1024);
  assert.throws(() => vm.runInContext(`wx.setStorageSync('big', ${JSON.stringify(big)})`, env.mp.context), /exceed storage item max length/);
  const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
  for (const key of keys) vm.runInContext(`wx.setStorageSync('${key}', '${'y'.repeat(1000 * 1000)}')`, env.mp.context);
  assert.throws(() => vm.runInContext(`wx.setStorageSync('k11', '${'y'.repeat(1000 * 1000)}')`, env.mp.context), /exceed storage max size/);
  for (const key of keys) env.mp.storage.delete(key);
});
