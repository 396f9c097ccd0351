// Interop: Tencent's unmodified cos-nodejs-sdk-v5 against smh-devserver's cos origin, with
// signature checking on (docs/cos-api.md §9.3).
//
// Run: SMH_DEVSERVER_BIN=target/debug/smh-devserver node --test tests/interop/cos_node.test.mjs
// The SDK talks to Domain 127.0.0.1:P (no bucket in the request → the devserver's default bucket;
// it signs the host with its port).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { crc64, sha256, startDevserver } from './devserver.mjs';

const COS = createRequire(import.meta.url)('cos-nodejs-sdk-v5');
const MIB = 1024 * 1024;

let devserver, ready, cos, workDir;

// Calls a callback-style SDK method as a promise.
const call = (method, params) =>
  new Promise((resolve, reject) => cos[method](params, (err, data) => (err ? reject(err) : resolve(data))));

before(async () => {
  devserver = await startDevserver();
  ready = devserver.ready;
  workDir = mkdtempSync(join(tmpdir(), 'smh-interop-node-files-'));
  cos = new COS({ SecretId: ready.secretId, SecretKey: ready.secretKey, Domain: ready.cos, Protocol: 'http:' });
});

after(async () => {
  await devserver?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const where = (Key) => ({ Bucket: ready.bucket, Region: ready.region, Key });

test('putObject, headObject, getObject with Range', async () => {
  const body = Buffer.from('hello world\n');
  const put = await call('putObject', { ...where('n/中文 a.txt'), Body: body, ContentType: 'text/plain' });
  assert.equal(put.statusCode, 200);
  assert.equal(put.ETag, '"6f5902ac237024bdd0c176cb93063dc4"');
  assert.equal(put.headers['x-cos-hash-crc64ecma'], crc64(body));

  const head = await call('headObject', where('n/中文 a.txt'));
  assert.equal(head.headers['content-length'], '12');
  assert.equal(head.headers['content-type'], 'text/plain');

  const got = await call('getObject', where('n/中文 a.txt'));
  assert.deepEqual(got.Body, body);
  const ranged = await call('getObject', { ...where('n/中文 a.txt'), Range: 'bytes=0-4' });
  assert.equal(ranged.statusCode, 206);
  assert.equal(ranged.Body.toString(), 'hello');
  assert.equal(ranged.headers['x-cos-hash-crc64ecma'], crc64(body));

  await call('deleteObject', where('n/中文 a.txt'));
  await assert.rejects(call('getObject', where('n/中文 a.txt')), (err) => err.statusCode === 404);
});

test('uploadFile slices a 3.5 MiB file into 1 MiB parts (with Content-MD5)', async () => {
  const content = randomBytes(3 * MIB + MIB / 2 + 999);
  const path = join(workDir, 'big.bin');
  writeFileSync(path, content);
  const done = await call('uploadFile', { ...where('n/big.bin'), FilePath: path, SliceSize: MIB, ChunkSize: MIB });
  assert.equal(done.statusCode, 200);
  assert.match(done.ETag, /^"[0-9a-f]{32}-4"$/);
  const got = await call('getObject', where('n/big.bin'));
  assert.equal(sha256(got.Body), sha256(content));
  assert.equal(got.headers['x-cos-hash-crc64ecma'], crc64(content));

  const listed = await call('getBucket', { Bucket: ready.bucket, Region: ready.region, Prefix: 'n/' });
  assert.deepEqual(listed.Contents.map((c) => c.Key), ['n/big.bin']);
  const uploads = await call('multipartList', { Bucket: ready.bucket, Region: ready.region, Prefix: 'n/' });
  assert.equal((uploads.Upload || []).length, 0, 'the multipart upload was completed');
});

test('sliceUploadFile of a small file and a wrong secret', async () => {
  const content = randomBytes(2 * MIB + 1);
  const path = join(workDir, 'slice.bin');
  writeFileSync(path, content);
  await call('sliceUploadFile', { ...where('n/slice.bin'), FilePath: path, ChunkSize: MIB });
  const got = await call('getObject', where('n/slice.bin'));
  assert.equal(got.headers['x-cos-hash-crc64ecma'], crc64(content));

  const wrong = new COS({ SecretId: ready.secretId, SecretKey: 'wrong', Domain: ready.cos, Protocol: 'http:' });
  await assert.rejects(
    new Promise((resolve, reject) =>
      wrong.putObject({ ...where('n/denied.txt'), Body: Buffer.from('x') }, (err, data) => (err ? reject(err) : resolve(data)))),
    (err) => err.statusCode === 403 && err.code === 'SignatureDoesNotMatch',
  );
});
