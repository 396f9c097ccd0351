// What a resumable record may and may not do (issue 18 items 6 and 10), for SmhClient and
// CosUploader in headless Chromium, checked against the devserver's bucket and request log:
// - a different file with the same name, size and lastModified does not reuse the parts the
//   first one left (the stored object is the second file's bytes);
// - cancel() while the SDK asks the server about a record cancels that server upload;
// - a record pruned for its age has its server upload cancelled / aborted;
// - two tabs uploading the same file at once never continue the same server upload;
// - pendingUploads() does not offer a record another tab is uploading now.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { explain, inPage, MIB, settleCos, useEnvironment } from './helpers.mjs';
import { checkpointEntries, storedParts, uploadRecords } from './reliability.mjs';

const env = useEnvironment();
const SIZE = 20 * MIB;
const PART = 4 * MIB;
const OPTIONS = { partSize: PART, multipartThreshold: PART, concurrency: 1, checkpoints: 'local' };
/** How long the server holds each part PUT while a page is to be closed mid-upload. */
const PART_DELAY_MS = 300;
const LAST_MODIFIED = 1_700_000_123_000;

/** sha256 of `size` bytes all equal to `letter`. */
const filledSha = (letter, size = SIZE) => createHash('sha256').update(Buffer.alloc(size, letter)).digest('hex');

/**
 * Page-side helpers (window.guard): a File of one repeated letter with a fixed name and
 * lastModified (so two different contents share the identity a record is found by), and an
 * uploader of either kind with a `start(file, target)` that returns the e2e watch.
 */
async function installHelpers() {
  if (window.guard) return;
  const { CosUploader } = await import('/pkg/smh_upload.js');
  const { e2e } = window;
  const file = (letter, size, name, lastModified) => new File([new Uint8Array(size).fill(letter.charCodeAt(0))], name, { lastModified });
  async function uploader(kind, options) {
    if (kind === 'smh') {
      const client = await e2e.client(options);
      return { client, start: (f, target) => e2e.watch(hooks => client.upload(f, target, hooks), 120_000) };
    }
    const r = e2e.ready;
    const getCredentials = async () => (await fetch('/credentials', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json();
    const client = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials, ...options });
    return { client, start: (f, target) => e2e.watch(hooks => client.upload(f, target, hooks), 120_000) };
  }
  window.guard = { file, uploader };
}

async function inGuardPage(fn, arg, timeoutMs = 90_000, page) {
  const target = page ? { page } : env;
  await inPage(target, installHelpers, undefined, 30_000);
  return inPage(target, fn, arg, timeoutMs);
}

/** The bucket object at a COS key or behind an SMH path. */
async function stored(kind, target) {
  if (kind === 'smh') return env.dev.objectAt(target);
  return (await env.dev.objects()).find(o => o.key === target);
}

/** The page's checkpoint records of uploads to `target`. */
const recordsOf = async target => uploadRecords(await checkpointEntries(env.page)).filter(r => r.path === target);

/** Open server uploads of `kind` to `target` (GET /_dev/uploads; an SMH upload by its library
 *  path, a COS one by its key), so that one test's leftovers do not count in the next. */
const openUploads = async (kind, target) => (await env.dev.uploads())[kind].filter(u => (kind === 'smh' ? u.path : u.key) === target);

/**
 * Uploads `letter`'s file to `target` until the record vouches for `parts` parts (another
 * client over the same storage lists them), then closes the page mid-upload: the server upload
 * and the record stay behind.
 */
async function interruptAfter(kind, letter, target, parts) {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: PART_DELAY_MS } });
  await inGuardPage(async ({ kind, letter, target, parts, size, options, lastModified }) => {
    const { guard, e2e } = window;
    const { start } = await guard.uploader(kind, options);
    window.interrupted = start(guard.file(letter, size, 'same.bin', lastModified), target);
    const other = (await guard.uploader(kind, options)).client;
    const end = performance.now() + 30_000;
    const vouched = p => (kind === 'smh' ? p.path : p.key) === target && p.loaded >= parts * options.partSize;
    while (!(await other.pendingUploads()).some(vouched)) {
      if (performance.now() > end) throw new Error(`no record of ${parts} parts within 30 s`);
      await e2e.sleep(50);
    }
  }, { kind, letter, target, parts, size: SIZE, options: OPTIONS, lastModified: LAST_MODIFIED });
  await env.replacePage();
  await settleCos(env.dev, 2 * PART_DELAY_MS);
  await env.dev.del('faults');
  assert.equal((await openUploads(kind, target)).length, 1, `the closed page left its ${kind} upload open`);
  assert.equal((await recordsOf(target)).length, 1, 'and its record');
}

/** Uploads `letter`'s file (same name and lastModified as the interrupted one) to the end. */
async function uploadLetter(kind, letter, target) {
  return inGuardPage(async ({ kind, letter, target, size, options, lastModified }) => {
    const { guard } = window;
    const { start } = await guard.uploader(kind, options);
    return start(guard.file(letter, size, 'same.bin', lastModified), target).finished;
  }, { kind, letter, target, size: SIZE, options: OPTIONS, lastModified: LAST_MODIFIED });
}

for (const kind of ['smh', 'cos']) {
  test(`${kind}: another file with the same name, size and lastModified does not reuse the parts the first left`, { timeout: 180_000 }, async () => {
    const target = `guard/${kind}-same-identity.bin`;
    await interruptAfter(kind, 'a', target, 2);
    const mark = await env.dev.logMark();
    const record = await uploadLetter(kind, 'b', target);
    assert.equal(record.error, undefined, `upload of b failed\n${explain(record, env)}`);
    assert.equal(record.finalState, 'done');
    const object = await stored(kind, target);
    assert.ok(object, `no object at ${target}`);
    assert.equal(object.size, SIZE);
    assert.equal(object.sha256, filledSha('b'), "the stored object is b's bytes, not a mix of a's and b's");
    const sent = storedParts(await env.dev.logSince(mark, 'cos')).length;
    assert.equal(sent, SIZE / PART, `every part of b was sent (a's parts were not taken for b's): ${sent}`);
    assert.deepEqual(await openUploads(kind, target), [], 'nothing left open');
  });

  test(`${kind}: cancel() while the SDK asks the server about a record cancels that server upload`, { timeout: 180_000 }, async () => {
    const target = `guard/${kind}-cancel-while-checking.bin`;
    await interruptAfter(kind, 'c', target, 1);
    // The resume check (SMH's task query, COS's ListParts) is held 3 s by the server.
    const check = kind === 'smh'
      ? { origin: 'smh', method: 'GET', query: 'upload' }
      : { origin: 'cos', method: 'GET', query: 'uploadId' };
    await env.dev.faults({ ...check, times: 1, action: { type: 'delay', ms: 3000 } });
    const mark = await env.dev.logMark();
    const record = await inGuardPage(async ({ kind, target, size, options, lastModified }) => {
      const { guard, e2e } = window;
      const { start } = await guard.uploader(kind, options);
      const w = start(guard.file('c', size, 'same.bin', lastModified), target);
      await e2e.sleep(1000);
      w.task.cancel();
      return w.finished;
    }, { kind, target, size: SIZE, options: OPTIONS, lastModified: LAST_MODIFIED });
    assert.equal(record.error?.code, 'Aborted', JSON.stringify(record));
    assert.equal(record.finalState, 'cancelled');
    const asked = (await env.dev.logSince(mark)).filter(e => e.fault === 'delay');
    assert.equal(asked.length, 1, `the cancel came during the resume check: ${JSON.stringify(asked)}`);
    // The cancel (DELETE) may still be on its way when done() settles.
    const end = Date.now() + 10_000;
    while ((await openUploads(kind, target)).length && Date.now() < end) await new Promise(r => setTimeout(r, 100));
    assert.deepEqual(await openUploads(kind, target), [], 'the server upload the record named is cancelled, not left open');
    assert.deepEqual(await recordsOf(target), [], 'and the record is gone');
  });

  test(`${kind}: a record pruned for its age has its server upload cancelled`, { timeout: 180_000 }, async () => {
    const target = `guard/${kind}-pruned.bin`;
    await interruptAfter(kind, 'd', target, 1);
    // Eight days pass: the record and its index entry are made older than the 7-day limit.
    await env.page.evaluate(async () => {
      const settle = request => new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const db = await settle(indexedDB.open('smh-upload'));
      const tx = db.transaction('checkpoints', 'readwrite');
      const store = tx.objectStore('checkpoints');
      const [keys, values] = await Promise.all([settle(store.getAllKeys()), settle(store.getAll())]);
      const past = 8 * 24 * 3600 * 1000;
      keys.forEach((key, i) => {
        const value = JSON.parse(values[i]);
        if (value.updatedAt) value.updatedAt -= past;
        (value.entries ?? []).forEach(e => { e.updatedAt -= past; });
        store.put(JSON.stringify(value), key);
      });
      await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
      db.close();
    });
    const pending = await inGuardPage(async ({ kind, options }) => {
      const { client } = await window.guard.uploader(kind, options);
      return client.pendingUploads();
    }, { kind, options: OPTIONS });
    assert.deepEqual(pending, [], 'the expired record is not listed');
    assert.deepEqual(await recordsOf(target), [], 'it is pruned from the store');
    assert.deepEqual(await openUploads(kind, target), [], 'and its server upload is cancelled, not left open');
  });
}

/** A second page (tab) of the browser context, ready for the e2e helpers. */
async function secondTab() {
  const second = await env.page.context().newPage();
  await second.goto(`${env.ready.app}/`);
  await second.waitForFunction(() => window.e2eReady !== undefined, null, { timeout: 30_000 });
  await second.evaluate(r => window.e2e.configure(r), env.ready);
  return second;
}

for (const kind of ['smh', 'cos']) {
  test(`${kind}: pendingUploads() leaves out a record another tab is uploading now`, { timeout: 180_000 }, async () => {
    const target = `guard/${kind}-pending-elsewhere.bin`;
    const at = p => (kind === 'smh' ? p.path : p.key) === target;
    await interruptAfter(kind, 'g', target, 1);
    const second = await secondTab();
    try {
      const pendingIn = page => inGuardPage(async ({ kind, options }) => {
        const { client } = await window.guard.uploader(kind, options);
        return client.pendingUploads();
      }, { kind, options: OPTIONS }, 30_000, page);
      assert.equal((await pendingIn(second)).filter(at).length, 1, 'listed while no upload runs it');
      await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: PART_DELAY_MS } });
      // The first tab continues it: once it reports the resumed bytes, it holds the record.
      await inGuardPage(async ({ kind, target, size, options, lastModified }) => {
        const { guard, e2e } = window;
        const { start } = await guard.uploader(kind, options);
        window.continued = start(guard.file('g', size, 'same.bin', lastModified), target);
        await e2e.until(() => window.continued.task.progress.loaded > 0, 30_000, 'the upload continued the record');
      }, { kind, target, size: SIZE, options: OPTIONS, lastModified: LAST_MODIFIED });
      assert.deepEqual((await pendingIn(second)).filter(at), [], 'not offered in the other tab while it uploads');
      const record = await inPage(env, () => window.continued.finished, undefined, 90_000);
      assert.equal(record.error, undefined, `the continued upload failed\n${explain(record, env)}`);
      assert.equal((await stored(kind, target))?.sha256, filledSha('g'), 'the object holds the file');
    } finally {
      await second.close();
      await env.dev.del('faults');
    }
  });
}

test('cos: two tabs uploading the same file at once never continue the same server upload', { timeout: 180_000 }, async () => {
  const target = 'guard/two-tabs.bin';
  await interruptAfter('cos', 'e', target, 1);
  // The resumed upload sends the parts its record does not vouch for.
  const recorded = (await recordsOf(target))[0].parts.length;
  const second = await secondTab();
  try {
    // Parts slow enough that both uploads run at the same time.
    await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: PART_DELAY_MS } });
    const mark = await env.dev.logMark();
    const both = async ({ target, size, options, lastModified }) => {
      const { guard } = window;
      const { start } = await guard.uploader('cos', options);
      return start(guard.file('e', size, 'same.bin', lastModified), target).finished;
    };
    const arg = { target, size: SIZE, options: OPTIONS, lastModified: LAST_MODIFIED };
    const records = await Promise.all([inGuardPage(both, arg), inGuardPage(both, arg, 90_000, second)]);
    records.forEach(r => assert.equal(r.error, undefined, `an upload failed\n${explain(r, env)}`));
    const object = await stored('cos', target);
    assert.equal(object?.sha256, filledSha('e'), 'the object holds the file');
    const log = await env.dev.logSince(mark, 'cos');
    const initiated = log.filter(e => e.op === 'InitiateMultipartUpload' && e.status === 200).length;
    assert.equal(initiated, 1, 'one tab continued the record, the other opened an upload of its own');
    const parts = storedParts(log).length;
    assert.equal(parts, SIZE / PART - recorded + SIZE / PART, `parts sent: the unrecorded ones of the resumed upload once, and all of the new one (${recorded} recorded before)`);
    assert.deepEqual(await openUploads('cos', target), [], 'nothing left open');
  } finally {
    await second.close();
  }
});
