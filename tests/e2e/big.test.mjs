// The 256 MiB measurement: a disk-backed File (docs/design.md §6: in-memory Blobs that large are
// unreliable in headless Chromium) handed to the page with setInputFiles, uploaded with default
// options. The bytes are checked through /_dev/objects; the rate is printed, not asserted.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { explain, inPage, MIB, useEnvironment } from './helpers.mjs';
import { writeDeterministicFile } from './reliability.mjs';

const env = useEnvironment();
const SIZE = 256 * MIB;
const SEED = 900;
const file = join(tmpdir(), `smh-e2e-256MiB-${process.pid}.bin`);
after(() => rmSync(file, { force: true }));

test('256 MiB file from disk, default options: bytes correct; rate printed', { timeout: 300_000 }, async () => {
  const sha = writeDeterministicFile(file, SIZE, SEED);
  await env.page.setInputFiles('#file', file);
  const path = 'big-256MiB.bin';
  const record = await inPage(env, async ({ path }) => {
    const { e2e } = window;
    const picked = document.getElementById('file').files[0];
    const client = await e2e.client();
    const started = performance.now();
    const w = e2e.watch(hooks => client.upload(picked, path, hooks), 240_000);
    const record = await w.finished;
    record.seconds = (performance.now() - started) / 1000;
    record.fileSize = picked.size;
    record.progress = record.progress.slice(-3); // keep the answer small
    return record;
  }, { path }, 250_000);
  assert.equal(record.fileSize, SIZE, 'the page got the whole file');
  assert.equal(record.error, undefined, `upload failed\n${explain(record, env)}`);
  const object = await env.dev.objectAt(path);
  assert.ok(object, `no object backs ${path}`);
  assert.equal(object.size, SIZE);
  assert.equal(object.sha256, sha, 'sha256 of the stored object');
  const rate = SIZE / 1e6 / record.seconds;
  console.log(`e2e: 256 MiB uploaded in ${record.seconds.toFixed(2)} s = ${rate.toFixed(1)} MB/s`);
});
