// The JS launcher of the npm package smh-devserver (devserver/npm/index.js), from its source,
// against the binary in SMH_DEVSERVER_BIN: READY fields, every /_dev/ hook, the temporary data
// directory, and that the devserver dies with the Node process that started it (exit, SIGINT,
// SIGTERM) — a test suite that crashes or forgets stop() must not leave servers behind.
//
// Environment (set by `cargo xtask test --only devserver-npm`): SMH_DEVSERVER_BIN.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

import { LAUNCHER, BIN_SCRIPT, processGone } from './helpers.mjs';

const { startDevserver } = await import(LAUNCHER);

test('startDevserver resolves to the READY fields, on a fresh temporary data directory removed by stop()', async () => {
  const devserver = await startDevserver();
  try {
    assert.match(devserver.app, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(devserver.smh, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(devserver.cos, /^127\.0\.0\.1:\d+$/);
    assert.equal(devserver.spaceId, '-');
    for (const [key, value] of Object.entries(devserver.ready)) assert.equal(devserver[key], value, `devserver.${key}`);
    assert.ok(devserver.data.startsWith(tmpdir()), devserver.data);
    assert.ok(existsSync(devserver.data), 'the data directory exists while it runs');
    const page = await fetch(`${devserver.app}/_dev/ready`);
    assert.equal(page.status, 200);
  } finally {
    await devserver.stop();
  }
  assert.ok(processGone(devserver.pid), 'the process is gone after stop()');
  assert.ok(!existsSync(devserver.data), 'the temporary data directory is removed by stop()');
});

test('a data directory given is used and kept', async () => {
  const data = mkdtempSync(join(tmpdir(), 'smh-launcher-test-'));
  try {
    const devserver = await startDevserver({ data, multiTenant: true });
    await devserver.stop();
    assert.equal(devserver.data, data);
    assert.notEqual(devserver.spaceId, '-', 'multiTenant reached the devserver');
    assert.ok(readdirSync(data).length > 0, 'the devserver wrote into it, and it is kept');
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('every hook reaches the devserver', async () => {
  const devserver = await startDevserver();
  try {
    const rules = await devserver.faults.add([
      { origin: 'cos', method: 'PUT', times: 2, action: { type: 'status', status: 503, code: 'SlowDown' } },
      { origin: 'smh', path: '/api/v1/token*', action: { type: 'delay', ms: 1 } },
    ]);
    assert.equal(rules.length, 2);
    assert.deepEqual((await devserver.faults.list()).map(r => [r.origin, r.times, r.fired]), [['cos', 2, 0], ['smh', 1, 0]]);
    await devserver.faults.clear();
    assert.deepEqual(await devserver.faults.list(), []);

    const settings = await devserver.config({ minPartSize: 1024 });
    assert.equal(settings.minPartSize, 1024);
    assert.equal((await devserver.config()).minPartSize, 1024);

    const mark = await devserver.logMark();
    const { accessToken, expiresIn } = await devserver.token();
    assert.ok(accessToken && expiresIn > 0);
    const entries = await devserver.log({ origin: 'smh', since: mark });
    assert.ok(entries.length > 0 && entries.every(e => e.origin === 'smh' && e.seq > mark), JSON.stringify(entries));
    assert.ok(!JSON.stringify(entries).includes(accessToken), 'no token in the log');
    await devserver.clearLog();
    assert.deepEqual(await devserver.log(), []);

    assert.equal(await devserver.expireTokens(accessToken), 1);
    assert.ok((await devserver.expireTokens()) >= 1);
    await devserver.expireUploads();
    assert.equal(await devserver.expireCredentials(), 0, 'no COS keys were handed out');

    await devserver.seed({ path: 'seeded/a.bin', size: 1024, byte: 97 });
    const object = await devserver.objectAt('/seeded/a.bin');
    assert.equal(object?.size, 1024);
    assert.equal((await devserver.objects()).length, 1);
    assert.deepEqual(await devserver.uploads(), { smh: [], cos: [] });
    assert.equal((await devserver.dev('GET', 'ready')).libraryId, devserver.libraryId);
    await assert.rejects(devserver.dev('POST', 'config', { nope: 1 }), /400/);
  } finally {
    await devserver.stop();
  }
});

test('kill() is a crash: the process dies at once, the data directory stays until stop()', async () => {
  const devserver = await startDevserver();
  await devserver.kill();
  assert.ok(processGone(devserver.pid));
  assert.ok(existsSync(devserver.data));
  await devserver.stop();
  assert.ok(!existsSync(devserver.data));
});

test('a devserver that cannot start rejects with its stderr', async () => {
  await assert.rejects(startDevserver({ args: ['--no-such-flag'] }), /exited \(2\) before its READY line; stderr:\n.*--no-such-flag/s);
  await assert.rejects(startDevserver({ binary: '/nonexistent/smh-devserver' }), /could not be started/);
});

/**
 * Runs `code` (ESM, with `startDevserver` imported) in a child node; resolves to its first
 * stdout line parsed as JSON and the child, still running or not.
 */
async function inChildNode(code) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { startDevserver } from ${JSON.stringify(LAUNCHER)};\n${code}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })));
  for await (const line of createInterface({ input: child.stdout })) return { info: JSON.parse(line), child, exited };
  throw new Error(`the child printed nothing (${JSON.stringify(await exited)})`);
}

test('the devserver is stopped when the Node process that started it ends without stop()', async () => {
  const { info, exited } = await inChildNode('const d = await startDevserver(); console.log(JSON.stringify({ pid: d.pid, data: d.data }));');
  assert.deepEqual(await exited, { code: 0, signal: null }, 'a running devserver does not keep Node alive');
  assert.ok(processGone(info.pid), `devserver ${info.pid} outlived its Node process`);
  assert.ok(!existsSync(info.data), 'its temporary data directory is removed');
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  test(`the devserver is stopped when the Node process that started it gets ${signal}`, async () => {
    const { info, child, exited } = await inChildNode('const d = await startDevserver(); console.log(JSON.stringify({ pid: d.pid, data: d.data })); setInterval(() => {}, 1000);');
    assert.ok(!processGone(info.pid, 0), 'it runs while its Node process does');
    child.kill(signal);
    assert.deepEqual(await exited, { code: null, signal }, 'Node still dies of the signal');
    assert.ok(processGone(info.pid), `devserver ${info.pid} outlived its Node process`);
    assert.ok(!existsSync(info.data), 'its temporary data directory is removed');
  });
}

test('on a platform the package has no binary for, the API and the bin name cargo install', async () => {
  const env = { ...process.env };
  delete env.SMH_DEVSERVER_BIN;
  // Node runs on Linux here; the platform is made to read `darwin` before the launcher loads.
  const asDarwin = 'data:text/javascript,Object.defineProperty(process, "platform", { value: "darwin" });';
  const api = spawnSync(process.execPath, ['--import', asDarwin, '--input-type=module', '-e',
    `import { startDevserver } from ${JSON.stringify(LAUNCHER)}; await startDevserver().catch(e => { console.log(e.message); });`], { env, encoding: 'utf8' });
  const bin = spawnSync(process.execPath, ['--import', asDarwin, BIN_SCRIPT, '--help'], { env, encoding: 'utf8' });
  for (const [what, text] of [['startDevserver', api.stdout], ['the bin', bin.stderr]]) {
    assert.match(text, /no binary for darwin-x64/, `${what}: ${text}`);
    assert.match(text, /cargo install --git (\S+|<repository URL>) smh-devserver/, `${what}: ${text}`);
    assert.match(text, /cargo install --path devserver/, `${what}: ${text}`);
  }
  assert.equal(bin.status, 1);
});

test('the bin script runs the binary with the same flags and output', () => {
  const direct = spawnSync(process.env.SMH_DEVSERVER_BIN, ['--help'], { encoding: 'utf8' });
  const viaBin = spawnSync(process.execPath, [BIN_SCRIPT, '--help'], { encoding: 'utf8' });
  assert.equal(viaBin.status, 0, viaBin.stderr);
  assert.equal(viaBin.stdout, direct.stdout);
  assert.match(readFileSync(BIN_SCRIPT, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});
