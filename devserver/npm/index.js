// smh-devserver for JavaScript test suites: starts the native `smh-devserver` on a fresh
// temporary data directory, waits for its `SMH_DEVSERVER_READY {json}` line, and hands back the
// READY fields plus the app origin's `/_dev/` hooks (devserver/README.md). The devserver is
// stopped by `stop()`, and when this Node process exits or is interrupted.
//
// Node 18+ built-ins only. This file is also the repository's own launcher: its tests import
// it with an explicit `binary` (target/debug/smh-devserver), so there is one JS launcher.

import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const READY_PREFIX = 'SMH_DEVSERVER_READY ';
/** How much of the devserver's stderr is kept for `stderr()` (its tail). */
const STDERR_KEEP = 100_000;

/** The platforms this package carries a binary for: `${process.platform}-${process.arch}`. */
const BINARIES = { 'linux-x64': 'bin/linux-x64/smh-devserver' };

/** The command that builds the devserver where this package has no binary. */
export function cargoInstallHint() {
  let url = '<repository URL>';
  try {
    const repository = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8')).repository;
    const raw = typeof repository === 'string' ? repository : repository?.url;
    if (raw) url = raw.replace(/^git\+/, '');
  } catch {
    // No package.json next to this file (the repository's copy): the placeholder stays.
  }
  return `cargo install --git ${url} smh-devserver` + ' (or, in a clone of the repository, `cargo install --path devserver`)';
}

/**
 * Path of the `smh-devserver` executable: `binary` if given, else `SMH_DEVSERVER_BIN`, else the
 * one this package carries for this platform. Throws, naming `cargo install`, on a platform it
 * carries none for.
 */
export function binaryPath(binary) {
  const chosen = binary ?? process.env.SMH_DEVSERVER_BIN;
  if (chosen) return chosen;
  const platform = `${process.platform}-${process.arch}`;
  const relative = BINARIES[platform];
  let missing = `this npm package has no binary for ${platform} (it carries: ${Object.keys(BINARIES).join(', ')})`;
  if (relative) {
    const path = join(HERE, relative);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // A copy of the package without its binary (the repository's source of it).
      missing = `${path} is missing or not executable`;
    }
  }
  throw new Error(
    `smh-devserver: ${missing}. Build one with ${cargoInstallHint()}, `
      + 'then pass its path as `binary` or in SMH_DEVSERVER_BIN.',
  );
}

/** Flags of `smh-devserver` for the options (devserver/README.md, "Run"). */
function flags(options) {
  const args = [];
  const value = (flag, v) => {
    if (v !== undefined && v !== null) args.push(flag, String(v));
  };
  value('--www', options.www);
  value('--pkg', options.pkg);
  value('--app-port', options.appPort);
  value('--smh-port', options.smhPort);
  value('--cos-port', options.cosPort);
  for (const name of options.allowedHosts ?? []) value('--allowed-host', name);
  if (options.multiTenant) args.push('--multi-tenant');
  if (options.multiAlbum) args.push('--multi-album');
  if (options.mediaLibrary) args.push('--media-library');
  return args;
}

// Every devserver still running, so that the process's exit stops them.
const running = new Set();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onExit() {
  for (const server of running) server.killNow();
}

/** On a signal: stop the devservers, then let the signal do what it would have done. */
function onSignal(signal) {
  onExit();
  // Other listeners (a test runner's) decide what happens; without any, die of the signal as
  // Node would have without ours.
  if (process.listenerCount(signal) === 1) {
    unwatch();
    process.kill(process.pid, signal);
  }
}

function watch() {
  if (running.size !== 1) return;
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function unwatch() {
  if (running.size !== 0) return;
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/**
 * Starts a devserver and resolves once it printed READY; see index.d.ts for the options and
 * what it resolves to.
 */
export async function startDevserver(options = {}) {
  const binary = binaryPath(options.binary);
  // A data directory made here is fresh and empty (a devserver refuses a foreign, non-empty one)
  // and is removed on stop; one given is the caller's, and kept.
  const ownData = options.data === undefined;
  const data = ownData ? mkdtempSync(join(tmpdir(), 'smh-devserver-')) : options.data;
  // `args` first: with `binary` a wrapper (`node`), they name its script.
  const child = spawn(binary, [...(options.args ?? []), '--data', data, ...flags(options)], {
    stdio: ['ignore', 'pipe', options.stderr === 'inherit' ? 'inherit' : 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk) => {
    log += chunk;
    if (log.length > 2 * STDERR_KEEP) log = log.slice(-STDERR_KEEP);
  });
  // 'close', not 'exit': by then its stderr is read to the end, for the error messages below.
  const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const removeData = () => {
    if (ownData) rmSync(data, { recursive: true, force: true });
  };
  const server = {
    killNow() {
      if (alive()) child.kill('SIGKILL');
      removeData();
      running.delete(server);
    },
  };
  running.add(server);
  watch();
  child.once('error', () => {}); // reported through `exited` (spawn failures exit with no code)

  const ready = await readReady(child, exited, options.readyTimeoutMs ?? 30_000, () => log).catch((error) => {
    server.killNow();
    unwatch();
    throw error;
  });
  // The devserver does not keep Node alive: a suite that forgets stop() still ends, and the
  // exit handler above stops the devserver.
  const keepNodeAlive = (yes) => {
    for (const handle of [child, child.stdout, child.stderr]) handle?.[yes ? 'ref' : 'unref']?.();
  };
  keepNodeAlive(false);

  // While stopping, Node waits for the exit.
  const stop = async ({ graceMs = 5_000 } = {}) => {
    keepNodeAlive(true);
    if (alive()) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    }
    removeData();
    running.delete(server);
    unwatch();
  };
  const kill = async () => {
    keepNodeAlive(true);
    if (alive()) child.kill('SIGKILL');
    await exited;
    running.delete(server);
    unwatch();
  };
  return {
    ...ready,
    ready,
    pid: child.pid,
    stderr: () => log,
    exited,
    stop,
    kill,
    ...devHooks(ready.app),
  };
}

function readReady(child, exited, timeoutMs, log) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`smh-devserver printed no READY line within ${timeoutMs} ms; stderr:\n${log()}`)), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`smh-devserver could not be started (${child.spawnfile}): ${e.message}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith(READY_PREFIX)) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line.slice(READY_PREFIX.length)));
      } catch (e) {
        reject(new Error(`smh-devserver printed a bad READY line (${e.message}): ${line}`));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`smh-devserver exited (${code ?? signal}) before its READY line; stderr:\n${log()}`));
    });
  });
}

/** The `/_dev/` hooks of the app origin `app` (devserver/README.md, "Test hooks"). */
export function devHooks(app) {
  const call = async (method, path, body) => {
    const response = await fetch(`${app}/_dev/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /_dev/${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const query = (params) => {
    const entries = Object.entries(params ?? {}).filter(([, v]) => v !== undefined && v !== null);
    return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
  };
  const objects = () => call('GET', 'objects');
  const log = (filter) => call('GET', `log${query(filter)}`);
  return {
    dev: call,
    faults: {
      add: async (rules) => (await call('POST', 'faults', rules)).rules,
      list: async () => (await call('GET', 'faults')).rules,
      clear: () => call('DELETE', 'faults'),
    },
    objects,
    objectAt: async (path) => {
      const want = path.replace(/^\/+/, '');
      return (await objects()).find((o) => (o.smhPath ?? '').replace(/^\/+/, '') === want);
    },
    uploads: () => call('GET', 'uploads'),
    log,
    logMark: async () => (await log()).reduce((m, e) => Math.max(m, e.seq), 0),
    clearLog: () => call('DELETE', 'log'),
    expireTokens: async (accessToken) => (await call('POST', 'tokens/expire', accessToken ? { accessToken } : {})).expired,
    expireUploads: () => call('POST', 'uploads/expire', {}).then(() => undefined),
    expireCredentials: async (tmpSecretId) => (await call('POST', 'credentials/expire', tmpSecretId ? { tmpSecretId } : {})).expired,
    config: (settings) => (settings === undefined ? call('GET', 'config') : call('POST', 'config', settings)),
    seed: (file) => call('POST', 'seed', file),
    token: async (body = {}) => {
      const response = await fetch(`${app}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (!response.ok) throw new Error(`POST /token: ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
}
