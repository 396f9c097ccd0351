// Interop: Tencent's unmodified cos-nodejs-sdk-v5 uploading with temporary keys from the
// devserver's customer backend (`POST /credentials` on the app origin, docs/cos-api.md §7), fed
// through the SDK's `getAuthorization` option as a browser app would (docs/cos-api.md §7.3).
//
// Run: SMH_DEVSERVER_BIN=target/debug/smh-devserver node --test tests/interop/cos_node_credentials.test.mjs

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

let devserver, ready, workDir;

before(async () => {
  devserver = await startDevserver();
  ready = devserver.ready;
  workDir = mkdtempSync(join(tmpdir(), 'smh-interop-node-sts-'));
});

after(async () => {
  await devserver?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function appPost(path, body) {
  const r = await fetch(`${ready.app}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return r.json();
}

/**
 * A COS client whose `getAuthorization` asks the backend for keys (STS shape, or the VOD shape
 * mapped onto the SDK's fields); `calls` counts the backend calls.
 */
function clientWith(body, shape = 'sts') {
  const client = { calls: 0, last: null };
  client.cos = new COS({
    Domain: ready.cos,
    Protocol: 'http:',
    getAuthorization(_options, callback) {
      client.calls += 1;
      appPost(`/credentials?shape=${shape}`, body).then((issued) => {
        client.last = issued;
        if (shape === 'vod') {
          const c = issued.Response.Credentials;
          callback({
            TmpSecretId: c.AccessKeyId, TmpSecretKey: c.SecretAccessKey, SecurityToken: c.SessionToken,
            ExpiredTime: Math.floor(Date.parse(c.Expiration) / 1000),
          });
        } else {
          const c = issued.Credentials;
          callback({
            TmpSecretId: c.TmpSecretId, TmpSecretKey: c.TmpSecretKey, SecurityToken: c.Token,
            StartTime: issued.StartTime, ExpiredTime: issued.ExpiredTime,
          });
        }
      }, (err) => callback({ error: err }));
    },
  });
  client.call = (method, params) => new Promise((resolve, reject) =>
    client.cos[method]({ Bucket: ready.bucket, Region: ready.region, ...params }, (err, data) => (err ? reject(err) : resolve(data))));
  return client;
}

/** The bucket's record of `key` (`/_dev/objects`), independent of what the SDK reports. */
async function stored(key) {
  const objects = await (await fetch(`${ready.app}/_dev/objects`)).json();
  return objects.find((o) => o.key === key);
}

test('STS keys from POST /credentials: putObject and a sliced upload, keys fetched once', async () => {
  const client = clientWith({ prefix: 'sts/' });
  const small = randomBytes(1000);
  const put = await client.call('putObject', { Key: 'sts/small.bin', Body: small });
  assert.equal(put.statusCode, 200);
  assert.equal(put.headers['x-cos-hash-crc64ecma'], crc64(small));

  const big = randomBytes(3 * MIB + 12345);
  const path = join(workDir, 'big.bin');
  writeFileSync(path, big);
  const done = await client.call('sliceUploadFile', { Key: 'sts/big.bin', FilePath: path, ChunkSize: MIB });
  assert.equal(done.statusCode, 200);
  assert.match(done.ETag, /^"[0-9a-f]{32}-4"$/);
  for (const [key, bytes] of [['sts/small.bin', small], ['sts/big.bin', big]]) {
    const object = await stored(key);
    assert.equal(object?.sha256, sha256(bytes), key);
    assert.equal(object.crc64, crc64(bytes), key);
  }
  assert.equal(client.calls, 1, '30 minutes of validity: the SDK caches the keys');

  // Outside the prefix: COS refuses.
  await assert.rejects(client.call('putObject', { Key: 'elsewhere/x.bin', Body: Buffer.from('x') }),
    (err) => err.statusCode === 403 && err.code === 'AccessDenied');

  // Expired on the server while the SDK still holds them: COS's "Request has expired".
  const id = client.last.Credentials.TmpSecretId;
  assert.deepEqual(await appPost('/_dev/credentials/expire', { tmpSecretId: id }), { expired: 1 });
  await assert.rejects(client.call('putObject', { Key: 'sts/late.bin', Body: Buffer.from('late') }),
    (err) => err.statusCode === 403 && err.code === 'AccessDenied' && /Request has expired/.test(err.message));
  assert.equal(await stored('sts/late.bin'), undefined);
});

test('short-lived keys are fetched again for each request', async () => {
  // The SDK renews keys that have 60 s or less left before every request (docs/cos-api.md §7.3).
  const client = clientWith({ durationSeconds: 45 });
  for (const n of [1, 2, 3]) {
    const put = await client.call('putObject', { Key: `short/${n}.bin`, Body: Buffer.from(`n${n}`) });
    assert.equal(put.statusCode, 200);
  }
  assert.equal(client.calls, 3);
});

test('VOD CreateStorageCredentials keys (?shape=vod) upload too', async () => {
  const client = clientWith({}, 'vod');
  const video = randomBytes(2 * MIB + 7);
  const path = join(workDir, 'video.mp4');
  writeFileSync(path, video);
  await client.call('sliceUploadFile', { Key: 'vod/video.mp4', FilePath: path, ChunkSize: MIB });
  const object = await stored('vod/video.mp4');
  assert.equal(object?.sha256, sha256(video));
  assert.equal(object.crc64, crc64(video));
  assert.ok(client.last.Response.RequestId);
});
