// The package's per-class browser entries (xtask/src/pkg.rs ENTRIES, package.json `exports`):
// `smh-upload/smh` (pkg/smh_client.js) has SmhClient and not CosUploader, `smh-upload/cos`
// (pkg/cos_uploader.js) has CosUploader and not SmhClient; each loads its own, smaller wasm with
// its own `init()` and uploads through the public API in headless Chromium — a multipart upload
// (CRCs from the Worker, which instantiates that entry's module) and a part re-sent after a 500.
// The bytes are checked through GET /_dev/objects (sha256 computed here), not the SDK's report.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { expectedSha, explain, inPage, MIB, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const SIZE = 3 * MIB + 12_345;
const OPTIONS = { multipartThreshold: 1 * MIB, partSize: 1 * MIB };

/** Imports `entry` in the page and reports its exports and the wasm it fetched. */
async function load(entry) {
  return inPage(env, async entry => {
    const module = await import(entry);
    await module.default();
    const wasm = performance.getEntriesByType('resource').map(r => r.name).filter(n => n.endsWith('.wasm'));
    return { exports: Object.keys(module).sort(), wasm };
  }, entry, 30_000);
}

test('smh-upload/smh: SmhClient alone, from its own wasm, uploads a multipart file', async () => {
  const { exports, wasm } = await load('/pkg/smh_client.js');
  assert.ok(exports.includes('SmhClient') && exports.includes('UploadTask'), `exports: ${exports}`);
  assert.ok(!exports.includes('CosUploader'), `smh_client.js must not export CosUploader: ${exports}`);
  assert.deepEqual(exports, ['SmhClient', 'UploadTask', 'default', 'initSync'], 'the public names only, not the wasm\'s own classes (nor a start function: the wasm has none)');
  assert.ok(wasm.some(n => n.endsWith('/pkg/smh_client_bg.wasm')), `wasm fetched: ${wasm}`);
  await env.dev.faults([{ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1, action: { type: 'status', status: 500 } }]);
  const record = await inPage(env, async ({ size, options }) => {
    const { SmhClient } = await import('/pkg/smh_client.js');
    const e2e = window.e2e;
    const r = e2e.ready;
    const client = new SmhClient({ baseUrl: r.smh, libraryId: r.libraryId, spaceId: r.spaceId, allowedDomains: [r.cos], accessToken: await e2e.token(), ...options });
    const { finished } = e2e.watch(hooks => client.upload(e2e.blob(size, 71), 'entries/smh.bin', { quickUpload: false, ...hooks }), 60_000);
    return finished;
  }, { size: SIZE, options: OPTIONS }, 65_000);
  assert.equal(record.error, undefined, explain(record, env));
  assert.equal(record.finalState, 'done');
  assert.equal((await env.dev.get('faults')).rules[0].fired, 1, 'one part was refused with a 500 and sent again');
  const object = await env.dev.objectAt('entries/smh.bin');
  assert.ok(object, 'the library holds entries/smh.bin');
  assert.equal(object.size, SIZE);
  assert.equal(object.sha256, expectedSha(SIZE, 71));
  assert.equal(record.result.crc64, object.crc64, 'result.crc64 is the stored CRC-64');
});

test('smh-upload/cos: CosUploader alone, from its own wasm, uploads a multipart object', async () => {
  const { exports, wasm } = await load('/pkg/cos_uploader.js');
  assert.ok(exports.includes('CosUploader') && exports.includes('UploadTask'), `exports: ${exports}`);
  assert.ok(!exports.includes('SmhClient'), `cos_uploader.js must not export SmhClient: ${exports}`);
  assert.deepEqual(exports, ['CosUploader', 'UploadTask', 'default', 'initSync'], 'the public names only, not the wasm\'s own classes (nor a start function: the wasm has none)');
  assert.ok(wasm.some(n => n.endsWith('/pkg/cos_uploader_bg.wasm')), `wasm fetched: ${wasm}`);
  await env.dev.faults([{ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1, action: { type: 'status', status: 500 } }]);
  const record = await inPage(env, async ({ size, options }) => {
    const { CosUploader } = await import('/pkg/cos_uploader.js');
    const e2e = window.e2e;
    const r = e2e.ready;
    const getCredentials = async () => (await fetch('/credentials', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json();
    const cos = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials, ...options });
    const { finished } = e2e.watch(hooks => cos.upload(e2e.blob(size, 72), 'entries/cos.bin', hooks), 60_000);
    return finished;
  }, { size: SIZE, options: OPTIONS }, 65_000);
  assert.equal(record.error, undefined, explain(record, env));
  assert.equal(record.finalState, 'done');
  assert.equal((await env.dev.get('faults')).rules[0].fired, 1, 'one part was refused with a 500 and sent again');
  const object = (await env.dev.objects()).find(o => o.key === 'entries/cos.bin');
  assert.ok(object, 'the bucket holds entries/cos.bin');
  assert.equal(object.size, SIZE);
  assert.equal(object.sha256, expectedSha(SIZE, 72));
  assert.equal(record.result.crc64, object.crc64, 'result.crc64 is the stored CRC-64');
});
