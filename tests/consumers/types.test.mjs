// The package's TypeScript declarations as users meet them: the packed tarball installed into a
// fresh project, then `tsc --strict --noEmit` (lib es2022 + dom, no skipLibCheck, so the shipped
// .d.ts itself is checked) over (a) ts/consumer.ts, correct code using every option, event,
// state, result field and error code, and (b) ts/misuse.ts, wrong code where every line under a
// `// @ts-expect-error` must stay an error (tsc reports an unused directive, TS2578, otherwise).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { HERE, installPackedTarball, REPO, runNode, TOOLS } from './helpers.mjs';

let app;

before(async () => {
  app = await installPackedTarball('ts', {
    'tsconfig.json': join(HERE, 'ts', 'tsconfig.json'),
    'consumer.ts': join(HERE, 'ts', 'consumer.ts'),
    'misuse.ts': join(HERE, 'ts', 'misuse.ts'),
  });
});

after(() => app?.cleanup());

/**
 * `tsc -p` over one file with tsconfig.json's options (a user's) plus `compilerOptions`;
 * resolves `{code, output}`.
 */
function tsc(file, compilerOptions = {}) {
  const project = `tsconfig.${file}.json`;
  writeFileSync(join(app.dir, project), JSON.stringify({ extends: './tsconfig.json', compilerOptions, files: [file] }));
  return runNode(TOOLS.tsc, ['-p', project, '--pretty', 'false'], app.dir);
}

for (const resolution of ['bundler', 'nodenext']) {
  test(`a consumer using every option compiles with tsc --strict (moduleResolution ${resolution})`, { timeout: 60_000 }, async () => {
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    const { code, output } = await tsc('consumer.ts', { module, moduleResolution: resolution });
    assert.equal(code, 0, `tsc reported:\n${output}`);
  });
}

test('every misuse in misuse.ts is a type error', { timeout: 60_000 }, async () => {
  const source = readFileSync(join(HERE, 'ts', 'misuse.ts'), 'utf8');
  const expected = source.split('\n').filter(l => l.trim().startsWith('// @ts-expect-error')).length;
  assert.ok(expected >= 20, `misuse.ts has only ${expected} misuses`);
  const { code, output } = await tsc('misuse.ts');
  assert.equal(code, 0, `a misuse is no longer an error, or misuse.ts has another error:\n${output}`);
});

test('the shipped .d.ts declares no `any` and no esnext-only Symbol.dispose', () => {
  const dts = readFileSync(join(app.dir, 'node_modules', 'smh-upload', 'smh_upload.d.ts'), 'utf8');
  // The raw wasm exports (InitOutput) are wasm-bindgen's own, typed with numbers; everything a
  // user touches must be typed precisely.
  const anyLines = dts.split('\n').filter(l => /\bany\b/.test(l.replace(/\/\/.*|\/\*.*?\*\/|^\s*\*.*/g, '')));
  assert.deepEqual(anyLines, [], 'lines of smh_upload.d.ts with `any`');
  assert.doesNotMatch(dts, /Symbol\.dispose/);
});

test('the installed package.json is complete and names only files that exist', () => {
  const root = join(app.dir, 'node_modules', 'smh-upload');
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const cargoVersion = /^\[package\][^[]*?^version\s*=\s*"([^"]+)"/ms.exec(readFileSync(join(REPO, 'Cargo.toml'), 'utf8'))?.[1];
  assert.equal(manifest.name, 'smh-upload');
  assert.equal(manifest.version, cargoVersion, 'version from Cargo.toml');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.sideEffects, false);
  assert.equal(manifest.license, 'MIT OR Apache-2.0');
  assert.ok(manifest.engines?.node, 'engines.node');
  // `repository` comes from Cargo.toml's (xtask/src/pkg.rs), and is absent while Cargo.toml has none.
  const cargoRepository = /^\[(?:workspace\.)?package\][^[]*?^repository\s*=\s*"([^"]+)"/ms.exec(readFileSync(join(REPO, 'Cargo.toml'), 'utf8'))?.[1];
  if (cargoRepository) assert.ok(manifest.repository?.url?.includes(cargoRepository.replace(/\.git$/, '')), `repository ${JSON.stringify(manifest.repository)} from Cargo.toml's ${cargoRepository}`);
  else assert.equal(manifest.repository, undefined, 'no repository in package.json while Cargo.toml has none');
  assert.deepEqual(Object.keys(manifest.exports['.']), ['types', 'import', 'default'], 'condition order: types first');
  // Every path the manifest points at (main, module, types, every exports target).
  const targets = [manifest.main, manifest.module, manifest.types];
  const collect = value => (typeof value === 'string' ? targets.push(value) : Object.values(value).forEach(collect));
  collect(manifest.exports);
  for (const target of targets) assert.ok(existsSync(join(root, target)), `package.json names ${target}, which is not in the package`);
});
