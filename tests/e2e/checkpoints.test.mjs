// checkpoints: 'local' in the browser (src/bindings/js/local.js): records go to IndexedDB, where
// another client (as after a reload) finds them, and to localStorage only when IndexedDB cannot
// be opened. Each test pauses a multipart upload after its first part, reads where the record
// went, and cancels it. And a page's own `{get, set, remove}` store, called as the API says.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MIB, inPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();

/** In the page: starts a 3-part upload to `path`, pauses it once a part is sent, waits until a
 *  second client lists it in pendingUploads(); returns where the SDK's keys are, then cancels. */
async function pausedUpload(path, { idbOpenThrows }) {
  return inPage(env, async ({ path, idbOpenThrows, MIB }) => {
    const { e2e } = window;
    const open = IDBFactory.prototype.open;
    if (idbOpenThrows) {
      IDBFactory.prototype.open = function () {
        throw new DOMException('IndexedDB is off in this test', 'InvalidStateError');
      };
    }
    try {
      const options = { multipartThreshold: MIB, partSize: MIB };
      const client = await e2e.client(options);
      let task;
      await new Promise((resolve, reject) => {
        task = client.upload(e2e.blob(3 * MIB, 9), path, {
          quickUpload: false,
          onProgress: p => {
            if (p.phase === 'uploading' && p.loaded >= MIB && task.state !== 'paused') {
              task.pause();
              resolve();
            }
          },
        });
        task.done().then(() => reject(new Error('finished before it was paused')), reject);
      });
      const other = await e2e.client(options);
      let pending = [];
      const end = performance.now() + 20_000;
      while (!pending.some(p => p.path === path)) {
        if (performance.now() > end) throw new Error(`pendingUploads() of another client never listed ${path}`);
        await e2e.sleep(50);
        pending = await other.pendingUploads();
      }
      const localKeys = Object.keys(localStorage).filter(k => k.startsWith('smh-upload:'));
      const databases = (await indexedDB.databases()).map(d => d.name);
      task.cancel();
      await task.done().catch(() => {});
      await other.discardPending(path);
      for (const key of Object.keys(localStorage)) if (key.startsWith('smh-upload:')) localStorage.removeItem(key);
      return { listed: pending.find(p => p.path === path), localKeys, databases };
    } finally {
      IDBFactory.prototype.open = open;
    }
  }, { path, idbOpenThrows, MIB }, 60_000);
}

test("checkpoints: 'local' keeps records in IndexedDB, where another client finds them", { timeout: 90_000 }, async () => {
  const { listed, localKeys, databases } = await pausedUpload('checkpoints/idb.bin', { idbOpenThrows: false });
  assert.deepEqual([listed.name, listed.size], ['idb.bin', 3 * MIB], JSON.stringify(listed));
  assert.ok(databases.includes('smh-upload'), `databases: ${databases}`);
  assert.deepEqual(localKeys, [], 'nothing in localStorage: it is only the fallback');
});

test("checkpoints: 'local' falls back to localStorage where IndexedDB cannot be opened", { timeout: 90_000 }, async () => {
  const { listed, localKeys } = await pausedUpload('checkpoints/local.bin', { idbOpenThrows: true });
  assert.deepEqual([listed.name, listed.size], ['local.bin', 3 * MIB], JSON.stringify(listed));
  assert.ok(localKeys.length >= 2, `the record and the index in localStorage: ${localKeys}`);
});

test("a page's own store: each method called on the store, get and remove with the key, set with the key and the record; a second client finds the record", { timeout: 60_000 }, async () => {
  const record = await inPage(env, async MIB => {
    const { e2e } = window;
    const calls = [];
    const store = {
      records: new Map(),
      get(key) {
        calls.push({ method: 'get', args: arguments.length, onStore: this === store, key: typeof key });
        return Promise.resolve(this.records.get(key) ?? null);
      },
      set(key, value) {
        calls.push({ method: 'set', args: arguments.length, onStore: this === store, key: typeof key, value: typeof value });
        this.records.set(key, value);
      },
      remove(key) {
        calls.push({ method: 'remove', args: arguments.length, onStore: this === store, key: typeof key });
        this.records.delete(key);
      },
    };
    const options = { multipartThreshold: MIB, partSize: MIB, checkpoints: store };
    const client = await e2e.client(options);
    const w = e2e.watch(
      hooks => client.upload(e2e.blob(3 * MIB + 7, 180), 'own-store.bin', hooks),
      30_000,
      { onProgress: (p, task) => p.phase === 'uploading' && p.loaded >= MIB && task.state !== 'paused' && task.pause() },
    );
    await e2e.until(() => w.task.state === 'paused', 20_000, 'paused');
    const pending = await (await e2e.client(options)).pendingUploads();
    w.task.cancel();
    await w.finished;
    return { calls, pending: pending.map(p => p.path) };
  }, MIB);
  const methods = new Set(record.calls.map(c => c.method));
  assert.deepEqual([...methods].sort(), ['get', 'remove', 'set'], JSON.stringify(record.calls));
  for (const c of record.calls) {
    assert.ok(c.onStore && c.key === 'string', `called on the store with a string key: ${JSON.stringify(c)}`);
    assert.equal(c.args, c.method === 'set' ? 2 : 1, `arguments of ${JSON.stringify(c)}`);
    if (c.method === 'set') assert.equal(c.value, 'string');
  }
  assert.deepEqual(record.pending, ['own-store.bin']);
});
