// Shared set-up of the consumer tests: the package as users meet it. Each test installs the
// packed tarball (`cargo xtask pkg` → target/pkg/smh-upload-<version>.tgz) into a fresh temporary
// project with `npm install <tgz>` — never the pkg/ folder — then builds, serves or type-checks
// that project. Tools (vite, webpack, esbuild, typescript) come from the repository's node_modules, pinned in its
// package-lock.json; the package itself has no runtime dependencies, so the install is offline.
//
// The consumers: a Vite app, webpack 5 and esbuild bundles, a plain ESM page (uploads in
// headless Chromium), strict TypeScript, and a mini-program (the tarball's `miniprogram` folder
// laid out as WeChat's "build npm" does, run in tests/miniprogram's imitated logic layer).
//
// Environment (set by `cargo xtask test`): SMH_PKG_TGZ, SMH_DEVSERVER_BIN, CHROMIUM.

import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';

import { devHooks, expectedSha, launchBrowser, startDevserver } from '../e2e/helpers.mjs';

export { devHooks };

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '..', '..');
/** The repository's pinned tools. */
export const TOOLS = {
  vite: join(REPO, 'node_modules', 'vite', 'bin', 'vite.js'),
  webpack: join(REPO, 'node_modules', 'webpack', 'bin', 'webpack.js'),
  // esbuild's bin is its native executable (or a node script that starts it, with a shebang).
  esbuild: join(REPO, 'node_modules', '.bin', 'esbuild'),
  tsc: join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
};
/** Every tool run is bounded: a hung build fails the test instead of the stage. */
const TOOL_TIMEOUT_MS = 120_000;

/** Runs `node script ...args` in `cwd`; resolves `{code, output}` (stdout + stderr), never rejects on a non-zero exit. */
export function runNode(script, args, cwd) {
  return runTool(process.execPath, [script, ...args], cwd);
}

/** Runs the executable `file` with `args` in `cwd`, like {@link runNode}. */
export async function runTool(file, args, cwd) {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 << 20 });
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    if (e.code === undefined || typeof e.code === 'string') throw e;
    return { code: e.code, output: `${e.stdout}${e.stderr}` };
  }
}

/** Absolute path of the packed tarball (npm runs in the consumer's directory). */
export function tarball() {
  const tgz = process.env.SMH_PKG_TGZ;
  if (!tgz) throw new Error('SMH_PKG_TGZ is not set (run through `cargo xtask test --only consumers`)');
  return resolve(tgz);
}

/**
 * A fresh project in a temporary directory (removed by `cleanup()`), with the packed tarball
 * installed as users do: `npm install --no-audit --no-fund <tgz>`. `files` (relative path →
 * path in this repository, file or folder) are copied in first.
 */
export async function installPackedTarball(name, files = {}) {
  const dir = mkdtempSync(join(tmpdir(), `smh-consumer-${name}-`));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }, null, 2)}\n`);
  for (const [to, from] of Object.entries(files)) cpSync(from, join(dir, to), { recursive: true });
  const npm = promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', tarball()], {
    cwd: dir,
    timeout: TOOL_TIMEOUT_MS,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  await npm.catch(e => {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`npm install of the tarball failed: ${e.stderr || e.message}`);
  });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A devserver (tests/e2e's `startDevserver`) whose app origin serves `root` at `/pkg/`. */
export async function startDevserverServing(root) {
  const previous = process.env.SMH_PKG_DIR;
  process.env.SMH_PKG_DIR = root;
  try {
    return await startDevserver();
  } finally {
    if (previous === undefined) delete process.env.SMH_PKG_DIR;
    else process.env.SMH_PKG_DIR = previous;
  }
}

/**
 * Serves `root` on a devserver's app origin (its `--pkg` folder, so the pages are at
 * `${app}/pkg/…` next to the app's `POST /token` and `/_dev/` hooks) and opens a headless
 * Chromium. Returns `{ready, dev, page, console, requests, stop()}`; `requests` records every
 * response the page got (`{url, status, type}`).
 */
export async function serveAndOpen(root) {
  const server = await startDevserverServing(root);
  const browser = await launchBrowser().catch(async e => {
    await server.stop();
    throw e;
  });
  const { page } = browser;
  const requests = [];
  page.on('console', m => browser.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', e => browser.console.push(`[pageerror] ${e.message}`));
  page.on('response', r => requests.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] ?? '' }));
  const stop = async () => {
    await browser.close();
    await server.stop();
  };
  return { ready: server.ready, dev: devHooks(server.ready.app), page, console: browser.console, requests, devserverLog: server.stderr, stop };
}

/**
 * Opens `url` (a consumer page that sets `window.consumer` when its module ran) and uploads
 * generated bytes through it; asserts the bucket holds exactly those bytes (sha256 computed
 * here, from `GET /_dev/objects`, not from the SDK's report). Returns the page's record.
 */
export async function uploadThroughPage(env, url, { size, seed, path }) {
  await env.page.goto(url);
  await env.page.waitForFunction(() => window.consumer !== undefined, null, { timeout: 30_000 })
    .catch(e => {
      throw new Error(`the page never became ready: ${e.message}\nbrowser console:\n${env.console.join('\n')}`);
    });
  const record = await env.page.evaluate(arg => window.consumer.upload(arg), { size, seed, path });
  const explain = `page record: ${JSON.stringify(record)}\nbrowser console:\n${env.console.join('\n')}\ndevserver:\n${env.devserverLog().slice(-2000)}`;
  assert.equal(record.error, undefined, `the upload failed\n${explain}`);
  assert.equal(record.states.at(-1), 'done', `states\n${explain}`);
  const object = await env.dev.objectAt(path);
  assert.ok(object, `no object backs ${path}; objects: ${JSON.stringify(await env.dev.objects())}`);
  assert.equal(object.size, size, 'size of the stored object');
  assert.equal(object.sha256, expectedSha(size, seed), 'sha256 of the stored object');
  assert.equal(record.result.size, size, 'result.size');
  return record;
}

/** The page-side upload module and the byte generator, as copied into every consumer project. */
export const PAGE_FILES = {
  'upload-page.js': join(HERE, 'page', 'upload-page.js'),
  'gen.js': join(REPO, 'tests', 'e2e', 'fixture', 'gen.js'),
};
