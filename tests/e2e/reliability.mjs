// Helpers of the reliability suites (resume after reload, fault soak, secrets, devserver crash):
// files on disk, the SDK's checkpoint records in the page, the bytes the cos origin received,
// and the SMH calls a test makes behind the SDK's back.

import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

import { byteRequests, makeBytes, MIB, startDevserver } from './helpers.mjs';

/** Writes `size` bytes of `makeBytes` stream `seed` to `path`; returns their sha256. */
export function writeDeterministicFile(path, size, seed) {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    const chunk = 8 * MIB;
    for (let offset = 0; offset < size; offset += chunk) {
      const bytes = makeBytes(Math.min(chunk, size - offset), seed, offset);
      hash.update(bytes);
      writeSync(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * In a page (pass it to `page.evaluate`, or install it with `installCheckpointReader`): the
 * SDK's checkpoint entries `[{key, value}]` of `checkpoints: 'local'` — the IndexedDB database
 * `smh-upload` (store `checkpoints`) and its fallback, localStorage keys `smh-upload:*`. The
 * database is only read if it exists (opening it here must not create it without its store).
 */
export async function readCheckpoints() {
  const out = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key.startsWith('smh-upload:')) out.push({ key, value: localStorage.getItem(key) });
  }
  const settle = request => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  if (!(await indexedDB.databases()).some(d => d.name === 'smh-upload')) return out;
  const db = await settle(indexedDB.open('smh-upload'));
  try {
    if (db.objectStoreNames.contains('checkpoints')) {
      const store = db.transaction('checkpoints', 'readonly').objectStore('checkpoints');
      const [keys, values] = await Promise.all([settle(store.getAllKeys()), settle(store.getAll())]);
      keys.forEach((key, i) => out.push({ key: String(key), value: String(values[i]) }));
    }
  } finally {
    db.close();
  }
  return out;
}

/** Defines `window.readCheckpoints()` in `page` (for sampling from code running in the page). */
export async function installCheckpointReader(page) {
  await page.evaluate(`window.readCheckpoints = ${readCheckpoints.toString()}`);
}

/** The SDK's checkpoint entries in `page`'s origin (see `readCheckpoints`). */
export async function checkpointEntries(page) {
  return page.evaluate(readCheckpoints);
}

/** The parsed upload records among `checkpointEntries` (the index left out). */
export function uploadRecords(entries) {
  return entries.filter(e => e.key.startsWith('smh-upload:up:')).map(e => JSON.parse(e.value));
}

/** Sum of the body bytes the cos origin read in PutObject/UploadPart requests among `entries`. */
export function cosBytesIn(entries) {
  return byteRequests(entries).reduce((n, e) => n + e.bytesIn, 0);
}

/** UploadPart requests among `entries` that stored a part and said so (200 with the right CRC). */
export function storedParts(entries) {
  return byteRequests(entries).filter(e => e.op === 'UploadPart' && e.status === 200 && e.fault !== 'badCrc');
}

/** Cancels the SMH upload `confirmKey` from the page, as another tab or an admin would. */
export async function cancelOnServer(page, confirmKey) {
  return page.evaluate(async confirmKey => {
    const { e2e } = window;
    const r = e2e.ready;
    const url = `${r.smh}/api/v1/file/${encodeURIComponent(r.libraryId)}/${encodeURIComponent(r.spaceId)}/`
      + `${encodeURIComponent(confirmKey)}?upload&access_token=${encodeURIComponent(await e2e.token())}`;
    const resp = await fetch(url, { method: 'DELETE' });
    return resp.status;
  }, confirmKey);
}

/** `ms` milliseconds. */
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/**
 * smh-devserver on data directory `data` (kept: the caller owns it), serving the package and
 * `www`; `ports` `{app, smh, cos}` pins the ports (0 or absent: free ones). Resolves once READY
 * with `{ready, ports, kill9(), stop(), stderr()}`; `kill9()` is a crash (SIGKILL, no cleanup).
 */
export async function devserverOn(data, { ports = {}, www } = {}) {
  const server = await startDevserver([], { www, data, ports });
  const port = url => Number(new URL(url.includes('://') ? url : `http://${url}`).port);
  const { ready } = server;
  return {
    ready,
    ports: { app: port(ready.app), smh: port(ready.smh), cos: port(ready.cos) },
    stderr: server.stderr,
    kill9: server.kill,
    stop: server.stop,
  };
}
