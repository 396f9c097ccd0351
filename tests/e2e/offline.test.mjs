// The browser loses its network mid-upload (Playwright's `context.setOffline`, which sets
// `navigator.onLine` and fails requests as Chromium does offline): the upload waits it out.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, MIB, useEnvironment } from './helpers.mjs';

const env = useEnvironment();

test('an outage mid-upload is waited out: no retry spent, progress says so, the upload lands', { timeout: 120_000 }, async () => {
  // Slow parts, so that the outage comes mid-upload.
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 200 } });
  const c = { path: 'offline.bin', size: 12 * MIB + 9, seed: 310 };
  // No retries at all: a retry spent on the outage would fail the upload.
  const options = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2, retries: 0, stallTimeout: 3000 };
  await env.page.evaluate(({ c, options }) => {
    const { e2e } = window;
    window.offlineRun = (async () => {
      const client = await e2e.client(options);
      const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 100_000);
      window.offlineWatch = w;
      return w.finished;
    })();
  }, { c, options });
  await env.page.waitForFunction(() => window.offlineWatch?.record.progress.some(p => p.phase === 'uploading' && p.loaded >= 2 * 1024 * 1024), null, { timeout: 60_000 });
  const context = env.page.context();
  await context.setOffline(true);
  let whileOffline;
  try {
    await new Promise(r => setTimeout(r, 5000));
    whileOffline = await env.page.evaluate(() => ({
      onLine: navigator.onLine,
      state: window.offlineWatch.task.state,
      progress: window.offlineWatch.record.progress.slice(-3),
      loaded: window.offlineWatch.task.progress.loaded,
    }));
  } finally {
    await context.setOffline(false);
  }
  const record = await env.page.evaluate(() => window.offlineRun);
  await assertLanded(env, record, c);
  assert.equal(whileOffline.onLine, false);
  assert.ok(whileOffline.loaded < c.size, 'the outage came mid-upload');
  assert.equal(whileOffline.state, 'uploading', 'still running, not failed');
  assert.equal(whileOffline.progress.at(-1).waiting, 'offline', JSON.stringify(whileOffline.progress));
  assert.equal(record.progress.at(-1).waiting, undefined, 'not waiting any more');
});
