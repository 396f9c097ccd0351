// A plain page, no bundler: `<script type="module">` with an import map that names the installed
// package's files (node_modules/smh-upload/smh_upload.js), served as they are and run in headless
// Chromium, uploading a file to the devserver. `init()` with no argument must find the .wasm
// next to the module.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { HERE, installPackedTarball, PAGE_FILES, serveAndOpen, uploadThroughPage } from './helpers.mjs';

let app;
let env;

before(async () => {
  app = await installPackedTarball('esm', { 'index.html': join(HERE, 'esm-page', 'index.html'), ...PAGE_FILES });
  env = await serveAndOpen(app.dir);
});

after(async () => {
  await env?.stop();
  app?.cleanup();
});

test('a <script type="module"> page uploads with the installed package, no bundler', { timeout: 120_000 }, async () => {
  const path = 'consumer-esm.bin';
  await uploadThroughPage(env, `${env.ready.app}/pkg/index.html`, { size: 2 * 1024 * 1024 + 5, seed: 902, path });
  const wasm = env.requests.filter(r => r.url.endsWith('.wasm'));
  assert.ok(wasm.length >= 1, 'the page fetched no .wasm');
  for (const r of wasm) {
    assert.deepEqual([new URL(r.url).pathname, r.status, r.type], ['/pkg/node_modules/smh-upload/smh_upload_bg.wasm', 200, 'application/wasm']);
  }
});
