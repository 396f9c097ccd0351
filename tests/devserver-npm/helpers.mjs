// Shared by the tests of the npm package smh-devserver: where its source is, whether a process
// is gone, and a fresh project with the packed tarballs installed as users install them.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '..', '..');
/** The package's source: the launcher (as an import specifier) and the bin script. */
export const LAUNCHER = pathToFileURL(join(REPO, 'devserver', 'npm', 'index.js')).href;
export const BIN_SCRIPT = join(REPO, 'devserver', 'npm', 'bin', 'smh-devserver.js');
export const EXAMPLES = join(HERE, 'examples');

/** Whether process `pid` is gone (no such process, or a zombie left for init), within `waitMs`. */
export function processGone(pid, waitMs = 5_000) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    let state;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    } catch {
      return true;
    }
    if (state === 'Z' || state === 'X') return true;
    if (Date.now() > deadline) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through \`cargo xtask test --only devserver-npm\`)`);
  return resolve(value);
}

/**
 * The environment of a machine with Node and no Rust: PATH without the directories that hold
 * cargo or rustc, and no CARGO* / RUSTUP* / SMH_DEVSERVER_BIN variables.
 */
export function envWithoutRust() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(CARGO|RUSTUP|RUSTC|SMH_DEVSERVER_BIN)/.test(key)) env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '').split(delimiter)
    .filter(dir => dir && !existsSync(join(dir, 'cargo')) && !existsSync(join(dir, 'rustc')))
    .join(delimiter);
  env.npm_config_update_notifier = 'false';
  env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
  return env;
}

/** The version of a package in the repository's node_modules (pinned by its package-lock.json). */
export function repoVersion(name) {
  return JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/**
 * A fresh project in a temporary directory with, as dev dependencies, the packed
 * smh-devserver (SMH_DEVSERVER_TGZ), the packed smh-upload (SMH_PKG_TGZ) and `packages`
 * (`name@version`, from the npm cache when it has them). Returns `{dir, env, cleanup()}`.
 */
export async function freshProject(name, packages = []) {
  const dir = mkdtempSync(join(tmpdir(), `smh-devserver-npm-${name}-`));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `devserver-npm-${name}`, private: true, type: 'module' }, null, 2)}\n`);
  const env = envWithoutRust();
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev',
    required('SMH_DEVSERVER_TGZ'), required('SMH_PKG_TGZ'), ...packages];
  await promisify(execFile)('npm', args, { cwd: dir, env, timeout: 300_000, maxBuffer: 16 << 20 }).catch(e => {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`npm ${args.join(' ')} failed: ${e.stderr || e.message}`);
  });
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
