// The first upload does not wait on the package's size more than it must (issue 20): `init()`
// compiles each entry's wasm while it downloads (`WebAssembly.instantiateStreaming`, which the
// glue uses only when the devserver — as any server should — sends `.wasm` as
// `application/wasm`), a wrong MIME type still works through the glue's fallback (with its
// warning), and the npm README's preload lines, as shipped in pkg/README.md, let `init()` use
// the preloaded responses: each file is downloaded once. Pages here are served at the app
// origin by `page.route`; the package's files come from the devserver.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { assertLanded, useEnvironment } from './helpers.mjs';

const env = useEnvironment();

/** The browser entries, by the stem of their glue (`{stem}.js`) and wasm (`{stem}_bg.wasm`). */
const ENTRIES = [
  { stem: 'smh_client' },
  { stem: 'smh_upload' },
  { stem: 'cos_uploader' },
];

/** Records the page's calls of WebAssembly.instantiateStreaming (and how each settled) and of
 *  WebAssembly.instantiate with bytes (the glue's fallback), in `window.wasmCalls`. */
function watchWasm() {
  const calls = { streaming: [], fromBytes: 0 };
  window.wasmCalls = calls;
  const streaming = WebAssembly.instantiateStreaming;
  WebAssembly.instantiateStreaming = function (...args) {
    const call = { settled: 'pending' };
    calls.streaming.push(call);
    const promise = streaming.apply(this, args);
    promise.then(() => (call.settled = 'resolved'), e => (call.settled = `rejected: ${e}`));
    return promise;
  };
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = function (...args) {
    if (!(args[0] instanceof WebAssembly.Module)) calls.fromBytes += 1;
    return instantiate.apply(this, args);
  };
}

/**
 * Loads a page at the app origin whose `<head>` is `head` and whose module imports
 * `/pkg/{stem}.js` and calls `init()`, on a cold cache — or with `fixture`, the devserver's e2e
 * fixture page (which does so for `smh_upload`; a page that `page.route` made up may not reach
 * the other loopback origins). `wasmType`, when given, replaces the Content-Type the devserver
 * sends with the wasm. Returns whether `init()` resolved, the wasm calls, the requests of the
 * entry's files, the Content-Type the wasm came with and the console lines about preloads or
 * compilation; `then(page)` may use the page before it is closed.
 */
async function loadEntry(stem, { head = '', wasmType, fixture = false, then } = {}) {
  const page = await env.page.context().newPage();
  const lines = [];
  page.on('console', m => lines.push(`[${m.type()}] ${m.text()}`));
  const requests = { js: 0, wasm: 0 };
  const wasmTypes = [];
  page.on('request', r => {
    if (r.url().endsWith(`/pkg/${stem}.js`)) requests.js += 1;
    if (r.url().endsWith(`/pkg/${stem}_bg.wasm`)) requests.wasm += 1;
  });
  page.on('response', r => {
    if (r.url().endsWith(`/pkg/${stem}_bg.wasm`)) wasmTypes.push(r.headers()['content-type']);
  });
  await page.addInitScript(watchWasm);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.clearBrowserCache');
  await cdp.detach();
  if (wasmType) {
    await page.route(`**/pkg/${stem}_bg.wasm`, async route => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'content-type': wasmType } });
    });
  }
  const url = fixture ? `${env.ready.app}/` : `${env.ready.app}/startup-test-${stem}.html`;
  if (!fixture) await page.route(url, route => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><html><head>
${head}</head><body><script type="module">
import init from '/pkg/${stem}.js';
window.initialised = init().then(() => true, e => String(e));
</script></body></html>`,
  }));
  try {
    await page.goto(url);
    const initialised = fixture
      ? (await page.waitForFunction(() => window.e2eReady, null, { timeout: 30_000 }), await page.evaluate(() => window.e2eReady))
      : (await page.waitForFunction(() => window.initialised !== undefined, null, { timeout: 30_000 }), await page.evaluate(() => window.initialised));
    const wasmCalls = await page.evaluate(() => window.wasmCalls);
    const later = then ? await then(page) : undefined;
    const notes = lines.filter(l => /preload|instantiateStreaming|MIME/i.test(l));
    return { initialised, wasmCalls, requests, wasmTypes, notes, later };
  } finally {
    await page.close();
  }
}

test('init() compiles each entry\'s wasm while it downloads (instantiateStreaming; the devserver sends application/wasm)', async () => {
  for (const { stem } of ENTRIES) {
    const loaded = await loadEntry(stem);
    const seen = JSON.stringify(loaded);
    assert.equal(loaded.initialised, true, `${stem}: ${seen}`);
    assert.deepEqual(loaded.wasmTypes, ['application/wasm'], `${stem}: ${seen}`);
    assert.deepEqual(loaded.wasmCalls.streaming, [{ settled: 'resolved' }], `${stem}: one streaming compilation, which succeeded: ${seen}`);
    assert.equal(loaded.wasmCalls.fromBytes, 0, `${stem}: no compilation after the download: ${seen}`);
    assert.deepEqual(loaded.notes, [], `${stem}: no warning about a fallback: ${seen}`);
  }
});

test('with a wrong Content-Type init() falls back to compiling after the download, says so, and uploads', async () => {
  const [size, seed, path] = [100_000, 81, 'startup/wrong-mime.bin'];
  const loaded = await loadEntry('smh_upload', {
    fixture: true,
    wasmType: 'application/octet-stream',
    then: page => page.evaluate(async ({ ready, size, seed, path }) => {
      window.e2e.configure(ready);
      const client = await window.e2e.client({ checkpoints: 'none' });
      const { finished } = window.e2e.watch(hooks => client.upload(window.e2e.blob(size, seed), path, { quickUpload: false, ...hooks }), 30_000);
      return finished;
    }, { ready: env.ready, size, seed, path }),
  });
  const seen = JSON.stringify(loaded);
  assert.deepEqual(loaded.wasmTypes, ['application/octet-stream'], seen);
  assert.equal(loaded.initialised, true, seen);
  assert.equal(loaded.wasmCalls.streaming.length, 1, seen);
  assert.match(loaded.wasmCalls.streaming[0].settled, /^rejected: TypeError/, seen);
  assert.equal(loaded.wasmCalls.fromBytes, 1, `compiled from the downloaded bytes: ${seen}`);
  assert.ok(loaded.notes.some(l => l.startsWith('[warning]') && l.includes('application/wasm')), `the fallback's warning: ${seen}`);
  await assertLanded(env, loaded.later, { path, size, seed });
});

/** The ```html block of the shipped README with the preload lines, for `stem`'s entry and the
 *  package at /pkg/ (the README names smh_upload's files and says to swap the stem). */
function readmePreloadLines(stem) {
  const readme = readFileSync(join(process.env.SMH_PKG_DIR, 'README.md'), 'utf8');
  const block = readme.split('```html\n').slice(1).map(rest => rest.split('```')[0])
    .find(b => b.includes('rel="modulepreload"') && b.includes('rel="preload"'));
  assert.ok(block, 'pkg/README.md has a ```html block with the preload lines');
  return block.replaceAll('/node_modules/smh-upload/', '/pkg/').replaceAll('smh_upload', stem);
}

test('the README\'s preload lines: init() compiles the preloaded wasm of each entry, each file downloaded once', async () => {
  for (const { stem } of ENTRIES) {
    const head = readmePreloadLines(stem);
    assert.match(head, new RegExp(`href="/pkg/${stem}_bg\\.wasm"`), head);
    const loaded = await loadEntry(stem, { head });
    const seen = JSON.stringify(loaded);
    assert.equal(loaded.initialised, true, `${stem}: ${seen}`);
    assert.deepEqual(loaded.notes, [], `${stem}: no warning about the preload or a fallback from streaming compilation: ${seen}`);
    assert.deepEqual(loaded.requests, { js: 1, wasm: 1 }, `${stem}: each file requested once: init() used the preloaded responses: ${seen}`);
    assert.deepEqual(loaded.wasmCalls.streaming, [{ settled: 'resolved' }], `${stem}: streaming compilation of the preloaded response: ${seen}`);
  }
  // The check can see the difference: without `crossorigin` the credentials modes differ, the
  // preload is not used and the wasm is downloaded twice.
  const head = readmePreloadLines('smh_client').replace(' crossorigin', '');
  assert.doesNotMatch(head, /crossorigin/);
  const mismatched = await loadEntry('smh_client', { head });
  assert.equal(mismatched.initialised, true);
  assert.equal(mismatched.requests.wasm, 2, `without crossorigin: ${JSON.stringify(mismatched)}`);
});
