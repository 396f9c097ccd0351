// CosUploader in smh-upload's mini-program build, in the imitated logic layer (harness.mjs),
// against the devserver's cos origin with keys from its `POST /credentials`: a small file (one
// PutObject) and a multipart one, files given as `{filePath, size}`, cancel leaving nothing open.
// Bytes are checked through GET /_dev/objects (sha256), requests through GET /_dev/log.

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, test } from 'node:test';

import { startSuiteDevserver } from '../e2e/helpers.mjs';
import { MiniProgram } from './harness.mjs';
import { assertPlatformRules, bounded, expectedSha, makeBytes, MIB, packageDir, until } from './helpers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGE = '/pages/cos/cos.js';
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB };

const env = {};
let server;
before(async () => {
  server = await startSuiteDevserver(env);
  env.mp = new MiniProgram({
    packages: { 'smh-upload': packageDir() },
    pages: { 'pages/cos/cos.js': join(HERE, 'cos-page.js') },
    domains: [new URL(env.ready.app).host, env.ready.cos],
  });
  env.page = env.mp.require(PAGE);
  await env.page.load();
  assert.ok(env.page.hasCosUploader(), 'the mini-program build exports CosUploader');
});
beforeEach(async () => {
  await env.dev.del('faults');
});
after(async () => {
  env.mp?.close();
  await server?.stop();
});

/** Uploads `makeBytes(size, seed)` as a mini-program file; the page's record. */
async function upload({ key, size, seed, options = SMALL }) {
  const file = env.mp.addFile(key.split('/').pop(), makeBytes(size, seed));
  const { finished } = env.page.start({ ready: env.ready, file: { filePath: file.path, size: file.size }, key, options });
  return bounded(finished, 60_000, `upload of ${key}`);
}

async function assertStored(record, { key, size, seed }) {
  assert.equal(record.error, undefined, `upload of ${key} failed: ${JSON.stringify(record)}`);
  assert.equal(record.finalState, 'done');
  const object = (await env.dev.objects()).find(o => o.key === key);
  assert.ok(object, `no object at ${key}`);
  assert.equal(object.size, size);
  assert.equal(object.sha256, expectedSha(size, seed), `sha256 of ${key}`);
  assert.equal(record.result.key, key);
  assert.equal(record.result.size, size);
  assert.equal(record.result.crc64, object.crc64, 'result.crc64 is the stored CRC-64');
  assert.equal(record.result.etag, object.etag);
  assert.deepEqual([...record.warnings], [], 'no CrcNotChecked: the CRC-64 was compared');
}

test('mini-program CosUploader: a small file is one PutObject', { timeout: 60_000 }, async () => {
  const c = { key: 'mp-cos/small.bin', size: 1000, seed: 11 };
  const mark = await env.dev.logMark();
  const record = await upload(c);
  await assertStored(record, c);
  const sent = (await env.dev.logSince(mark, 'cos')).map(e => `${e.op} ${e.status}`);
  assert.deepEqual(sent, ['PutObject 200']);
  assert.equal(record.credentialCalls, 1);
  assertPlatformRules(env.mp);
});

test('mini-program CosUploader: a multipart file (6 parts) lands whole', { timeout: 90_000 }, async () => {
  const c = { key: 'mp-cos/multipart.bin', size: 5 * MIB + 3, seed: 12 };
  const mark = await env.dev.logMark();
  const record = await upload(c);
  await assertStored(record, c);
  const sent = await env.dev.logSince(mark, 'cos');
  const parts = sent.filter(e => e.op === 'UploadPart' && e.status === 200);
  assert.equal(parts.length, 6, sent.map(e => `${e.op} ${e.status}`).join(', '));
  assert.equal(parts.reduce((n, e) => n + e.bytesIn, 0), c.size);
  assert.ok(sent.some(e => e.op === 'CompleteMultipartUpload' && e.status === 200));
  assert.deepEqual((await env.dev.uploads()).cos, [], 'nothing left open');
  assertPlatformRules(env.mp);
});

test('mini-program CosUploader: cancel aborts on COS, nothing left open', { timeout: 90_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 300 } });
  const key = 'mp-cos/cancelled.bin';
  const file = env.mp.addFile('cancelled.bin', makeBytes(8 * MIB, 13));
  const { task, finished } = env.page.start({ ready: env.ready, file: { filePath: file.path, size: file.size }, key, options: { ...SMALL, concurrency: 2 } });
  await until(() => task.progress.loaded >= MIB, 30_000, '1 MiB sent');
  task.cancel();
  const record = await bounded(finished, 30_000, 'the cancelled upload');
  assert.equal(record.finalState, 'cancelled', JSON.stringify(record));
  const end = Date.now() + 10_000;
  let open = (await env.dev.uploads()).cos;
  while (open.length && Date.now() < end) {
    await new Promise(r => setTimeout(r, 100));
    open = (await env.dev.uploads()).cos;
  }
  assert.deepEqual(open, [], 'no multipart upload left open');
  assert.equal((await env.dev.objects()).find(o => o.key === key), undefined);
});
