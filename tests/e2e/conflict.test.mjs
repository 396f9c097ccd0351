// Name conflicts (rename / overwrite / ask) and quick upload (秒传) of content the library
// already holds.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, byteRequests, expectedSha, explain, inPage, MIB, sha256, uploadInPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB };

const norm = p => (p ?? '').replace(/^\/+/, '');

test('conflict rename: the second upload gets a new name, the first file is untouched', { timeout: 60_000 }, async () => {
  const first = { path: 'rename.bin', size: 1000, seed: 200 };
  await assertLanded(env, await uploadInPage(env, first), first);
  const record = await uploadInPage(env, { path: first.path, size: 2000, seed: 201, uploadOptions: { conflict: 'rename' } });
  assert.equal(record.error, undefined, explain(record, env));
  const objects = (await env.dev.objects()).filter(o => /^rename.*\.bin$/.test(norm(o.smhPath)));
  assert.equal(objects.length, 2, `objects: ${JSON.stringify(objects)}`);
  const original = objects.find(o => norm(o.smhPath) === first.path);
  const renamed = objects.find(o => norm(o.smhPath) !== first.path);
  assert.equal(original.sha256, expectedSha(first.size, first.seed), 'the first file keeps its bytes');
  assert.equal(renamed.sha256, expectedSha(2000, 201), 'the renamed file holds the second upload');
  assert.equal(norm(record.result.path), norm(renamed.smhPath), 'result.path names the renamed file');
});

for (const [label, size, clientOptions] of [['simple', 3000, {}], ['multipart', 3 * MIB + 7, SMALL]]) {
  test(`conflict overwrite (${label}): the file is replaced`, { timeout: 60_000 }, async () => {
    const path = `overwrite-${label}.bin`;
    await assertLanded(env, await uploadInPage(env, { path, size: 10, seed: 210 }), { path, size: 10, seed: 210 });
    const second = { path, size, seed: 211 };
    const record = await uploadInPage(env, { ...second, clientOptions, uploadOptions: { conflict: 'overwrite' } });
    await assertLanded(env, record, second);
    assert.equal(norm(record.result.path), path);
    assert.equal(record.result.isOverwritten, true, 'result.isOverwritten');
    const backing = (await env.dev.objects()).filter(o => norm(o.smhPath) === path);
    assert.equal(backing.length, 1, `one object backs ${path}: ${JSON.stringify(backing)}`);
  });
}

for (const [label, size, clientOptions] of [['simple', 3000, {}], ['multipart', 3 * MIB + 7, SMALL]]) {
  test(`conflict ask (${label}): SameNameDirectoryOrFileExists, nothing changed or left open`, { timeout: 60_000 }, async () => {
    const path = `ask-${label}.bin`;
    const first = { path, size: 20, seed: 220 };
    await assertLanded(env, await uploadInPage(env, first), first);
    const record = await uploadInPage(env, { path, size, seed: 221, clientOptions, uploadOptions: { conflict: 'ask' } });
    assert.ok(record.error, `the upload should fail\n${explain(record, env)}`);
    assert.equal(record.error.name, 'SmhUploadError');
    assert.equal(record.error.code, 'SameNameDirectoryOrFileExists', explain(record, env));
    assert.equal(record.finalState, 'failed');
    const object = await env.dev.objectAt(path);
    assert.equal(object.sha256, expectedSha(first.size, first.seed), 'the existing file keeps its bytes');
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  });
}

/** Seeds `path` with `size` bytes of value `byte` through /_dev/seed (not through the SDK). */
async function seed(path, size, byte) {
  await env.dev.post('seed', { path, size, byte });
  return sha256(Buffer.alloc(size, byte));
}

for (const [label, size, clientOptions] of [['simple', 3 * MIB + 1, {}], ['multipart', 5 * MIB + 1, SMALL]]) {
  test(`quick upload (${label}) of content the library has: instant, no byte sent`, { timeout: 60_000 }, async () => {
    const byte = label === 'simple' ? 0x5a : 0xa5;
    const sha = await seed(`quick-source-${label}.bin`, size, byte);
    const path = `quick-copy-${label}.bin`;
    const mark = await env.dev.logMark();
    const record = await inPage(env, async ({ size, byte, path, clientOptions }) => {
      const client = await window.e2e.client(clientOptions);
      const blob = new Blob([new Uint8Array(size).fill(byte)]);
      return window.e2e.watch(hooks => client.upload(blob, path, hooks)).finished;
    }, { size, byte, path, clientOptions });
    assert.equal(record.error, undefined, explain(record, env));
    assert.equal(record.result.instant, true, `result.instant\n${explain(record, env)}`);
    const cos = await env.dev.logSince(mark, 'cos');
    assert.deepEqual(byteRequests(cos), [], 'no PutObject/UploadPart reached the cos origin');
    const object = await env.dev.objectAt(path);
    assert.ok(object, `no object backs ${path}`);
    assert.equal(object.size, size);
    assert.equal(object.sha256, sha);
    assert.equal(record.finalState, 'done');
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  });
}

test('quick upload: a second upload of the same bytes through the SDK is instant', { timeout: 60_000 }, async () => {
  const first = { path: 'quick-twice-a.bin', size: 2 * MIB + 99, seed: 230 };
  await assertLanded(env, await uploadInPage(env, first), first);
  const mark = await env.dev.logMark();
  const second = { ...first, path: 'quick-twice-b.bin' };
  const record = await uploadInPage(env, second);
  await assertLanded(env, record, second);
  assert.equal(record.result.instant, true, 'result.instant');
  assert.deepEqual(byteRequests(await env.dev.logSince(mark, 'cos')), [], 'no byte request');
});

test('quickUpload: false sends the bytes even when the library has them', { timeout: 60_000 }, async () => {
  const first = { path: 'noquick-a.bin', size: 1 * MIB + 5, seed: 240 };
  await assertLanded(env, await uploadInPage(env, first), first);
  const mark = await env.dev.logMark();
  const second = { ...first, path: 'noquick-b.bin' };
  const record = await uploadInPage(env, { ...second, uploadOptions: { quickUpload: false } });
  await assertLanded(env, record, second);
  assert.equal(record.result.instant, false);
  assert.equal(byteRequests(await env.dev.logSince(mark, 'cos')).filter(e => e.status === 200).length, 1);
});
