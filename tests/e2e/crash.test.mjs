// The devserver dies (kill -9) while the SDK uploads a multipart file through the JS API, and
// comes back on the same data directory and the same ports. The SDK retries (or, when its
// retries ran out, the page calls upload() again and it resumes from the checkpoint) and the
// upload completes; the object is byte-identical, read back through SMH's download, and nothing
// is left open or half-written.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { devHooks, expectedSha, launchBrowser, MIB, sha256 } from './helpers.mjs';
import { devserverOn, sleep } from './reliability.mjs';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixture');
const C = { path: 'crash/mid-upload.bin', size: 24 * MIB + 3, seed: 1300 };
const OPTIONS = { partSize: 2 * MIB, concurrency: 3, checkpoints: 'local' };
/** How long the devserver stays dead: longer than Chromium's own resend of a request whose
 *  connection died, so that the SDK has to notice and retry. */
const DOWN_MS = 3000;

/** The stored file's bytes through SMH (GET on the file: a redirect to a signed COS URL). */
async function download(ready, path) {
  const token = (await (await fetch(`${ready.app}/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json()).accessToken;
  const url = `${ready.smh}/api/v1/file/${encodeURIComponent(ready.libraryId)}/${encodeURIComponent(ready.spaceId)}/${path.split('/').map(encodeURIComponent).join('/')}?access_token=${encodeURIComponent(token)}`;
  const resp = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  assert.equal(resp.status, 200, `download of ${path}`);
  return Buffer.from(await resp.arrayBuffer());
}

test('devserver killed -9 mid-upload, restarted on the same data and ports: the upload completes byte-identical', { timeout: 180_000 }, async () => {
  const data = mkdtempSync(join(tmpdir(), 'smh-e2e-crash-'));
  let server = await devserverOn(data, { www: FIXTURE });
  const browser = await launchBrowser();
  try {
    const { page } = browser;
    page.on('console', m => browser.console.push(`[${m.type()}] ${m.text()}`));
    await page.goto(`${server.ready.app}/`);
    await page.waitForFunction(() => window.e2eReady !== undefined, null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.e2eReady), true);
    await page.evaluate(r => window.e2e.configure(r), server.ready);
    // Parts slowed a little, so that the crash lands mid-upload.
    await devHooks(server.ready.app).faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 100_000, action: { type: 'delay', ms: 100 } });

    // The page uploads; if done() rejects with a retryable error, it calls upload() again (up to
    // 3 attempts in all), as an app offering "resume" would.
    await page.evaluate(({ c, options }) => {
      const { e2e } = window;
      window.crash = (async () => {
        const client = await e2e.client({ ...options, getAccessToken: () => e2e.token() });
        const blob = e2e.blob(c.size, c.seed);
        const attempts = [];
        for (let k = 0; k < 3; k++) {
          const w = e2e.watch(hooks => client.upload(blob, c.path, hooks), 120_000);
          window.crashWatch = w;
          const r = await w.finished;
          attempts.push({ error: r.error, finalState: r.finalState, states: r.states.join(','), resumedFrom: r.progress.find(p => p.phase === 'uploading')?.loaded });
          if (!r.error?.retryable) break;
          await e2e.sleep(1000);
        }
        return attempts;
      })();
    }, { c: C, options: OPTIONS });
    await page.waitForFunction(size => {
      const p = window.crashWatch?.task.progress;
      return p?.phase === 'uploading' && p.loaded >= size * 0.3;
    }, C.size, { timeout: 60_000, polling: 20 });
    const loadedAtKill = await page.evaluate(() => window.crashWatch.task.progress.loaded);
    const { ports } = server;
    await server.kill9();
    const killedAt = Date.now();
    await sleep(DOWN_MS);
    server = await devserverOn(data, { www: FIXTURE, ports });
    const downFor = Date.now() - killedAt;
    assert.deepEqual(server.ports, ports, 'the restarted devserver listens on the same ports');

    const attempts = await page.evaluate(() => window.crash);
    const last = attempts.at(-1);
    assert.equal(last.error, undefined, `the upload did not complete: ${JSON.stringify(attempts)}\nconsole:\n${browser.console.slice(-20).join('\n')}\ndevserver:\n${server.stderr().slice(-2000)}`);
    assert.equal(last.finalState, 'done');

    const dev = devHooks(server.ready.app);
    const objects = await dev.objects();
    assert.equal(objects.length, 1, `one object, no partial one: ${JSON.stringify(objects)}`);
    assert.equal(objects[0].smhPath.replace(/^\/+/, ''), C.path);
    assert.equal(objects[0].size, C.size);
    const want = expectedSha(C.size, C.seed);
    assert.equal(objects[0].sha256, want, 'the store records the right bytes');
    assert.equal(sha256(await download(server.ready, C.path)), want, 'and serves them');
    assert.deepEqual(await dev.uploads(), { smh: [], cos: [] }, 'nothing left open');
    const how = attempts.length === 1 ? 'retried within one upload()' : `resumed by upload() #${attempts.length} from ${(last.resumedFrom / MIB).toFixed(0)} MiB`;
    console.log(`crash: devserver killed at ${(loadedAtKill / MIB).toFixed(1)} MiB reported sent of ${(C.size / MIB).toFixed(0)} MiB, back after ${downFor} ms on the same ports; ${how}`);
  } finally {
    await browser.close();
    await server.stop();
    rmSync(data, { recursive: true, force: true });
  }
});
