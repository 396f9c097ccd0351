// Side by side with what mini-program developers use today: Tencent's cos-wx-sdk-v5 (from npm,
// unmodified, loaded as "build npm" bundles it) in the same imitated logic layer, against the
// devserver's cos origin signing with the READY keys. The same 64 MiB file is uploaded by
// smh-upload (through SMH) and by cos-wx-sdk-v5's sliceUploadFile (1 MiB parts, 3 at a time,
// its defaults); its small-file path postObject (wx.uploadFile, multipart/form-data POST) too.
// Every upload's bytes are checked on the devserver; the times are printed as a table.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { assertLanded, assertPlatformRules, bounded, expectedSha, makeBytes, MIB, upload, useMiniProgram } from './helpers.mjs';

const env = useMiniProgram();
const SIZE = 64 * MIB;
const rows = [];

/** The bucket object stored under `key`. */
async function objectWithKey(key) {
  return (await env.dev.objects()).find(o => o.key === key);
}

function rate(seconds) {
  return `${(SIZE / MIB / seconds).toFixed(1)} MiB/s`;
}

test('64 MiB: smh-upload (defaults: 2 MiB parts × 3, quick-upload hashing first)', { timeout: 180_000 }, async () => {
  const record = await upload(env, { size: SIZE, seed: 6401, path: 'compare/smh-default.bin', timeoutMs: 170_000 });
  await assertLanded(env, record, { path: 'compare/smh-default.bin', size: SIZE, seed: 6401 });
  rows.push(['smh-upload, defaults (hash + 2 MiB × 3)', record.seconds]);
  assertPlatformRules(env.mp);
});

test('64 MiB: smh-upload without quick upload (no hashing)', { timeout: 180_000 }, async () => {
  const record = await upload(env, { size: SIZE, seed: 6402, path: 'compare/smh-nohash.bin', uploadOptions: { quickUpload: false }, timeoutMs: 170_000 });
  await assertLanded(env, record, { path: 'compare/smh-nohash.bin', size: SIZE, seed: 6402 });
  rows.push(['smh-upload, quickUpload: false (2 MiB × 3)', record.seconds]);
});

test('64 MiB: cos-wx-sdk-v5 sliceUploadFile (its defaults: 1 MiB × 3)', { timeout: 300_000 }, async () => {
  const file = env.mp.addFile('cos-slice.bin', makeBytes(SIZE, 6403));
  const key = 'compare/cos-wx-slice.bin';
  const started = Date.now();
  const data = await bounded(env.page.cosCall(env.ready, 'sliceUploadFile', { Key: key, FilePath: file.path, FileSize: SIZE }), 290_000, 'sliceUploadFile');
  const seconds = (Date.now() - started) / 1000;
  assert.equal(data.statusCode, 200, JSON.stringify(data));
  const object = await objectWithKey(key);
  assert.ok(object, 'the object exists');
  assert.equal(object.sha256, expectedSha(SIZE, 6403));
  rows.push(['cos-wx-sdk-v5 sliceUploadFile (1 MiB × 3)', seconds]);
  assertPlatformRules(env.mp);
});

test('cos-wx-sdk-v5 postObject (wx.uploadFile, multipart/form-data POST) of 256 KiB', { timeout: 60_000 }, async () => {
  const size = 256 * 1024;
  const file = env.mp.addFile('cos-post.bin', makeBytes(size, 6404));
  const key = 'compare/cos-wx-post.bin';
  const data = await bounded(env.page.cosCall(env.ready, 'postObject', { Key: key, FilePath: file.path }), 50_000, 'postObject');
  assert.equal(data.statusCode, 200, JSON.stringify(data));
  const posts = env.mp.stats.requests.filter(r => r.api === 'uploadFile');
  assert.ok(posts.length >= 1, 'it went through wx.uploadFile');
  const object = await objectWithKey(key);
  assert.ok(object, 'the object exists');
  assert.equal(object.size, size);
  assert.equal(object.sha256, expectedSha(size, 6404));
});

after(() => {
  if (!rows.length) return;
  console.log(`\n64 MiB in the imitated mini-program (loopback devserver, ${new Date().toISOString()}):`);
  console.log('| uploader | seconds | rate |\n|---|---|---|');
  for (const [name, seconds] of rows) console.log(`| ${name} | ${seconds.toFixed(2)} | ${rate(seconds)} |`);
});
