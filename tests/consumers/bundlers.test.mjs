// webpack 5 and esbuild apps that installed the packed tarball (one install, one devserver, one
// Chromium for all), each built with the real tool from the repository's pinned node_modules
// and configured exactly as pkg-template/README.md "Bundlers" says:
//
// - webpack 5: no configuration at all (`webpack build --mode production`, entry
//   src/index.js); it emits the .wasm and the hashing Worker by itself.
// - esbuild, `--bundle --format=esm`, either with the package's .wasm copied next to the bundle
//   (`init()` with no argument), or with `--loader:.wasm=file` and the imported URL handed to
//   `init`. esbuild does not emit the Worker: copied next to the bundle it is found there,
//   else uploads hash on the page.
//
// Each built app is run in headless Chromium and uploads a file whose stored bytes are checked
// on the devserver.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { HERE, installPackedTarball, PAGE_FILES, runNode, runTool, serveAndOpen, TOOLS, uploadThroughPage } from './helpers.mjs';

const APP = join(HERE, 'bundler-app');
const MIB = 1024 * 1024;

let app;
let env;

before(async () => {
  app = await installPackedTarball('bundlers', {
    'src/index.js': join(APP, 'index.js'),
    'src/esbuild-file-loader.js': join(APP, 'esbuild-file-loader.js'),
    'src/upload-page.js': PAGE_FILES['upload-page.js'],
    'src/gen.js': PAGE_FILES['gen.js'],
  });
});

after(async () => {
  await env?.stop();
  app?.cleanup();
});

/** The devserver and browser, started by the first test that uploads. */
async function environment() {
  env ??= await serveAndOpen(app.dir);
  return env;
}

/** The package's own .wasm, as installed. */
const packageWasm = () => readFileSync(join(app.dir, 'node_modules', 'smh-upload', 'smh_upload_bg.wasm'));

/** Builds with `build()` (resolves `{code, output}`) and puts `page` in `dist` as index.html. */
async function bundle(tool, dist, page, build) {
  const result = await build();
  assert.equal(result.code, 0, `${tool} failed:\n${result.output}`);
  copyFileSync(join(APP, page), join(app.dir, dist, 'index.html'));
  return readdirSync(join(app.dir, dist));
}

/**
 * Uploads through the page in `dist`; asserts every .wasm the page fetched came from `dist`, as
 * `application/wasm`, and returns the responses of the upload.
 */
async function uploadFrom(dist, { size, seed, path = `consumer-${dist}.bin` }) {
  const served = await environment();
  const mark = served.requests.length;
  await uploadThroughPage(served, `${served.ready.app}/pkg/${dist}/index.html`, { size, seed, path });
  const requests = served.requests.slice(mark);
  const wasm = requests.filter(r => new URL(r.url).pathname.endsWith('.wasm'));
  assert.ok(wasm.length >= 1, `the page fetched no .wasm: ${JSON.stringify(requests)}`);
  for (const r of wasm) {
    assert.match(new URL(r.url).pathname, new RegExp(`^/pkg/${dist}/[^/]+\\.wasm$`), 'the .wasm comes from the app\'s own output');
    assert.deepEqual([r.status, r.type], [200, 'application/wasm'], r.url);
  }
  return requests;
}

/** Responses for the package's hashing Worker script (`smh_upload_worker.js` or webpack's chunk of it). */
const workerScripts = (requests, dist) => requests.filter(r => {
  const path = new URL(r.url).pathname;
  return path.endsWith('/smh_upload_worker.js') || (path.startsWith(`/pkg/${dist}/`) && path.endsWith('.js') && !path.endsWith('/main.js'));
});

test('the installed README gives the bundler settings these tests use', () => {
  const readme = readFileSync(join(app.dir, 'node_modules', 'smh-upload', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Bundlers'), readme.indexOf('\n## ', readme.indexOf('## Bundlers') + 1));
  for (const said of [
    'webpack build --mode production', 'no `webpack.config.js`', '--bundle --format=esm', '<script type="module">',
    'copy `node_modules/smh-upload/smh_upload_bg.wasm` into the folder of the bundle', '--loader:.wasm=file',
    "import wasmUrl from 'smh-upload/smh_upload_bg.wasm';", 'await init({ module_or_path: wasmUrl });',
    'is not found from an esbuild bundle', 'copy `node_modules/smh-upload/smh_upload_worker.js`',
  ]) assert.ok(section.includes(said), `README "Bundlers" no longer says: ${said}`);
});

test('webpack 5 with no configuration bundles the package and emits its .wasm and Worker', { timeout: 120_000 }, async () => {
  const files = await bundle('webpack', 'dist', 'classic.html', () => runNode(TOOLS.webpack, ['build', '--mode', 'production', '--no-stats'], app.dir));
  const wasm = files.filter(f => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `dist: ${files.join(', ')}`);
  assert.deepEqual(readFileSync(join(app.dir, 'dist', wasm[0])), packageWasm(), 'the emitted .wasm is the package\'s');
  const worker = files.filter(f => f.endsWith('.js') && f !== 'main.js');
  assert.equal(worker.length, 1, `webpack emitted no separate Worker chunk; dist: ${files.join(', ')}`);
  assert.match(readFileSync(join(app.dir, 'dist', worker[0]), 'utf8'), /onmessage/, `${worker[0]} is the hashing Worker`);
});

test('the webpack app uploads a file that lands byte for byte, hashing in the Worker', { timeout: 120_000 }, async t => {
  if (!existsSync(join(app.dir, 'dist', 'main.js'))) return t.skip('webpack failed (see above)');
  const requests = await uploadFrom('dist', { size: 3 * MIB + 21, seed: 903 });
  const worker = workerScripts(requests, 'dist');
  assert.equal(worker.filter(r => r.status === 200).length, 1, `the page loaded the bundled Worker once: ${JSON.stringify(worker)}`);
});

test('esbuild --bundle --format=esm with the .wasm copied next to the bundle', { timeout: 120_000 }, async () => {
  await bundle('esbuild', 'dist-esbuild', 'module.html',
    () => runTool(TOOLS.esbuild, ['src/index.js', '--bundle', '--format=esm', '--log-level=warning', '--outfile=dist-esbuild/main.js'], app.dir));
  copyFileSync(join(app.dir, 'node_modules', 'smh-upload', 'smh_upload_bg.wasm'), join(app.dir, 'dist-esbuild', 'smh_upload_bg.wasm'));
  const requests = await uploadFrom('dist-esbuild', { size: 2 * MIB + 7, seed: 904 });
  // The Worker's URL, resolved against the bundle, points next to it, where esbuild put nothing:
  // tried, not found, and the upload still lands (hashed on the page).
  const worker = workerScripts(requests, 'dist-esbuild');
  assert.ok(worker.length >= 1 && worker.every(r => r.status === 404), `README says the Worker is not found in an esbuild bundle: ${JSON.stringify(worker)}`);
});

test('esbuild bundle with the Worker copied next to it, as the README says: uploads hash in the Worker', { timeout: 120_000 }, async t => {
  if (!existsSync(join(app.dir, 'dist-esbuild', 'main.js'))) return t.skip('esbuild failed (see above)');
  copyFileSync(join(app.dir, 'node_modules', 'smh-upload', 'smh_upload_worker.js'), join(app.dir, 'dist-esbuild', 'smh_upload_worker.js'));
  const requests = await uploadFrom('dist-esbuild', { size: 3 * MIB + 5, seed: 906, path: 'consumer-dist-esbuild-worker.bin' });
  const worker = workerScripts(requests, 'dist-esbuild');
  assert.equal(worker.filter(r => r.status === 200).length, 1, `the page loaded the copied Worker once: ${JSON.stringify(worker)}`);
});

test('esbuild --loader:.wasm=file: the imported .wasm URL given to init()', { timeout: 120_000 }, async () => {
  const files = await bundle('esbuild', 'dist-esbuild-loader', 'module.html',
    () => runTool(TOOLS.esbuild, ['src/esbuild-file-loader.js', '--bundle', '--format=esm', '--loader:.wasm=file', '--log-level=warning', '--outfile=dist-esbuild-loader/main.js'], app.dir));
  const wasm = files.filter(f => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `dist-esbuild-loader: ${files.join(', ')}`);
  assert.deepEqual(readFileSync(join(app.dir, 'dist-esbuild-loader', wasm[0])), packageWasm(), 'the emitted .wasm is the package\'s');
  await uploadFrom('dist-esbuild-loader', { size: 1 * MIB + 3, seed: 905 });
});
