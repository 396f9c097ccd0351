// Quick upload racing the parts in the imitation logic layer (tests/e2e/quick-race.test.mjs does
// it in Chromium): with `quickUploadWait: 0` the parts go while the logic layer hashes the whole
// file (read from the file system beside the parts' reads); the hit stops them and leaves nothing
// open. The cos origin holds every part but the first few, so that the hash ends first.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, assertPlatformRules, byteRequests, MIB, upload, useMiniProgram } from './helpers.mjs';

const env = useMiniProgram();

test('quick upload racing the parts: a hit stops them, reports instant and leaves nothing open', { timeout: 120_000 }, async () => {
  const size = 24 * MIB + 3;
  const small = { multipartThreshold: 2 * MIB, partSize: 1 * MIB };
  const first = await upload(env, { size, seed: 61, path: 'mp/race-a.bin', clientOptions: small, uploadOptions: { quickUpload: false } });
  await assertLanded(env, first, { path: 'mp/race-a.bin', size, seed: 61 });
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', skip: 3, times: 10_000, action: { type: 'delay', ms: 400 } });
  const mark = await env.dev.logMark();
  const clientOptions = { ...small, concurrency: 2, quickUploadWait: 0 };
  const second = await upload(env, { size, seed: 61, path: 'mp/race-b.bin', clientOptions, timeoutMs: 90_000 });
  await assertLanded(env, second, { path: 'mp/race-b.bin', size, seed: 61 });
  assert.equal(second.result.instant, true, 'a quick-upload hit');
  assert.ok(second.states.includes('uploading'), `the parts went while hashing: ${second.states}`);

  const log = await env.dev.logSince(mark);
  const begins = log.filter(e => e.op === 'begin');
  assert.deepEqual(begins.map(e => e.status), [202, 201, 200], `begins: ${JSON.stringify(begins)}`);
  const [, plain, hit] = begins;
  const stored = byteRequests(log).filter(e => e.status === 200);
  assert.ok(stored.some(e => e.seq > plain.seq && e.seq < hit.seq), `a part stored before the hit: ${JSON.stringify(stored)}`);
  assert.ok(log.some(e => e.op === 'cancel' && e.status === 204 && e.seq > hit.seq), 'the plain upload is cancelled after the hit');
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  assertPlatformRules(env.mp);
});
