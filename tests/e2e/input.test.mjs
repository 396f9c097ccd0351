// Bad input: each mistake throws SmhUploadError code 'InvalidInput' synchronously (from the
// constructor or from upload(), not through done()), names no token, and sends nothing.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { inPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
/** A token-looking secret: no error message may contain it. */
const SECRET = 'tok-SECRET-5f3b9c0e7a1d4e2b';

const CLIENT_CASES = [
  ['unknown client option', { bogusOption: 1 }],
  ['concurrency 0', { concurrency: 0 }],
  ['concurrency 1000', { concurrency: 1000 }],
  ['partSize below 1 MiB', { partSize: 1024 * 1024 - 1 }],
  ['partSize 512 KiB', { partSize: 512 * 1024 }],
  ['missing token', { accessToken: undefined }],
  ['empty token', { accessToken: '' }],
  ['getAccessToken not a function', { accessToken: undefined, getAccessToken: 'nope' }],
  ['baseUrl plain http to a non-loopback host', { baseUrl: 'http://smh.example.com' }],
  ['allowedDomains not an array', { allowedDomains: '127.0.0.1' }],
];

const UPLOAD_CASES = [
  ['file is a string', { file: 'string' }],
  ['file is a plain object', { file: 'object' }],
  ['file is null', { file: 'null' }],
  ['path with ..', { path: 'a/../b.bin' }],
  ['path that is ..', { path: '..' }],
  ['path with //', { path: 'a//b.bin' }],
  ['path with a trailing /', { path: 'a/' }],
  ['path with a NUL', { path: 'a\u0000b.bin' }],
  ['path with a newline', { path: 'a\nb.bin' }],
  ['path with DEL', { path: 'a\u007fb.bin' }],
  ['empty path', { path: '' }],
  ['path not a string', { path: 42 }],
  ['unknown upload option', { options: { bogusOption: true } }],
  ['conflict not one of rename/overwrite/ask', { options: { conflict: 'replace' } }],
];

function assertInvalidInput(error, what) {
  assert.ok(error, `${what}: nothing was thrown synchronously`);
  assert.equal(error.name, 'SmhUploadError', `${what}: ${JSON.stringify(error)}`);
  assert.equal(error.code, 'InvalidInput', `${what}: ${JSON.stringify(error)}`);
  assert.ok(!error.message.includes(SECRET), `${what}: the message contains the token: ${error.message}`);
  assert.ok(error.message.length > 0, `${what}: empty message`);
}

test('bad client options throw InvalidInput synchronously', { timeout: 60_000 }, async () => {
  const mark = await env.dev.logMark();
  const results = await inPage(env, ({ cases, SECRET }) => {
    const { e2e } = window;
    const r = e2e.ready;
    const base = { baseUrl: r.smh, libraryId: r.libraryId, spaceId: r.spaceId, accessToken: SECRET, allowedDomains: [r.cos] };
    return cases.map(([name, overrides]) => {
      // JSON cannot carry `undefined`: a key set to null here means "delete it".
      const options = { ...base, ...overrides };
      for (const k of Object.keys(overrides)) if (overrides[k] === null) delete options[k];
      return [name, e2e.throws(() => new e2e.SmhClient(options))];
    });
  }, { cases: CLIENT_CASES.map(([n, o]) => [n, Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === undefined ? null : v]))]), SECRET });
  for (const [name, error] of results) assertInvalidInput(error, name);
  assert.deepEqual(await env.dev.logSince(mark), [], 'requests sent');
});

test('bad upload arguments throw InvalidInput synchronously', { timeout: 60_000 }, async () => {
  const mark = await env.dev.logMark();
  const results = await inPage(env, ({ cases, SECRET }) => {
    const { e2e } = window;
    const r = e2e.ready;
    const client = new e2e.SmhClient({ baseUrl: r.smh, libraryId: r.libraryId, spaceId: r.spaceId, accessToken: SECRET, allowedDomains: [r.cos] });
    const files = { string: 'hello', object: { size: 3, name: 'x' }, null: null };
    return cases.map(([name, c]) => {
      const file = c.file ? files[c.file] : new Blob(['abc']);
      const path = 'path' in c ? c.path : 'input-ok.bin';
      return [name, e2e.throws(() => client.upload(file, path, c.options))];
    });
  }, { cases: UPLOAD_CASES, SECRET });
  for (const [name, error] of results) assertInvalidInput(error, name);
  assert.deepEqual(await env.dev.logSince(mark), [], 'requests sent');
});

test('a valid client and path are accepted (the cases above fail for their own reason)', { timeout: 60_000 }, async () => {
  const error = await inPage(env, ({ SECRET }) => {
    const { e2e } = window;
    const r = e2e.ready;
    return e2e.throws(() => {
      const client = new e2e.SmhClient({ baseUrl: r.smh, libraryId: r.libraryId, spaceId: r.spaceId, accessToken: SECRET, allowedDomains: [r.cos], concurrency: 32, partSize: 1024 * 1024 });
      const task = client.upload(new Blob(['abc']), 'dir ok/名字 (1).bin', { conflict: 'ask' });
      task.cancel();
    });
  }, { SECRET });
  assert.equal(error, null, `threw: ${JSON.stringify(error)}`);
});

test('a rejected token: the error does not contain it', { timeout: 60_000 }, async () => {
  const record = await inPage(env, async ({ SECRET }) => {
    const { e2e } = window;
    const client = await e2e.client({ accessToken: SECRET });
    return e2e.watch(hooks => client.upload(new Blob(['abc']), 'input-bad-token.bin', hooks), 20_000).finished;
  }, { SECRET });
  assert.ok(record.error, 'the upload should fail');
  assert.equal(record.error.name, 'SmhUploadError');
  assert.ok(!record.error.message.includes(SECRET), `the message contains the token: ${record.error.message}`);
  assert.equal(record.error.status, 403, JSON.stringify(record.error));
});
