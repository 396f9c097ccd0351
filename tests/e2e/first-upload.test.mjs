// The first upload of a page does not wait on the SDK's own start-up (issue 20): a client starts
// the hashing Worker and opens its 'local' checkpoint database when it is made — a page that only
// loads the package starts neither — so both are ready, or under way, by upload(); an upload
// whose Worker is slow to start sends its first request without waiting for it (the first MiB's
// hash, which comes before that request, is WebCrypto's in the page meanwhile) and still hashes
// its parts in the Worker; and an upload whose Worker cannot start at all still lands, hashed in
// the page. Each test loads the fixture page afresh with `Worker`, `indexedDB.open` and
// `XMLHttpRequest.open` wrapped to record when the SDK calls them.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MIB, assertLanded, useEnvironment } from './helpers.mjs';

const env = useEnvironment();

/** Two parts of 1 MiB: multipart, so the upload reads its record first. */
const SIZE = 2 * MIB;
const PARTS = { partSize: MIB, multipartThreshold: MIB };

/** Init script: records in `window.startEvents` (`{what, ms}`) each `new Worker`, its `ready`,
 *  each request posted to it, each `indexedDB.open` and each request opened; `mark(what)` adds
 *  the page's own. `delayMs` delays every message to the Worker (a Worker slow to start: the
 *  wasm module arrives late); `refuse` makes `new Worker` throw (a CSP without worker-src). */
function watchStart({ delayMs, refuse }) {
  const events = (window.startEvents = []);
  const mark = (window.mark = what => events.push({ what, ms: performance.now() }));
  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(...args) {
      mark('new Worker');
      if (refuse) throw new Error('refused by the test');
      super(...args);
      this.addEventListener('message', ({ data }) => data && data.ready && mark('Worker ready'));
    }
    postMessage(message, ...rest) {
      if (message && message.op) mark(`Worker ${message.op}`);
      if (delayMs) setTimeout(() => super.postMessage(message, ...rest), delayMs);
      else super.postMessage(message, ...rest);
    }
  };
  const open = indexedDB.open.bind(indexedDB);
  indexedDB.open = (...args) => (mark('indexedDB.open'), open(...args));
  const xhrOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    mark(`request ${method} ${new URL(url, location.href).pathname}`);
    return xhrOpen.call(this, method, url, ...rest);
  };
}

/**
 * Loads the fixture page afresh with `watchStart(options)` (and the Worker script answering 404
 * when `workerScript404`), then in it: waits `idleMs`, makes a client with `clientOptions` and
 * at once uploads `makeBytes(SIZE, seed)` to `path`. Returns the upload's record and the
 * events, each `{what, ms}` with `ms` counted from the upload() call.
 */
async function firstUpload({ path, seed, clientOptions = {}, delayMs = 0, refuse = false, workerScript404 = false, idleMs = 200 }) {
  const page = await env.page.context().newPage();
  try {
    await page.addInitScript(watchStart, { delayMs, refuse });
    if (workerScript404) await page.route('**/smh_upload_worker.js', route => route.fulfill({ status: 404, body: 'not here' }));
    await page.goto(`${env.ready.app}/`);
    await page.waitForFunction(() => window.e2eReady !== undefined, null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.e2eReady), true);
    return await page.evaluate(async ({ ready, path, seed, size, clientOptions, idleMs }) => {
      window.e2e.configure(ready);
      const blob = window.e2e.blob(size, seed);
      const token = await window.e2e.token();
      await window.e2e.sleep(idleMs);
      window.mark('client');
      const client = await window.e2e.client({ accessToken: token, ...clientOptions });
      window.mark('upload()');
      const { finished } = window.e2e.watch(hooks => client.upload(blob, path, hooks), 60_000);
      const record = await finished;
      const events = window.startEvents;
      const zero = events.find(e => e.what === 'upload()').ms;
      return { record, events: events.map(e => ({ what: e.what, ms: Math.round(e.ms - zero) })) };
    }, { ready: env.ready, path, seed, size: SIZE, clientOptions: { ...PARTS, ...clientOptions }, idleMs });
  } finally {
    await page.close();
  }
}

const index = (events, what) => events.findIndex(e => e.what === what);

test('a client starts the Worker and opens its checkpoint database when it is made, not on its first upload', async () => {
  const path = 'first-upload-ready.bin';
  const { record, events } = await firstUpload({ path, seed: 301, idleMs: 300 });
  const seen = JSON.stringify(events);
  await assertLanded(env, record, { path, size: SIZE, seed: 301 });
  // Loading the package and init() start nothing: the page may never upload.
  assert.equal(events[0].what, 'client', `nothing before the client is made: ${seen}`);
  const [client, upload] = [index(events, 'client'), index(events, 'upload()')];
  for (const what of ['new Worker', 'indexedDB.open']) {
    const at = index(events, what);
    assert.ok(at > client && at < upload, `${what} while the client is made, before upload(): ${seen}`);
    assert.equal(events.filter(e => e.what === what).length, 1, `${what} once: ${seen}`);
  }
  assert.ok(index(events, 'Worker crc64') > upload, `the parts are hashed in the Worker: ${seen}`);
});

test('the first request does not wait for a Worker slow to start; the parts are still hashed in it', async () => {
  // Every message to the Worker is held for DELAY_MS: before the change the first MiB's hash
  // (the record key of a Blob, quick upload's beginning hash) waited for the Worker, so the first
  // request came DELAY_MS after upload() at the earliest.
  const DELAY_MS = 3000;
  for (const [name, clientOptions] of [['defaults', {}], ['no checkpoints', { checkpoints: 'none' }]]) {
    const path = `first-upload-slow-worker-${name.replace(' ', '-')}.bin`;
    const seed = 302 + Object.keys(clientOptions).length;
    const { record, events } = await firstUpload({ path, seed, clientOptions, delayMs: DELAY_MS });
    const seen = `${name}: ${JSON.stringify(events)}`;
    await assertLanded(env, record, { path, size: SIZE, seed });
    const first = events.find(e => e.what.startsWith('request '));
    assert.ok(first && first.what.includes('/api/v1/file/'), `the first request is SMH's begin: ${seen}`);
    assert.ok(first.ms < DELAY_MS / 2, `the first request ${first.ms} ms after upload(), well before the Worker could answer (${DELAY_MS} ms): ${seen}`);
    assert.ok(index(events, 'Worker crc64') > index(events, 'upload()'), `the parts are hashed in the Worker: ${seen}`);
    assert.ok(index(events, 'Worker ready') > index(events, first.what), `the Worker was ready only after the first request: ${seen}`);
  }
});

test('a Worker that cannot start leaves the uploads to the page, which still land', async () => {
  for (const [name, options] of [['new Worker throws', { refuse: true }], ['its script is missing', { workerScript404: true }]]) {
    const path = `first-upload-no-worker-${options.refuse ? 'refused' : 'missing'}.bin`;
    const seed = options.refuse ? 311 : 312;
    const { record, events } = await firstUpload({ path, seed, ...options });
    const seen = `${name}: ${JSON.stringify(events)}`;
    await assertLanded(env, record, { path, size: SIZE, seed });
    assert.ok(index(events, 'new Worker') > index(events, 'client'), `the client tried to start it: ${seen}`);
    assert.equal(index(events, 'Worker ready'), -1, `it never started: ${seen}`);
  }
});
