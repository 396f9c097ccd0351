// A fresh Vite app that installed the packed tarball: `vite build`, then the built app served
// and run in headless Chromium, uploading a file to the devserver. Proves that Vite finds and
// emits the .wasm (the glue's `new URL('smh_upload_bg.wasm', import.meta.url)`) and that the
// built app loads it.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { HERE, installPackedTarball, PAGE_FILES, runNode, serveAndOpen, TOOLS, uploadThroughPage } from './helpers.mjs';

let app;
let env;

before(async () => {
  app = await installPackedTarball('vite', {
    'index.html': join(HERE, 'vite-app', 'index.html'),
    'main.js': join(HERE, 'vite-app', 'main.js'),
    ...PAGE_FILES,
  });
});

after(async () => {
  await env?.stop();
  app?.cleanup();
});

test('vite build bundles the package and emits its .wasm as an asset', { timeout: 120_000 }, async () => {
  // No vite.config: a new app's defaults, only a relative base so dist/ can be served from /pkg/.
  const build = await runNode(TOOLS.vite, ['build', '--base', './', '--logLevel', 'warn'], app.dir);
  assert.equal(build.code, 0, `vite build failed:\n${build.output}`);
  const assets = readdirSync(join(app.dir, 'dist', 'assets'));
  const wasm = assets.filter(f => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `dist/assets: ${assets.join(', ')}`);
  const referring = assets
    .filter(f => f.endsWith('.js'))
    .filter(f => readFileSync(join(app.dir, 'dist', 'assets', f), 'utf8').includes(wasm[0]));
  assert.equal(referring.length, 1, `JS chunks naming ${wasm[0]}: ${referring.join(', ')} (dist/assets: ${assets.join(', ')})`);
  const original = readFileSync(join(app.dir, 'node_modules', 'smh-upload', 'smh_upload_bg.wasm'));
  assert.deepEqual(readFileSync(join(app.dir, 'dist', 'assets', wasm[0])), original, 'the emitted .wasm is the package\'s');
});

test('the built Vite app uploads a file that lands byte for byte', { timeout: 120_000 }, async t => {
  if (!existsSync(join(app.dir, 'dist', 'index.html'))) return t.skip('vite build failed (see above)');
  env = await serveAndOpen(join(app.dir, 'dist'));
  const path = 'consumer-vite.bin';
  await uploadThroughPage(env, `${env.ready.app}/pkg/index.html`, { size: 3 * 1024 * 1024 + 17, seed: 901, path });
  // The page (and the package's Worker, when it loads one) fetch the emitted asset, nothing else.
  const wasm = env.requests.filter(r => r.url.endsWith('.wasm'));
  assert.ok(wasm.length >= 1, 'the page fetched no .wasm');
  for (const r of wasm) {
    assert.match(r.url, /\/pkg\/assets\/smh_upload_bg-[^/]+\.wasm$/, 'the .wasm comes from the app\'s own assets');
    assert.deepEqual([r.status, r.type], [200, 'application/wasm'], r.url);
  }
});
