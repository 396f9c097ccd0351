// checkpoints: 'local' in the browser (src/bindings/js/local.js): records go to IndexedDB, where
// another client (as after a reload) finds them, and to localStorage only when IndexedDB cannot
// be opened. Each test pauses a multipart upload after its first part, reads where the record
// went, and cancels it.

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
