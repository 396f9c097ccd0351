// Interop: Tencent's unmodified cos-nodejs-sdk-v5 against smh-devserver's cos origin, with
// signature checking on (spec/cos-api.md §9.3).
//
// Run: SMH_DEVSERVER_BIN=target/debug/smh-devserver node --test tests/interop/cos_node.test.mjs
// The SDK talks to Domain 127.0.0.1:P (no bucket in the request → the devserver's default bucket;
// it signs the host with its port).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const COS = createRequire(import.meta.url)('cos-nodejs-sdk-v5');
const MIB = 1024 * 1024;

// CRC-64/XZ (ECMA-182 reflected, init/xorout all ones; cos-api.md §3), independent of the server.
const CRC_TABLE = (() => {
  const poly = 0xC96C5795D7870F42n;
  return Array.from({ length: 256 }, (_, i) => {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    return c;
  });
})();
function crc64(buf) {
  let crc = 0xFFFFFFFFFFFFFFFFn;
  for (const byte of buf) crc = CRC_TABLE[Number((crc ^ BigInt(byte)) & 0xFFn)] ^ (crc >> 8n);
  return (crc ^ 0xFFFFFFFFFFFFFFFFn).toString();
}
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

let server, ready, cos, dataDir, workDir;

// Calls a callback-style SDK method as a promise.
const call = (method, params) =>
  new Promise((resolve, reject) => cos[method](params, (err, data) => (err ? reject(err) : resolve(data))));

before(async () => {
  const bin = process.env.SMH_DEVSERVER_BIN;
  if (!bin) {
    throw new Error('SMH_DEVSERVER_BIN is not set: point it at the smh-devserver binary '
      + '(e.g. target/debug/smh-devserver after `cargo build -p smh-devserver`)');
  }
  dataDir = mkdtempSync(join(tmpdir(), 'smh-interop-node-data-'));
  workDir = mkdtempSync(join(tmpdir(), 'smh-interop-node-files-'));
  server = spawn(bin, ['--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no READY line within 30 s')), 30000);
    server.on('exit', (code) => reject(new Error(`smh-devserver exited with ${code} before READY`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      if (line.startsWith('SMH_DEVSERVER_READY ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('SMH_DEVSERVER_READY '.length)));
      }
    });
  });
  cos = new COS({ SecretId: ready.secretId, SecretKey: ready.secretKey, Domain: ready.cos, Protocol: 'http:' });
});

after(() => {
  server?.kill('SIGKILL');
  for (const dir of [dataDir, workDir]) if (dir) rmSync(dir, { recursive: true, force: true });
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
