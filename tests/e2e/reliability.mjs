// Helpers of the reliability suites (resume after reload, fault soak, secrets, devserver crash):
// files on disk, the SDK's checkpoint records in the page, the bytes the cos origin received,
// and the SMH calls a test makes behind the SDK's back.

import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

import { byteRequests, makeBytes, MIB } from './helpers.mjs';

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
 * The SDK's checkpoint entries in `page`'s origin (`checkpoints: 'local'` keeps them in
 * localStorage under `smh-upload:`): `[{key, value}]`.
 */
export async function checkpointEntries(page) {
  return page.evaluate(() => {
    const out = [];
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key.startsWith('smh-upload:')) out.push({ key, value: localStorage.getItem(key) });
    }
    return out;
  });
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
