// The npm package smh-devserver as a JavaScript test suite meets it: a fresh project on a PATH
// without cargo or rustc installs the packed tarball (`npm i -D`), `npx smh-devserver` prints
// READY and stops on Ctrl-C, the types compile, and the README's examples (copied from
// examples/: a Playwright fixture, Vitest's browser mode) pass against Debian's Chromium.
//
// Environment (set by `cargo xtask test --only devserver-npm`): SMH_DEVSERVER_TGZ, SMH_PKG_TGZ,
// SMH_DEVSERVER_BIN (the static binary the tarball carries), CHROMIUM.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { EXAMPLES, REPO, freshProject, processGone, repoVersion } from './helpers.mjs';

/** Vitest for the Vitest example: 4.x, the last line that runs on Node 20 (5.x needs Node 22). */
const VITEST = '4.1.12';

let project;
before(async () => {
  const playwright = repoVersion('playwright-core');
  project = await freshProject('examples', [`@playwright/test@${playwright}`, `playwright@${playwright}`,
    `vitest@${VITEST}`, `@vitest/browser-playwright@${VITEST}`]);
  // The Playwright example at the project's root, the Vitest example in its own folder (each
  // runner would take the other's test files for its own).
  cpSync(join(EXAMPLES, 'playwright'), project.dir, { recursive: true });
  cpSync(join(EXAMPLES, 'www'), join(project.dir, 'www'), { recursive: true });
  cpSync(join(EXAMPLES, 'vitest'), join(project.dir, 'vitest'), { recursive: true });
});
after(() => project?.cleanup());

const run = (file, args, options = {}) => promisify(execFile)(file, args, {
  cwd: project.dir, env: project.env, timeout: 180_000, maxBuffer: 16 << 20, ...options,
});

test('the project has no Rust toolchain, and the package carries a static, executable binary', () => {
  const cargo = spawnSync('cargo', ['--version'], { env: project.env });
  assert.equal(cargo.error?.code, 'ENOENT', 'cargo must not be on the PATH');
  const binary = join(project.dir, 'node_modules/smh-devserver/bin/linux-x64/smh-devserver');
  assert.ok(statSync(binary).mode & 0o111, 'the binary is executable after npm install');
  const file = spawnSync('file', ['-b', binary], { encoding: 'utf8' }).stdout;
  assert.match(file, /(statically|static-pie) linked/, file);
  const installed = JSON.parse(readFileSync(join(project.dir, 'node_modules/smh-devserver/package.json'), 'utf8'));
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(version, `smh-devserver ${installed.version}`, 'the package version is the binary version');
  assert.equal(installed.scripts, undefined, 'no install scripts: install downloads nothing');
});

test('npx smh-devserver --help lists every flag the binary has', async () => {
  const { stdout } = await run('npx', ['--no-install', 'smh-devserver', '--help']);
  const direct = spawnSync(process.env.SMH_DEVSERVER_BIN, ['--help'], { encoding: 'utf8' }).stdout;
  assert.equal(stdout, direct);
  assert.match(stdout, /--www <DIR>/);
});

test('npx smh-devserver prints READY, serves, and Ctrl-C stops it and removes its data', async () => {
  // Its own process group, as a terminal runs a command: Ctrl-C signals the whole group.
  const child = spawn('npx', ['--no-install', 'smh-devserver'], { cwd: project.dir, env: project.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  child.stderr.on('data', d => { stderr += d; });
  let ready;
  const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 60_000);
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (line.startsWith('SMH_DEVSERVER_READY ')) { ready = JSON.parse(line.slice(20)); break; }
    }
    assert.ok(ready, `no READY line; stderr:\n${stderr}`);
    const objects = await (await fetch(`${ready.app}/_dev/objects`)).json();
    assert.deepEqual(objects, []);
    assert.ok(existsSync(ready.data));
    process.kill(-child.pid, 'SIGINT');
    const { code, signal } = await exited;
    assert.ok(code === 0 || signal === 'SIGINT', `exit ${code ?? signal}; stderr:\n${stderr}`);
    assert.ok(!existsSync(ready.data), 'the devserver removed its temporary data directory');
  } finally {
    clearTimeout(timer);
    if (!processGone(child.pid, 0)) process.kill(-child.pid, 'SIGKILL');
  }
});

test('the types compile in strict TypeScript as a user imports them', async () => {
  writeFileSync(join(project.dir, 'check.ts'), `import { startDevserver, devHooks, type Devserver, type FaultRule, type DevObject } from 'smh-devserver';

const devserver: Devserver = await startDevserver({ www: 'www', pkg: 'node_modules/smh-upload', multiTenant: true, appPort: 0 });
const origins: string[] = [devserver.app, devserver.smh, devserver.cos];
const rule: FaultRule = { origin: 'cos', query: 'partNumber', every: 2, action: { type: 'dropReply' } };
await devserver.faults.add([rule]);
const fired: number = (await devserver.faults.list())[0].fired;
const object: DevObject | undefined = await devserver.objectAt('uploads/a.bin');
const size: number | undefined = object?.size;
const expired: number = await devserver.expireCredentials();
await devserver.config({ quotaBytes: null, minPartSize: 1024 });
await devserver.seed({ path: 'a.bin', size: 4, byte: 1 });
const settings = await devHooks(devserver.app).config();
const ttl: number = settings.uploadTtlSeconds;
// @ts-expect-error: not an option
await startDevserver({ wwww: 'www' });
// @ts-expect-error: not a fault action
await devserver.faults.add({ origin: 'cos', action: { type: 'explode' } });
await devserver.stop();
export const used = [origins, fired, size, expired, ttl];
`);
  // No ambient types (`types: []`): the package's own .d.ts must be enough.
  writeFileSync(join(project.dir, 'tsconfig.check.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], types: [] },
    files: ['check.ts'],
  }));
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.check.json'], { cwd: project.dir, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the Playwright fixture example passes (test-scoped devserver, upload through the page, bytes checked)', async () => {
  const env = { ...project.env, CHROMIUM: process.env.CHROMIUM || '/usr/bin/chromium' };
  const result = await run('npx', ['--no-install', 'playwright', 'test', '--reporter=line', '--workers=1'], { env })
    .catch(e => ({ failed: e, stdout: e.stdout, stderr: e.stderr }));
  assert.equal(result.failed, undefined, `npx playwright test failed:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /2 passed/, result.stdout);
});

test('the Vitest browser-mode example passes (a File uploaded from Chromium, bytes checked)', async () => {
  const env = { ...project.env, CHROMIUM: process.env.CHROMIUM || '/usr/bin/chromium', NO_COLOR: '1' };
  const result = await run('npx', ['--no-install', 'vitest', 'run'], { env, cwd: join(project.dir, 'vitest') })
    .catch(e => ({ failed: e, stdout: e.stdout, stderr: e.stderr }));
  assert.equal(result.failed, undefined, `npx vitest run failed:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /Tests\s+1 passed/, result.stdout);
});
