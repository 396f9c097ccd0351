// Shared set-up of the mini-program tests: one smh-devserver per test file (started as
// tests/e2e does) and one imitated mini-program (harness.mjs) whose project holds the built
// package as "build npm" lays it out (miniprogram_npm/smh-upload/ = pkg/miniprogram/),
// cos-wx-sdk-v5 as "build npm" bundles a plain npm package, and the test page (page.js).
//
// Environment (set by `cargo xtask test`): SMH_DEVSERVER_BIN, SMH_PKG_DIR.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach } from 'node:test';

import { assertLanded, byteRequests, expectedSha, makeBytes, MIB, startSuiteDevserver } from '../e2e/helpers.mjs';
import { MiniProgram } from './harness.mjs';

export { assertLanded, byteRequests, expectedSha, makeBytes, MIB };

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGE = '/pages/test/test.js';

/** The built mini-program folder (`pkg/miniprogram`). */
export function packageDir() {
  const pkg = process.env.SMH_PKG_DIR;
  if (!pkg) throw new Error('SMH_PKG_DIR is not set (run through `cargo xtask test --only miniprogram`)');
  return join(pkg, 'miniprogram');
}

/** The file "build npm" would bundle for cos-wx-sdk-v5 (its package.json `main`). */
function cosWxSdkMain() {
  const require = createRequire(import.meta.url);
  return require.resolve('cos-wx-sdk-v5');
}

/**
 * A mini-program for the devserver `ready`: its domains allowed, the page loaded. `packages`
 * ({name: folder} for miniprogram_npm/) defaults to smh-upload from the built pkg/.
 */
export function makeMiniProgram(ready, { wasmResult = 'pair', titleCaseHeaders = false, packages } = {}) {
  const hostOf = url => new URL(url).host;
  return new MiniProgram({
    packages: packages ?? { 'smh-upload': packageDir() },
    npmFiles: { 'cos-wx-sdk-v5': cosWxSdkMain() },
    pages: { 'pages/test/test.js': join(HERE, 'page.js') },
    domains: [hostOf(ready.app), hostOf(ready.smh), ready.cos],
    wasmResult,
    titleCaseHeaders,
  });
}

/**
 * Registers before/after hooks: a devserver and a loaded mini-program. Returns an object filled
 * in by `before`: `{ready, dev, mp, page, devserverLog()}`; `env.reload()` reopens the
 * mini-program (same files and storage) and loads the package again.
 */
export function useMiniProgram({ devserverArgs = [] } = {}) {
  const env = {};
  let server;
  env.reload = async () => {
    env.mp.reload();
    env.page = env.mp.require(PAGE);
    await env.page.load();
  };
  before(async () => {
    server = await startSuiteDevserver(env, devserverArgs);
    env.mp = makeMiniProgram(server.ready);
    env.page = env.mp.require(PAGE);
    await env.page.load();
  });
  beforeEach(async () => {
    await env.dev.del('faults');
    await env.dev.post('config', { ...env.defaults, cosDomain: null });
  });
  after(async () => {
    env.mp?.close();
    await server?.stop();
  });
  return env;
}

/**
 * Uploads `makeBytes(size, seed)` as a mini-program file to `path`; resolves with the page's
 * record (`result` or `error`, `states`, `progress`, `finalState`) and `seconds`.
 */
export async function upload(env, { size, seed, path, clientOptions, uploadOptions, timeoutMs = 60_000 }) {
  const file = env.mp.addFile(path.split('/').pop(), makeBytes(size, seed));
  const started = Date.now();
  const { finished } = env.page.start({ ready: env.ready, file: { filePath: file.path, size: file.size }, path, clientOptions, uploadOptions });
  const record = await bounded(finished, timeoutMs, `upload of ${path}`);
  return { ...record, seconds: (Date.now() - started) / 1000, file };
}

/** `promise`, or a rejection after `ms`. */
export function bounded(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Resolves once `check()` is true (polled every 20 ms), or rejects after `ms`. */
export async function until(check, ms, what) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

/** Asserts the harness saw nothing WeChat forbids: no Referer/Content-Length, timeouts ≤ 60 s, ≤ 10 in flight, no queueing. */
export function assertPlatformRules(mp) {
  assert.deepEqual(mp.stats.violations, [], 'requests broke a wx.request rule');
  assert.ok(mp.stats.maxInFlight <= 10, `${mp.stats.maxInFlight} requests were in flight at once`);
}
