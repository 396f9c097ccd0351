// Quick upload never makes an upload much slower than a plain one: when the full hash is
// predicted to take longer than the client's `quickUploadWait` (here 0, as on a phone that hashes
// slower than it sends), the parts go while the whole file is hashed. A hit stops them and leaves
// nothing open; a miss lets them finish, each part sent once.
//
// The cos origin holds every part but the first few for a while (a `delay` fault), so that the
// hash (~100 MB/s in Chromium's Worker) ends while parts are still going, whatever the load.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { byteRequests, explain, inPage, makeBytes, MIB, settleCos, sha256, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
/** Multipart with 1 MiB parts, two in flight, quick upload racing the parts from the start. */
const RACING = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2, quickUploadWait: 0 };
const QUICK_PARTS = 3;

/** Parts after the first `QUICK_PARTS` wait `ms` at the cos origin. */
async function slowPartsAfterTheFirst(ms) {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', skip: QUICK_PARTS, times: 10_000, action: { type: 'delay', ms } });
}

/** SMH's begins in `log`, by status: 202 candidate, 201 upload opened, 200 quick-upload hit. */
const begins = log => log.filter(e => e.op === 'begin');

test('quick upload racing the parts: a hit stops them, reports instant and leaves nothing open', { timeout: 90_000 }, async () => {
  // Large enough that hashing it takes far longer than storing the first parts, however loaded
  // the machine (the parts before the hit are what this test shows).
  const size = 64 * MIB + 5;
  const byte = 0x3c;
  await env.dev.post('seed', { path: 'race-source.bin', size, byte });
  await slowPartsAfterTheFirst(400);
  const mark = await env.dev.logMark();
  const record = await inPage(env, async ({ size, byte, options }) => {
    const client = await window.e2e.client(options);
    const blob = new Blob([new Uint8Array(size).fill(byte)]);
    return window.e2e.watch(hooks => client.upload(blob, 'race-hit.bin', hooks), 60_000).finished;
  }, { size, byte, options: RACING });
  assert.equal(record.error, undefined, explain(record, env));
  assert.equal(record.result.instant, true, `result.instant\n${explain(record, env)}`);
  assert.equal(record.finalState, 'done');
  assert.ok(record.states.includes('uploading'), `the parts went while hashing: ${record.states}`);

  const log = await env.dev.logSince(mark);
  const [candidate, plain, hit] = begins(log);
  assert.deepEqual(begins(log).map(e => e.status), [202, 201, 200], `begins: ${JSON.stringify(begins(log))}`);
  // Parts were stored before the full hash was known: the plain upload was sending meanwhile.
  const stored = byteRequests(log).filter(e => e.status === 200);
  assert.ok(stored.some(e => e.seq > plain.seq && e.seq < hit.seq), `a part stored before the hit: ${JSON.stringify(stored)}`);
  assert.ok(candidate.seq < plain.seq);
  assert.ok(log.some(e => e.op === 'cancel' && e.status === 204 && e.seq > hit.seq), 'the plain upload is cancelled after the hit');

  const object = await env.dev.objectAt('race-hit.bin');
  assert.equal(object?.sha256, sha256(Buffer.alloc(size, byte)), 'the stored file holds the content');
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
});

test('quick upload racing the parts: a miss lets them finish, each part sent once', { timeout: 90_000 }, async () => {
  const size = 16 * MIB + 7;
  // The library holds a file of the same size and first MiB (SMH answers 202) but another end.
  const original = await inPage(env, async ({ size }) => {
    const client = await window.e2e.client({ multipartThreshold: 2 * 1024 * 1024, partSize: 1024 * 1024 });
    const blob = window.e2e.blob(size, 51);
    return window.e2e.watch(hooks => client.upload(blob, 'race-original.bin', { quickUpload: false, ...hooks }), 60_000).finished;
  }, { size });
  assert.equal(original.error, undefined, explain(original, env));
  await slowPartsAfterTheFirst(500);
  const mark = await env.dev.logMark();
  const record = await inPage(env, async ({ size, options }) => {
    const bytes = window.e2e.makeBytes(size, 51);
    bytes[size - 1] ^= 0xff;
    const client = await window.e2e.client(options);
    const upload = hooks => client.upload(new Blob([bytes]), 'race-miss.bin', hooks);
    return window.e2e.watch(upload, 60_000).finished;
  }, { size, options: RACING });
  assert.equal(record.error, undefined, explain(record, env));
  assert.equal(record.result.instant, false);
  assert.equal(record.finalState, 'done');

  const log = await env.dev.logSince(mark);
  const statuses = begins(log).map(e => e.status);
  // 202 candidate, 201 the plain upload, 201 the miss (a second upload, cancelled at once).
  assert.deepEqual(statuses, [202, 201, 201], `begins: ${JSON.stringify(begins(log))}`);
  const miss = begins(log)[2];
  assert.ok(log.some(e => e.op === 'cancel' && e.status === 204 && e.seq > miss.seq), 'the miss\'s upload is cancelled');
  const parts = byteRequests(log).filter(e => e.status === 200);
  assert.equal(parts.length, Math.ceil(size / MIB), `each part stored once: ${JSON.stringify(parts)}`);
  assert.equal(parts.reduce((n, e) => n + e.bytesIn, 0), size, 'bytes received by the cos origin');
  assert.ok(log.some(e => e.op === 'confirm' && e.status === 200), 'the plain upload is confirmed');

  const expected = makeBytes(size, 51);
  expected[size - 1] ^= 0xff;
  const object = await env.dev.objectAt('race-miss.bin');
  assert.equal(object?.size, size);
  assert.equal(object?.sha256, sha256(expected), 'the stored file holds the bytes uploaded');
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
});

// Dropped once, the begin is sent again and refused (the path is taken now); dropped twice, it
// fails without an answer. Either way the file at the path settles it.
for (const drops of [1, 2]) {
  test(`quick upload racing the parts: a hit whose reply is lost (${drops}×) is settled by the file at the path, not stored twice`, { timeout: 90_000 }, async () => {
    const size = 64 * MIB + 5;
    const byte = 0x5a;
    await env.dev.post('seed', { path: `race-lost-source-${drops}.bin`, size, byte });
    await slowPartsAfterTheFirst(400);
    // From the third begin (202 candidate, 201 plain upload, then the one with the full hash):
    // handled — the hit stores the file — and the reply dropped.
    await env.dev.faults({ origin: 'smh', method: 'POST', query: 'multipart', skip: 2, times: drops, action: { type: 'dropReply' } });
    const mark = await env.dev.logMark();
    const record = await inPage(env, async ({ size, byte, options, path }) => {
      const client = await window.e2e.client(options);
      const blob = new Blob([new Uint8Array(size).fill(byte)]);
      return window.e2e.watch(hooks => client.upload(blob, path, { conflict: 'rename', ...hooks }), 60_000).finished;
    }, { size, byte, options: RACING, path: `race-lost-${drops}.bin` });
    assert.equal(record.error, undefined, explain(record, env));
    assert.equal(record.finalState, 'done');
    assert.equal(record.result.instant, true, `the lost hit is the result\n${explain(record, env)}`);
    assert.equal(record.result.path, `race-lost-${drops}.bin`);
    const dropped = (await env.dev.get('faults')).rules.find(r => r.action.type === 'dropReply');
    assert.equal(dropped.fired, drops, 'the replies of the begins with the full hash were dropped');
    const log = await env.dev.logSince(mark);
    assert.ok(!log.some(e => e.op === 'confirm'), `the plain upload is not confirmed: ${JSON.stringify(begins(log))}`);
    const object = await env.dev.objectAt(`race-lost-${drops}.bin`);
    assert.equal(object?.sha256, sha256(Buffer.alloc(size, byte)), 'the stored file holds the content');
    assert.equal(await env.dev.objectAt(`race-lost-${drops} (1).bin`), undefined, 'no second copy');
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  });
}

/**
 * A 202 for a file whose first MiB the library holds but not the rest: the library gets `size`
 * bytes of `byte` at `source`; the page uploads the same with its last byte changed (a miss,
 * whatever the timing). Returns the page's bytes' sha256.
 */
async function candidateButNotTheSame(source, size, byte) {
  await env.dev.post('seed', { path: source, size, byte });
  const bytes = Buffer.alloc(size, byte);
  bytes[size - 1] ^= 0xff;
  return sha256(bytes);
}

/**
 * Uploads `size` bytes of `byte`, the last one flipped, to `path` in the page, racing; once the
 * parts start, cancels, or pauses for 1.5 s and resumes. The page's record, and when
 * it paused and resumed.
 */
async function raceAndInterrupt(path, size, byte, action) {
  return inPage(env, async ({ path, size, byte, options, action }) => {
    const { e2e } = window;
    const bytes = new Uint8Array(size).fill(byte);
    bytes[size - 1] ^= 0xff;
    const client = await e2e.client(options);
    const w = e2e.watch(hooks => client.upload(new Blob([bytes]), path, hooks), 80_000);
    // At once when the parts start: the whole file's hash has just begun beside them.
    await e2e.until(() => w.task.state === 'uploading', 30_000, "state 'uploading'");
    if (action === 'cancel') {
      w.task.cancel();
      return { record: await w.finished };
    }
    w.task.pause();
    await e2e.until(() => w.task.state === 'paused', 10_000, "state 'paused'");
    const pausedAt = Date.now();
    await e2e.sleep(1500);
    const resumedAt = Date.now();
    w.task.resume();
    return { record: await w.finished, pausedAt, resumedAt };
  }, { path, size, byte, options: RACING, action });
}

test('quick upload racing the parts: pause stops parts and hash, resume finishes; progress never goes back', { timeout: 90_000 }, async () => {
  // Large enough that the hash is still going when the pause comes.
  const size = 64 * MIB + 9;
  const byte = 0x21;
  const sha = await candidateButNotTheSame('race-pause-source.bin', size, byte);
  await slowPartsAfterTheFirst(300);
  const mark = await env.dev.logMark();
  const out = await raceAndInterrupt('race-pause.bin', size, byte, 'pause');
  const { record } = out;
  assert.equal(record.error, undefined, explain(record, env));
  assert.equal(record.finalState, 'done');
  assert.equal(record.result.instant, false);
  const object = await env.dev.objectAt('race-pause.bin');
  assert.equal(object?.sha256, sha, 'the stored file holds the bytes uploaded');
  const log = await env.dev.logSince(mark);
  // Requests that arrived while paused (the devserver stamps arrival; 100 ms for one in transit).
  const whilePaused = log.filter(e => e.timeMs > out.pausedAt + 100 && e.timeMs < out.resumedAt && e.op !== 'createToken');
  assert.deepEqual(whilePaused, [], 'nothing sent while paused: no part, no begin');
  for (const phase of ['hashing', 'uploading']) {
    const loaded = record.progress.filter(p => p.phase === phase).map(p => p.loaded);
    assert.ok(loaded.every((n, i) => i === 0 || n >= loaded[i - 1]), `${phase} progress never decreases: ${loaded}`);
  }
  const paused = record.states.indexOf('paused');
  assert.ok(paused > 0 && record.states.slice(paused + 1).includes('uploading'), `states: ${record.states}`);
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
});

test('quick upload racing the parts: cancel stops parts and hash, nothing left open', { timeout: 90_000 }, async () => {
  const size = 24 * MIB + 11;
  const byte = 0x43;
  await candidateButNotTheSame('race-cancel-source.bin', size, byte);
  await slowPartsAfterTheFirst(300);
  const { record } = await raceAndInterrupt('race-cancel.bin', size, byte, 'cancel');
  assert.equal(record.finalState, 'cancelled', explain(record, env));
  assert.equal(record.error?.code, 'Aborted');
  await settleCos(env.dev, 800);
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  assert.equal(await env.dev.objectAt('race-cancel.bin'), undefined, 'no file stored');
});

test('quickUploadWait: a value that is not 0 – 2147483647 ms throws InvalidInput naming it', { timeout: 30_000 }, async () => {
  const errors = await inPage(env, () => {
    const { e2e } = window;
    const base = { baseUrl: e2e.ready.smh, libraryId: e2e.ready.libraryId, accessToken: 'unused' };
    return [-1, 1.5, 'soon', 2 ** 31].map(v => e2e.throws(() => new e2e.SmhClient({ ...base, quickUploadWait: v })));
  });
  for (const error of errors) {
    assert.equal(error?.code, 'InvalidInput', JSON.stringify(errors));
    assert.match(error.message, /quickUploadWait/);
  }
});
