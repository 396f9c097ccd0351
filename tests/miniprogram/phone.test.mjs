// What a phone does to an upload that a desktop does not, in the imitated logic layer: the
// logic thread must stay responsive while the SDK hashes (iOS runs wasm without a JIT, so a long
// synchronous call there is many times longer than here).

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';

import { assertLanded, bounded, makeBytes, MIB, until, useMiniProgram } from './helpers.mjs';

const env = useMiniProgram();

/**
 * Measures the event loop of this thread (the logic layer's: the imitation runs in it): a 5 ms
 * interval whose longest gap beyond 5 ms is the longest time no timer could run. Reported, not
 * asserted: on a loaded machine it also counts the time the OS ran other processes.
 */
function blockMonitor() {
  const every = 5;
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - every);
    last = now;
  }, every);
  return { stop: () => (clearInterval(timer), longest) };
}

/** Starts an upload of the mini-program file `file` to `path`; resolves with the page's record. */
function uploadFile(file, path, uploadOptions = {}, clientOptions = {}) {
  const { finished } = env.page.start({ ready: env.ready, file: { filePath: file.path, size: file.size }, path, clientOptions, uploadOptions });
  return finished;
}

// With FileSystemManager.open / read (base library ≥ 2.16.1) the hash reads into two buffers it
// reuses; without, a readFile per block.
for (const fileDescriptors of [true, false]) {
  test(`a 64 MiB quick upload (full hash) never blocks the logic thread for long${fileDescriptors ? '' : ', without FileSystemManager.read'}`, { timeout: 240_000 }, async () => {
    const fsm = env.mp.context.wx.getFileSystemManager();
    const { open } = fsm;
    if (!fileDescriptors) delete fsm.open;
    try {
      await quickUploadBlocks(fileDescriptors);
    } finally {
      fsm.open = open;
    }
  });
}

async function quickUploadBlocks(fileDescriptors) {
  const size = 64 * MIB;
  const bytes = makeBytes(size, 41);
  const [a, b] = ['a', 'b'].map(name => `lag-${name}${fileDescriptors ? '' : '-readfile'}.bin`);
  const first = await bounded(uploadFile(env.mp.addFile(a, bytes), `mp/${a}`), 120_000, 'first upload');
  await assertLanded(env, first, { path: `mp/${a}`, size, seed: 41 });
  // The same bytes again: SMH knows the first MiB, so the whole file is hashed in the logic layer
  // — alone: by default a hash predicted to take over a second goes on while parts are sent, and
  // on loopback the parts would win (tests/miniprogram/quick-race.test.mjs).
  const file = env.mp.addFile(b, bytes);
  env.mp.stats.wasmCalls = { count: 0, longest: 0, longestWall: 0 };
  const reads = env.mp.stats.reads.length;
  const monitor = blockMonitor();
  const started = performance.now();
  const second = await bounded(uploadFile(file, `mp/${b}`, {}, { quickUploadWait: 600_000 }), 120_000, 'quick upload');
  const seconds = (performance.now() - started) / 1000;
  const longest = monitor.stop();
  await assertLanded(env, second, { path: `mp/${b}`, size, seed: 41 });
  assert.equal(second.result.instant, true, 'a quick-upload hit');
  assert.ok(second.progress.some(p => p.phase === 'hashing'), 'the whole file was hashed');
  const calls = env.mp.stats.wasmCalls;
  console.log(`64 MiB quick upload: ${seconds.toFixed(2)} s; longest of ${calls.count} calls into the wasm ${calls.longest.toFixed(1)} ms ` +
    `(wall clock ${calls.longestWall.toFixed(1)} ms); longest wait of a 5 ms timer ${longest.toFixed(1)} ms`);
  // A block at a time, not the several MiB the engine hashes per step: a readFile hands the
  // logic thread a new ArrayBuffer of that size, made and later collected there, and each is
  // copied into the wasm.
  const hashReads = env.mp.stats.reads.slice(reads);
  const longestRead = Math.max(...hashReads.map(r => r.length));
  assert.ok(longestRead <= MIB, `the hash read ${longestRead} bytes at once`);
  assert.equal(hashReads.every(r => r.api === 'read'), fileDescriptors, 'FileSystemManager.read where it exists, readFile where not');
  assert.deepEqual([...env.mp.openFiles.keys()], [], 'every file opened was closed');
  // The hash yields (a timer, then a call into the wasm) at least every 256 KiB: without a JIT a
  // slice that size takes ~25 ms (src/platform/mod.rs HASH_SLICE), here ~1 ms, so the time
  // bound below cannot tell a 1 MiB slice from it.
  assert.ok(calls.count >= size / (256 * 1024), `${calls.count} calls into the wasm hashed ${size} bytes`);
  // The longest synchronous call into the SDK, whatever it did (hash a slice, copy a block in,
  // collect the garbage of the reads: up to ~20 ms), timed so that other processes do not
  // lengthen it (harness.mjs `timedInstance`).
  // Base libraries without FileSystemManager.read allocate a new 1 MiB buffer per readFile, whose
  // collection (a full GC of this test process's heap) may land in a call: 5-22 ms seen at load
  // 4-8, so that path gets twice the target as room; the reused buffers of `read` keep the target.
  const bound = fileDescriptors ? 25 : 50;
  assert.ok(calls.longest <= bound, `a call into the wasm blocked the logic thread for ${calls.longest.toFixed(1)} ms`);
}

/**
 * Uploads `size` bytes to `path` and takes the network away once the upload is sending bytes,
 * for `outageMs` (or until the upload ends, when `outageMs` is null). Resolves with the page's
 * record, the requests made while offline and the progress reported then.
 */
async function uploadThroughOutage({ size, seed, path, outageMs, clientOptions }) {
  const file = env.mp.addFile(path.split('/').pop(), makeBytes(size, seed));
  const { record, finished } = env.page.start({ ready: env.ready, file: { filePath: file.path, size: file.size }, path, clientOptions });
  let ended = false;
  finished.then(() => { ended = true; });
  try {
    await until(() => ended || record.progress.some(p => p.phase === 'uploading' && p.loaded > 0), 60_000, 'the first part');
    assert.ok(!ended, 'the upload was still running when the network went');
    const mark = env.mp.stats.requests.length;
    const progressMark = record.progress.length;
    const loadedAtOutage = record.progress.at(-1).loaded;
    env.mp.setOnline(false);
    const wentOffline = performance.now();
    if (outageMs === null) await bounded(finished, 60_000, 'the upload to fail');
    else await new Promise(r => setTimeout(r, outageMs));
    const offlineRequests = env.mp.stats.requests.slice(mark).filter(r => r.offline);
    const duringOutage = record.progress.slice(progressMark);
    const offlineFor = performance.now() - wentOffline;
    env.mp.setOnline(true);
    return { ...(await bounded(finished, 120_000, `upload of ${path}`)), offlineRequests, duringOutage, loadedAtOutage, offlineFor };
  } finally {
    env.mp.setOnline(true);
  }
}

test('a 20 s outage mid-upload is waited out: no request or retry spent offline, progress says so, the upload lands', { timeout: 180_000 }, async () => {
  const size = 40 * MIB + 3;
  const path = 'mp/outage.bin';
  // No retries at all: a retry spent on the outage would fail the upload.
  const record = await uploadThroughOutage({ size, seed: 43, path, outageMs: 20_000, clientOptions: { retries: 0 } });
  await assertLanded(env, record, { path, size, seed: 43 });
  assert.ok(record.loadedAtOutage < size, 'the outage came mid-upload');
  assert.deepEqual(record.offlineRequests.map(r => `${r.method} ${r.url}`), [], 'no request was started while offline');
  assert.ok(record.duringOutage.some(p => p.waiting === 'offline'), `progress said it was waiting: ${JSON.stringify(record.duringOutage.slice(0, 3))}`);
  assert.equal(record.progress.at(-1).waiting, undefined, 'not waiting any more');
  assert.ok(!record.states.includes('failed'));
});

test('an outage longer than offlineTimeout fails typed: Network, retryable', { timeout: 120_000 }, async () => {
  const record = await uploadThroughOutage({ size: 24 * MIB, seed: 44, path: 'mp/outage-long.bin', outageMs: null, clientOptions: { offlineTimeout: 2000 } });
  assert.equal(record.error?.code, 'Network', JSON.stringify(record.error));
  assert.equal(record.error.retryable, true);
  assert.match(record.error.message, /offline/);
  assert.equal(record.finalState, 'failed');
  // Waited for the limit, not failed at once by the retries, nor long after.
  assert.ok(record.offlineFor >= 1900 && record.offlineFor < 15_000, `failed after ${record.offlineFor.toFixed(0)} ms offline`);
  assert.deepEqual(record.offlineRequests.map(r => `${r.method} ${r.url}`), [], 'no request was started while offline');
});
