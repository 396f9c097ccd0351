// The mini-program consumer: the packed tarball `npm install`ed into a fresh project, laid out
// as WeChat DevTools' "build npm" lays out a package made for mini-programs (its package.json
// `miniprogram` field names the folder copied to miniprogram_npm/<name>/), then loaded by
// `require('smh-upload')` in tests/miniprogram's imitated logic layer (only wx, WXWebAssembly,
// timers, console, CommonJS) and used against the devserver: a small and a multipart upload,
// their stored bytes checked on the devserver (sha256 from GET /_dev/objects).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { assertLanded, byteRequests, devHooks } from '../e2e/helpers.mjs';
import { assertPlatformRules, MIB, makeMiniProgram, upload } from '../miniprogram/helpers.mjs';
import { installPackedTarball, startDevserverServing } from './helpers.mjs';

/** The folder "build npm" copies when a package's package.json has no `miniprogram` field. */
const DEFAULT_MINIPROGRAM_FOLDER = 'miniprogram_dist';

let app;
let server;
const env = {};

/**
 * "Build npm" for `projectDir`: for each of its package.json `dependencies` (devDependencies are
 * not built), the installed package's mini-program folder — `{name: folder}` for
 * miniprogram_npm/. A package without that folder would be bundled from its `main` instead;
 * this project has none, so that is an error here.
 */
function buildNpm(projectDir) {
  const project = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8'));
  const packages = {};
  for (const name of Object.keys(project.dependencies ?? {})) {
    const root = join(projectDir, 'node_modules', name);
    const folder = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).miniprogram ?? DEFAULT_MINIPROGRAM_FOLDER;
    const path = join(root, folder);
    assert.ok(existsSync(path) && statSync(path).isDirectory(), `build npm: ${name} has no mini-program folder ${folder}/`);
    packages[name] = path;
  }
  return packages;
}

before(async () => {
  app = await installPackedTarball('miniprogram');
  server = await startDevserverServing(app.dir);
  Object.assign(env, { ready: server.ready, dev: devHooks(server.ready.app), devserverLog: server.stderr });
});

after(async () => {
  env.mp?.close();
  await server?.stop();
  app?.cleanup();
});

test('"build npm" finds the mini-program folder through the installed package.json', () => {
  const packages = buildNpm(app.dir);
  assert.deepEqual(Object.keys(packages), ['smh-upload'], 'npm install saved the tarball under dependencies');
  const manifest = JSON.parse(readFileSync(join(app.dir, 'node_modules', 'smh-upload', 'package.json'), 'utf8'));
  assert.equal(typeof manifest.miniprogram, 'string', 'package.json names its mini-program folder');
  // `require('smh-upload')` loads the folder's index.js; its types sit beside it.
  for (const file of ['index.js', 'index.d.ts']) assert.ok(existsSync(join(packages['smh-upload'], file)), `${manifest.miniprogram}/${file}`);
});

test('require(\'smh-upload\') in the logic layer, then init()', { timeout: 60_000 }, async () => {
  env.mp = makeMiniProgram(env.ready, { packages: buildNpm(app.dir) });
  const page = env.mp.require('/pages/test/test.js');
  await page.load();
  assert.ok(page.exportNames().includes('SmhClient'), `exports: ${page.exportNames()}`);
  env.page = page;
});

test('a small file uploads in one request and lands byte for byte', { timeout: 60_000 }, async t => {
  if (!env.page) return t.skip('the package did not load (see above)');
  const size = 200 * 1024 + 11;
  const mark = await env.dev.logMark();
  const record = await upload(env, { size, seed: 911, path: 'consumer-mp/small.bin' });
  await assertLanded(env, record, { path: 'consumer-mp/small.bin', size, seed: 911 });
  const sent = byteRequests(await env.dev.logSince(mark, 'cos'));
  assert.deepEqual(sent.map(e => e.op), ['PutObject'], `byte requests the devserver saw: ${JSON.stringify(sent)}`);
  assertPlatformRules(env.mp);
});

test('a multipart file (three 2 MiB parts) uploads and lands byte for byte', { timeout: 90_000 }, async t => {
  if (!env.page) return t.skip('the package did not load (see above)');
  const size = 5 * MIB + 9;
  const mark = await env.dev.logMark();
  const record = await upload(env, { size, seed: 912, path: 'consumer-mp/multipart.bin' });
  await assertLanded(env, record, { path: 'consumer-mp/multipart.bin', size, seed: 912 });
  const sent = byteRequests(await env.dev.logSince(mark, 'cos'));
  assert.deepEqual(sent.map(e => e.op), ['UploadPart', 'UploadPart', 'UploadPart'], `byte requests the devserver saw: ${JSON.stringify(sent)}`);
  assertPlatformRules(env.mp);
});
