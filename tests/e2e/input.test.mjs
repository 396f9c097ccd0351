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

test('each InvalidInput names the option or argument at fault', { timeout: 60_000 }, async () => {
  const mark = await env.dev.logMark();
  const results = await inPage(env, async ({ SECRET }) => {
    const { e2e } = window;
    const { CosUploader } = await import('/pkg/smh_upload.js');
    const r = e2e.ready;
    const base = { baseUrl: r.smh, libraryId: r.libraryId, spaceId: r.spaceId, accessToken: SECRET, allowedDomains: [r.cos], checkpoints: 'none' };
    const client = new e2e.SmhClient(base);
    const blob = new Blob(['abc']);
    const cos = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials: () => ({}), checkpoints: 'none' });
    const cases = {
      concurrency: () => new e2e.SmhClient({ ...base, concurrency: NaN }),
      partSize: () => new e2e.SmhClient({ ...base, partSize: 1000 }),
      requestTimeout: () => new e2e.SmhClient({ ...base, requestTimeout: 99 }),
      offlineTimeout: () => new e2e.SmhClient({ ...base, offlineTimeout: 2 ** 31 }),
      checkpoints: () => new e2e.SmhClient({ ...base, checkpoints: { get() {}, set() {} } }),
      createParents: () => new e2e.SmhClient({ ...base, createParents: 'yes' }),
      accessToken: () => new e2e.SmhClient({ ...base, accessToken: undefined }),
      file: () => client.upload('not a blob', 'x.bin'),
      path: () => client.upload(blob, 'a//b'),
      conflictt: () => client.upload(blob, 'x.bin', { conflictt: 'ask' }),
      signal: () => client.upload(blob, 'x.bin', { signal: {} }),
      onProgress: () => client.upload(blob, 'x.bin', { onProgress: 'log' }),
      getCredentials: () => new CosUploader({ bucket: r.bucket, region: r.region, getCredentials: 'keys' }),
      // Names equal but for case would be two headers that XHR merges into one the signature
      // does not match.
      meta: () => cos.upload(blob, 'meta.bin', { meta: { Title: 'a', title: 'b' } }),
      key: () => cos.upload(blob, 42),
    };
    return Object.entries(cases).map(([option, f]) => [option, e2e.throws(f)]);
  }, { SECRET });
  for (const [option, error] of results) {
    assertInvalidInput(error, option);
    assert.ok(error.message.includes(`\`${option}\``), `${option}: the message does not name it: ${error.message}`);
    assert.deepEqual([error.status, error.requestId, error.retryable], [0, null, false], option);
  }
  assert.deepEqual(await env.dev.logSince(mark), [], 'requests sent');
});

test('getAccessToken may return any thenable or another realm\'s promise; one that never settles fails within requestTimeout', { timeout: 60_000 }, async () => {
  const outcome = await inPage(env, async () => {
    const { e2e } = window;
    const token = await e2e.token();
    const frame = document.createElement('iframe');
    document.body.appendChild(frame);
    const OtherPromise = frame.contentWindow.Promise;
    const run = async (name, getAccessToken, clientOptions = {}) => {
      const client = await e2e.client({ getAccessToken, checkpoints: 'none', ...clientOptions });
      const record = await e2e.watch(hooks => client.upload(new Blob([name]), `thenable-${name}.bin`, hooks), 20_000).finished;
      return { result: record.result && record.result.path, error: record.error, finalState: record.finalState };
    };
    return {
      thenable: await run('thenable', () => ({ then(resolve) { setTimeout(() => resolve(token), 10); } })),
      realm: await run('realm', () => OtherPromise.resolve(token)),
      plain: await run('plain', () => token),
      never: await run('never', () => new Promise(() => {}), { requestTimeout: 300 }),
      empty: await run('empty', async () => ''),
      throws: await run('throws', () => { throw new Error('no session'); }),
    };
  });
  for (const name of ['thenable', 'realm', 'plain']) {
    assert.equal(outcome[name].result, `thenable-${name}.bin`, `${name}: ${JSON.stringify(outcome[name])}`);
  }
  const failed = (name, message) => {
    const { error, finalState } = outcome[name];
    assert.equal(error && error.code, 'AccessTokenError', `${name}: ${JSON.stringify(outcome[name])}`);
    assert.equal(error.name, 'SmhUploadError');
    assert.equal(error.message, `cannot get an access token: ${message}`);
    assert.equal(finalState, 'failed', name);
  };
  failed('never', 'getAccessToken did not settle within 300 ms (requestTimeout)');
  failed('empty', 'getAccessToken must resolve to a non-empty string');
  failed('throws', 'getAccessToken threw: no session');
});
