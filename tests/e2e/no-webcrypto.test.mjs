// Quick upload on a page without WebCrypto: a page served over plain http from a host other than
// loopback is not a secure context, so neither it nor its upload Worker has `crypto.subtle`, and
// the quick-upload hashes are computed by the package's JavaScript SHA-256
// (src/platform/browser/sha256.js; the wasm carries none). The page is loaded from
// http://smh-e2e.test:<port>/, which Chromium resolves to the devserver's loopback address
// (--host-resolver-rules) but does not count as loopback (the devserver answers that name:
// --allowed-host). The devserver checks the hashes: a
// quick upload hits only when the beginning and full hashes equal its own of the stored bytes.
// Once with the Worker hashing, once with the page's own fallback (no Worker at all).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertLanded, byteRequests, explain, launchBrowser, MIB, sha256, startSuiteDevserver } from './helpers.mjs';

/** A host name that is not loopback (so the page is not a secure context), mapped to 127.0.0.1. */
const HOST = 'smh-e2e.test';

const env = {};
let server;
let browser;

before(async () => {
  server = await startSuiteDevserver(env, ['--allowed-host', HOST]);
  browser = await launchBrowser({ args: [`--host-resolver-rules=MAP ${HOST} 127.0.0.1`] });
  env.browserConsole = browser.console;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens the fixture page from the insecure origin; `withoutWorker`: the page has no `Worker`.
 *  Returns the page and the Workers it starts. */
async function openInsecurePage({ withoutWorker = false } = {}) {
  const page = await browser.context.newPage();
  page.on('console', m => browser.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', e => browser.console.push(`[pageerror] ${e.message}`));
  const workers = [];
  page.on('worker', worker => workers.push(worker));
  if (withoutWorker) await page.addInitScript(() => delete window.Worker);
  const url = new URL(env.ready.app);
  await page.goto(`http://${HOST}:${url.port}/`);
  await page.waitForFunction(() => window.e2eReady !== undefined, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.e2eReady), true, 'the fixture page initialised');
  await page.evaluate(r => window.e2e.configure(r), env.ready);
  const context = await page.evaluate(() => ({ secure: isSecureContext, subtle: typeof crypto.subtle, worker: typeof Worker }));
  assert.deepEqual(context, { secure: false, subtle: 'undefined', worker: withoutWorker ? 'undefined' : 'function' });
  return { page, workers };
}

/** Uploads `size` bytes through `page`: `byte` repeated, or makeBytes(size, seed). */
function upload(page, { path, size, byte, seed }) {
  return page.evaluate(async ({ path, size, byte, seed }) => {
    const client = await window.e2e.client({ multipartThreshold: 2 * 1024 * 1024, partSize: 1024 * 1024 });
    const blob = byte === undefined ? window.e2e.blob(size, seed) : new Blob([new Uint8Array(size).fill(byte)]);
    return window.e2e.watch(hooks => client.upload(blob, path, hooks)).finished;
  }, { path, size, byte, seed });
}

for (const [label, withoutWorker] of [['in the Worker', false], ['in the page, without a Worker', true]]) {
  test(`no WebCrypto: the quick-upload hashes ${label} equal the devserver's`, { timeout: 90_000 }, async () => {
    const tag = withoutWorker ? 'page' : 'worker';
    const { page, workers } = await openInsecurePage({ withoutWorker });
    try {
      // A file the devserver stored itself (not through the SDK): the same bytes are instant
      // only if the SDK's beginning and full hashes (3 blocks of 1 MiB and one byte) equal its own.
      const size = 3 * MIB + 1;
      const byte = withoutWorker ? 0x3c : 0xc3;
      await env.dev.post('seed', { path: `nocrypto-seed-${tag}.bin`, size, byte });
      const mark = await env.dev.logMark();
      const hit = await upload(page, { path: `nocrypto-copy-${tag}.bin`, size, byte });
      assert.equal(hit.error, undefined, explain(hit, env));
      assert.equal(hit.result.instant, true, `result.instant\n${explain(hit, env)}`);
      assert.deepEqual(byteRequests(await env.dev.logSince(mark, 'cos')), [], 'no byte reached the cos origin');
      assert.equal((await env.dev.objectAt(`nocrypto-copy-${tag}.bin`)).sha256, sha256(Buffer.alloc(size, byte)));

      // Varied bytes through the SDK twice: stored intact the first time (sent in parts), instant
      // the second.
      const first = { path: `nocrypto-a-${tag}.bin`, size: 2 * MIB + 12_345, seed: withoutWorker ? 91 : 92 };
      await assertLanded(env, await upload(page, first), first);
      const again = await upload(page, { ...first, path: `nocrypto-b-${tag}.bin` });
      await assertLanded(env, again, { ...first, path: `nocrypto-b-${tag}.bin` });
      assert.equal(again.result.instant, true, `the second upload is instant\n${explain(again, env)}`);

      // The hashing ran where this test says, without WebCrypto.
      const hashing = workers.filter(w => w.url().includes('smh_upload_worker'));
      if (withoutWorker) {
        assert.equal(hashing.length, 0, 'no Worker');
      } else {
        assert.equal(hashing.length, 1, `the upload Worker started: ${workers.map(w => w.url())}`);
        assert.equal(await hashing[0].evaluate(() => typeof crypto.subtle), 'undefined', 'the Worker has no WebCrypto');
      }
    } finally {
      await page.close();
    }
  });
}
