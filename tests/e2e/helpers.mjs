// Shared set-up of the end-to-end tests: one smh-devserver (on a fresh data directory, serving
// the built package and tests/e2e/fixture/) and one headless Chromium per test file, plus
// node-side checks that never trust the SDK's own report (bytes through GET /_dev/objects,
// requests through GET /_dev/log).
//
// Environment (set by `cargo xtask test`): SMH_DEVSERVER_BIN, SMH_PKG_DIR, CHROMIUM.

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

import { devHooks as launcherHooks, startDevserver as launch } from '../../devserver/npm/index.js';
import { makeBytes } from './fixture/gen.js';

export { makeBytes };

export const KIB = 1024;
export const MIB = 1024 * 1024;

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURE_DIR = join(HERE, 'fixture');
/** How long the devserver may take to print its READY line. */
const READY_TIMEOUT_MS = 30_000;

/** Chromium flags: root on a closed network, nothing reaching Google's services. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through \`cargo xtask test\`)`);
  return value;
}

/**
 * Starts smh-devserver (the npm package's launcher, with the binary in SMH_DEVSERVER_BIN) on a
 * fresh temporary data directory, serving the built package at `/pkg/` and `www` (default: the
 * fixture page) at `/`; `extraArgs` are more flags, `data` a data directory of the caller's
 * (kept), `ports` `{app, smh, cos}` pinned ports. Resolves once READY to the launcher's
 * devserver: the READY fields, `ready`, `stderr()` (what it logged so far, for failure
 * reports), the `/_dev/` hooks and `stop()` (devserver/npm/index.d.ts).
 */
export async function startDevserver(extraArgs = [], { www = FIXTURE_DIR, data, ports = {} } = {}) {
  return launch({
    binary: required('SMH_DEVSERVER_BIN'),
    pkg: required('SMH_PKG_DIR'),
    www,
    data,
    appPort: ports.app,
    smhPort: ports.smh,
    cosPort: ports.cos,
    args: extraArgs,
    env: { SMH_DEVSERVER_LOG: process.env.SMH_DEVSERVER_LOG || 'warn' },
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
}

/** Launches headless Chromium with a fresh profile (and `args`, more flags); returns
 *  `{context, page, close()}`. */
export async function launchBrowser({ args = [] } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'smh-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const console = [];
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, console, close };
}

/**
 * Registers before/after hooks for a test file: a devserver and a browser with the fixture page
 * loaded and configured. Returns an object filled in by `before` with
 * `{ready, page, dev(...), browserConsole, devserverLog()}`. Between tests the faults are
 * cleared and the devserver settings put back.
 */
/** Starts a suite's devserver and fills `env` with what every suite reads from it: `ready`,
 * `devserverLog`, the `/_dev/` hooks as `dev`, and the devserver's default `config`. */
export async function startSuiteDevserver(env, devserverArgs = []) {
  const server = await startDevserver(devserverArgs);
  env.ready = server.ready;
  env.devserverLog = server.stderr;
  env.dev = devHooks(server.ready.app);
  env.defaults = await env.dev.get('config');
  return server;
}

export function useEnvironment({ devserverArgs = [] } = {}) {
  const env = {};
  let server;
  let browser;
  const openPage = async () => {
    env.page = await browser.context.newPage();
    env.page.on('console', m => browser.console.push(`[${m.type()}] ${m.text()}`));
    env.page.on('pageerror', e => browser.console.push(`[pageerror] ${e.message}`));
    env.page.on('crash', () => browser.console.push('[crash] the page crashed'));
    await env.page.goto(`${server.ready.app}/`);
    await env.page.waitForFunction(() => window.e2eReady !== undefined, null, { timeout: 30_000 });
    const status = await env.page.evaluate(() => window.e2eReady);
    if (status !== true) throw new Error(`fixture page: ${status}`);
    await env.page.evaluate(r => window.e2e.configure(r), server.ready);
  };
  /** Replaces a page that stopped answering (a busy loop in the SDK) with a fresh one. */
  env.replacePage = async () => {
    const old = env.page;
    await Promise.race([old.close({ runBeforeUnload: false }).catch(() => {}), new Promise(r => setTimeout(r, 10_000))]);
    await openPage();
  };
  before(async () => {
    server = await startSuiteDevserver(env, devserverArgs);
    browser = await launchBrowser();
    env.browserConsole = browser.console;
    await browser.page.close();
    await openPage();
  });
  beforeEach(async () => {
    await env.dev.del('faults');
    await env.dev.post('config', { ...env.defaults, cosDomain: null });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
  return env;
}

/**
 * The app origin's /_dev/ hooks, from node: the launcher's (devserver/npm/index.js) and the
 * short forms these suites use (`get`, `post`, `del`, `faults(rules)`, `logSince`).
 */
export function devHooks(app) {
  const hooks = launcherHooks(app);
  return {
    ...hooks,
    get: path => hooks.dev('GET', path),
    post: (path, body = {}) => hooks.dev('POST', path, body),
    del: path => hooks.dev('DELETE', path),
    faults: rules => hooks.dev('POST', 'faults', rules),
    /** Log entries after `mark`, optionally of one origin. */
    logSince: (mark, origin) => hooks.log({ since: mark, origin }),
  };
}

/**
 * Waits until the cos origin is quiet — the last entry of its request log and the multipart
 * uploads it holds (with their part counts) unchanged for `quietMs` — so that the requests a
 * closed page left in flight are stored or refused before the bucket is inspected. `quietMs`
 * must exceed the longest time the server holds a request (an injected delay).
 */
export async function settleCos(dev, quietMs, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  const snapshot = async () => JSON.stringify([(await dev.get('log?origin=cos')).at(-1)?.seq, (await dev.uploads()).cos]);
  let last = await snapshot();
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs) {
    if (Date.now() > end) throw new Error(`the cos origin was still busy after ${timeoutMs} ms`);
    await new Promise(resolve => setTimeout(resolve, 50));
    const now = await snapshot();
    if (now !== last) [last, quietSince] = [now, Date.now()];
  }
}

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 of `makeBytes(size, seed)`. */
export function expectedSha(size, seed) {
  return sha256(makeBytes(size, seed));
}

/** Cos requests that carried file bytes (PutObject / UploadPart) among `entries`. */
export function byteRequests(entries) {
  return entries.filter(e => e.origin === 'cos' && (e.op === 'PutObject' || e.op === 'UploadPart'));
}

/**
 * `page.evaluate(fn, arg)` on the environment's page, bounded by `timeoutMs`: a page whose main
 * thread is stuck (a busy loop in the SDK) never answers, so after the bound the page is
 * replaced (later tests get a working one) and this rejects.
 */
export async function inPage(env, fn, arg, timeoutMs = 60_000) {
  let timer;
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the page did not answer within ${timeoutMs} ms: its main thread is blocked (a busy loop in the SDK?)`)), timeoutMs);
  });
  try {
    return await Promise.race([env.page.evaluate(fn, arg), bound]);
  } catch (e) {
    if (/did not answer/.test(e.message)) await env.replacePage();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Uploads `makeBytes(size, seed)` to `path` through the page: a client made with
 * `clientOptions` (page-side defaults: the devserver's smh, library, space, cos domain and a
 * fresh token), `client.upload(blob, path, uploadOptions)`, `done()` awaited. Returns the
 * page's record: `{result?, error?, states, progress, finalState, finalProgress}`.
 */
export async function uploadInPage(env, { size, seed, path, clientOptions = {}, uploadOptions = {}, timeoutMs = 60_000 }) {
  return inPage(env, async ({ size, seed, path, clientOptions, uploadOptions, timeoutMs }) => {
    const client = await window.e2e.client(clientOptions);
    const blob = window.e2e.blob(size, seed);
    const { finished } = window.e2e.watch(hooks => client.upload(blob, path, { ...uploadOptions, ...hooks }), timeoutMs);
    return finished;
  }, { size, seed, path, clientOptions, uploadOptions, timeoutMs }, timeoutMs + 5_000);
}

/** A readable account of an upload that went wrong, for assertion messages. */
export function explain(record, env) {
  const lines = [`page record: ${JSON.stringify({ ...record, progress: `${record.progress?.length} events` })}`];
  if (env?.browserConsole?.length) lines.push(`browser console:\n  ${env.browserConsole.slice(-20).join('\n  ')}`);
  const log = env?.devserverLog?.();
  if (log) lines.push(`devserver stderr (tail):\n${log.slice(-3000)}`);
  return lines.join('\n');
}

/**
 * Asserts the upload of `makeBytes(size, seed)` finished and that the bucket object behind
 * library path `path` holds exactly those bytes (sha256 computed here, not by the SDK).
 */
export async function assertLanded(env, record, { path, size, seed }) {
  assert.equal(record.error, undefined, `upload of ${path} failed\n${explain(record, env)}`);
  assert.equal(record.finalState, 'done', `final state\n${explain(record, env)}`);
  const object = await env.dev.objectAt(path);
  assert.ok(object, `no object backs ${path}; objects: ${JSON.stringify(await env.dev.objects())}`);
  assert.equal(object.size, size, `size of the object behind ${path}`);
  assert.equal(object.sha256, expectedSha(size, seed), `sha256 of the object behind ${path}`);
  return object;
}
