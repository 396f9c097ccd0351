// The public-API upload suite in the engines besides Chromium: Firefox ESR and WebKitGTK
// (tests/engines/drivers.mjs), each against its own devserver serving the built package and
// tests/e2e/fixture/engines.html. Single PUT, parallel parts, quick upload, pause/resume,
// cancel, resume after a reload, the upload Worker in use and the page-side fallback forced;
// after every test, no error logged in the page. Bytes are checked through GET /_dev/objects
// (sha256 computed here), requests through GET /_dev/log — never from the SDK's own report.
//
// `SMH_ENGINES` (default `firefox,webkit`) picks the engines; `cargo xtask test` runs one at a
// time. Environment as for tests/e2e/ (SMH_DEVSERVER_BIN, SMH_PKG_DIR).

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import { assertLanded, byteRequests, explain, inPage, MIB, sha256, startSuiteDevserver, uploadInPage } from '../e2e/helpers.mjs';
import { sleep, storedParts } from '../e2e/reliability.mjs';
import { ENGINES, launch } from './drivers.mjs';

const engines = (process.env.SMH_ENGINES || ENGINES.join(',')).split(',').map(e => e.trim()).filter(Boolean);
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2 };
const TIMEOUT = { timeout: 120_000 };

for (const engine of engines) describe(engine, () => suite(engine));

function suite(engine) {
  /** What tests/e2e/helpers.mjs reads: `page.evaluate`, `replacePage`, `dev`, `ready`, … */
  const env = {};
  let server;
  let browser;
  /** Errors the pages already left behind had recorded. */
  const leftErrors = [];

  /** Takes the errors the current page recorded (tests/e2e/fixture/engines.html), bounded in time. */
  const pageErrors = () => Promise.race([
    browser.evaluate(() => window.engines?.errors.splice(0) ?? []),
    sleep(10_000).then(() => ['the page did not answer within 10 s']),
  ]).catch(e => [`reading the page's errors: ${e.message}`]);

  /** Loads the fixture page afresh (a reload: the same tab and storage), `query` appended. */
  const openPage = async (query = '') => {
    leftErrors.push(...(await pageErrors()));
    await browser.goto(`${env.ready.app}/engines.html${query}`);
    const status = await browser.evaluate(async () => {
      const end = Date.now() + 30_000;
      while (window.e2eReady === undefined && Date.now() < end) await new Promise(r => setTimeout(r, 20));
      return window.e2eReady ?? 'the fixture page did not load the package within 30 s';
    });
    if (status !== true) throw new Error(`fixture page: ${status}`);
    await browser.evaluate(ready => window.e2e.configure(ready), env.ready);
  };
  env.replacePage = () => openPage();

  /** What the page saw: Workers constructed, their replies, most part PUTs in flight. */
  const observed = () => inPage(env, () => {
    const { errors, ...seen } = window.engines;
    return seen;
  });

  before(async () => {
    server = await startSuiteDevserver(env);
    browser = await launch(engine);
    env.page = { evaluate: (fn, arg) => browser.evaluate(fn, arg) };
    env.browserConsole = browser.errors;
    console.log(`engine: ${browser.name} ${browser.version}`);
  });
  beforeEach(async () => {
    await env.dev.del('faults');
    await env.dev.post('config', { ...env.defaults, cosDomain: null });
    await openPage();
  });
  afterEach(async () => {
    const errors = [...leftErrors.splice(0), ...(await pageErrors()), ...browser.errors.splice(0)];
    assert.deepEqual(errors, [], `errors logged in ${browser.name}`);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Every part PUT waits `ms` before the cos origin reads it, so a test can act mid-upload. */
  const slowParts = ms => env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 100_000, action: { type: 'delay', ms } });

  test('single PUT: 1 MiB in one PutObject, hashed in the upload Worker', TIMEOUT, async () => {
    const c = { path: 'single.bin', size: MIB, seed: 1 };
    const mark = await env.dev.logMark();
    const record = await uploadInPage(env, c);
    await assertLanded(env, record, c);
    assert.equal(record.result.instant, false);
    const sent = byteRequests(await env.dev.logSince(mark, 'cos')).map(e => [e.op, e.status, e.bytesIn]);
    assert.deepEqual(sent, [['PutObject', 200, MIB]], 'one PutObject carried the file');
    const seen = await observed();
    assert.equal(seen.workers, 1, `one upload Worker: ${JSON.stringify(seen)}`);
    assert.ok(seen.workerReplies >= 1, `the Worker answered the hash requests: ${JSON.stringify(seen)}`);
  });

  test('parallel parts: 24 MiB in six 4 MiB parts, three at once, CRC-64s from the Worker', TIMEOUT, async () => {
    const c = { path: 'parts.bin', size: 24 * MIB, seed: 2 };
    const mark = await env.dev.logMark();
    const record = await uploadInPage(env, { ...c, clientOptions: { partSize: 4 * MIB, concurrency: 3 }, timeoutMs: 100_000 });
    const object = await assertLanded(env, record, c);
    assert.equal(record.result.crc64, object.crc64, 'result.crc64 is the stored CRC-64');
    const parts = storedParts(await env.dev.logSince(mark, 'cos'));
    assert.equal(parts.length, 6, `UploadParts stored: ${JSON.stringify(parts)}`);
    assert.equal(parts.reduce((n, e) => n + e.bytesIn, 0), c.size, 'bytes the cos origin stored');
    const seen = await observed();
    assert.ok(seen.maxPartsInFlight >= 2 && seen.maxPartsInFlight <= 3, `parts in flight at once: ${JSON.stringify(seen)}`);
    assert.equal(seen.workers, 1, `one upload Worker: ${JSON.stringify(seen)}`);
    assert.ok(seen.workerReplies >= parts.length, `the Worker computed every part's CRC-64: ${JSON.stringify(seen)}`);
  });

  test('quick upload: content the library holds is instant, no byte sent', TIMEOUT, async () => {
    const size = 3 * MIB + 1;
    const byte = 0x5a;
    await env.dev.post('seed', { path: 'quick-source.bin', size, byte });
    const path = 'quick-copy.bin';
    const mark = await env.dev.logMark();
    const record = await inPage(env, async ({ size, byte, path }) => {
      const client = await window.e2e.client();
      const blob = new Blob([new Uint8Array(size).fill(byte)]);
      return window.e2e.watch(hooks => client.upload(blob, path, hooks)).finished;
    }, { size, byte, path });
    assert.equal(record.error, undefined, explain(record, env));
    assert.equal(record.result.instant, true, `result.instant\n${explain(record, env)}`);
    assert.equal(record.finalState, 'done');
    assert.deepEqual(byteRequests(await env.dev.logSince(mark, 'cos')), [], 'no PutObject/UploadPart reached the cos origin');
    const object = await env.dev.objectAt(path);
    assert.equal(object?.size, size, `the library holds ${path}`);
    assert.equal(object.sha256, sha256(Buffer.alloc(size, byte)));
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
    assert.ok((await observed()).workerReplies >= 1, 'the Worker hashed the file');
  });

  test('pause → resume: nothing sent while paused, then done with the right bytes', TIMEOUT, async () => {
    await slowParts(150);
    const c = { path: 'pause.bin', size: 8 * MIB + 5, seed: 4 };
    // The task stays in the page between calls (window.pausedUpload) while node watches the server.
    const atPause = await inPage(env, async ({ c, SMALL }) => {
      const { e2e } = window;
      const client = await e2e.client(SMALL);
      const w = (window.pausedUpload = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 80_000));
      await e2e.until(() => w.task.progress.loaded >= 1024 * 1024, 30_000, 'the first MiB sent');
      w.task.pause();
      await e2e.until(() => w.task.state === 'paused', 10_000, "state 'paused'");
      return w.task.progress.loaded;
    }, { c, SMALL });
    await sleep(500); // the parts in flight were aborted; the server logs them as they end
    const mark = await env.dev.logMark();
    await sleep(1000);
    assert.deepEqual(byteRequests(await env.dev.logSince(mark, 'cos')), [], 'no part PUT reached the server while paused');
    const out = await inPage(env, async () => {
      const w = window.pausedUpload;
      const loaded = w.task.progress.loaded;
      w.task.resume();
      return { loadedWhilePaused: loaded, record: await w.finished };
    });
    assert.equal(out.loadedWhilePaused, atPause, 'no progress while paused');
    await assertLanded(env, out.record, c);
    const { states } = out.record;
    const paused = states.indexOf('paused');
    assert.ok(paused >= 0 && states.slice(paused + 1).includes('uploading'), `paused, then uploading again: ${states}`);
  });

  test('cancel mid-upload: done() rejects Aborted, nothing left open on the server', TIMEOUT, async () => {
    await slowParts(200);
    const c = { path: 'cancel.bin', size: 8 * MIB, seed: 5 };
    const record = await inPage(env, async ({ c, SMALL }) => {
      const { e2e } = window;
      const client = await e2e.client(SMALL);
      const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 50_000);
      await e2e.until(() => w.record.progress.some(p => p.phase === 'uploading' && p.loaded > 0), 30_000, 'upload progress');
      w.task.cancel();
      return w.finished;
    }, { c, SMALL });
    assert.equal(record.error?.name, 'SmhUploadError', explain(record, env));
    assert.equal(record.error.code, 'Aborted', explain(record, env));
    assert.equal(record.finalState, 'cancelled');
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
    assert.equal(await env.dev.objectAt(c.path), undefined, `no file at ${c.path}`);
  });

  test('resume after a reload: the same File continues its server upload from the parts its record holds', TIMEOUT, async () => {
    const PART = 2 * MIB;
    const DELAY_MS = 300;
    const options = { partSize: PART, concurrency: 2, checkpoints: 'local' };
    const file = { path: 'reload.bin', name: 'reload.bin', size: 16 * MIB, seed: 6, lastModified: 1_700_000_000_000 };
    /** In the page: `upload()` of the file (a `File` with a name and a date, as a picked one). */
    const start = ({ file, options, fraction }) => {
      const { e2e } = window;
      const blob = new File([e2e.makeBytes(file.size, file.seed)], file.name, { lastModified: file.lastModified });
      return (async () => {
        const client = await e2e.client(options);
        const w = e2e.watch(hooks => client.upload(blob, file.path, hooks), 90_000);
        if (fraction === 1) {
          const record = await w.finished;
          record.pendingAfter = await client.pendingUploads();
          return record;
        }
        const over = () => ['done', 'failed', 'cancelled'].includes(w.task.state);
        await e2e.until(() => w.task.progress.loaded >= file.size * fraction || over(), 60_000, 'half sent');
        return { state: w.task.state, loaded: w.task.progress.loaded };
      })();
    };
    await slowParts(DELAY_MS);
    const mark = await env.dev.logMark();
    const first = await inPage(env, start, { file, options, fraction: 0.5 }, 70_000);
    assert.equal(first.state, 'uploading', `still uploading at half: ${JSON.stringify(first)}`);
    await openPage(); // the reload: the page's requests die with it
    await sleep(2 * DELAY_MS); // the requests it left behind end on the server
    const onServer = storedParts(await env.dev.logSince(mark, 'cos')).length;
    assert.ok(onServer > 0 && onServer < file.size / PART, `part of the file reached the server: ${onServer} parts`);
    const open = (await env.dev.uploads()).smh.filter(u => u.path.replace(/^\/+/, '') === file.path);
    assert.equal(open.length, 1, `the SMH upload of ${file.path} stays open: ${JSON.stringify(open)}`);

    const pending = await inPage(env, async options => (await window.e2e.client(options)).pendingUploads(), options);
    assert.deepEqual(pending.map(p => [p.path, p.size, p.name]), [[file.path, file.size, file.name]], `pendingUploads(): ${JSON.stringify(pending)}`);

    const mark2 = await env.dev.logMark();
    const record = await inPage(env, start, { file, options, fraction: 1 }, 100_000);
    await assertLanded(env, record, file);
    const resumedFrom = record.progress.find(p => p.phase === 'uploading')?.loaded;
    // Parts the record vouches for are kept; the others are sent again, including any the server
    // stored after the record's last write (records are written at most once a second).
    const recorded = pending[0].loaded;
    assert.ok(recorded <= onServer * PART, `the record vouches only for parts on the server: ${recorded} B`);
    assert.equal(resumedFrom, recorded, `progress starts from the recorded parts: ${JSON.stringify(record.progress.slice(0, 3))}`);
    assert.equal(storedParts(await env.dev.logSince(mark2, 'cos')).length, (file.size - recorded) / PART, 'only the parts the record does not hold were sent');
    assert.deepEqual(record.pendingAfter, [], 'nothing pending once done');
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  });

  test('page-side fallback: where module Workers cannot start, the page hashes; bytes and CRC-64 right', TIMEOUT, async () => {
    await openPage('?worker=throws');
    const c = { path: 'fallback.bin', size: 6 * MIB + 3, seed: 7 };
    const mark = await env.dev.logMark();
    const record = await uploadInPage(env, { ...c, clientOptions: { multipartThreshold: 2 * MIB, partSize: 2 * MIB } });
    const object = await assertLanded(env, record, c);
    assert.equal(record.result.crc64, object.crc64, 'result.crc64 is the stored CRC-64');
    assert.equal(storedParts(await env.dev.logSince(mark, 'cos')).length, 4, 'four parts stored');
    const seen = await observed();
    assert.equal(seen.workerAttempts, 1, `the SDK tried the Worker once, then hashed in the page: ${JSON.stringify(seen)}`);
    assert.equal(seen.workers, 0);
  });
}
