// The mini-program build's index.d.ts compiles under `tsc --strict` with `lib: ["es2022"]` only —
// a mini-program project loads no DOM types — and types the mini-program file shapes: the three
// `upload()` accepts compile, a Blob-like or a missing size does not.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { packageDir } from './helpers.mjs';

const TSC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '.bin', 'tsc');

function compile(source) {
  const dir = mkdtempSync(join(tmpdir(), 'smh-mp-types-'));
  try {
    copyFileSync(join(packageDir(), 'index.d.ts'), join(dir, 'index.d.ts'));
    writeFileSync(join(dir, 'page.ts'), source);
    const config = { compilerOptions: { strict: true, noEmit: true, lib: ['es2022'], types: [], target: 'es2022', module: 'commonjs' }, files: ['page.ts'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
    const r = spawnSync(TSC, ['-p', dir], { encoding: 'utf8', timeout: 120_000 });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PRELUDE = `import { init, SmhClient, UploadResult } from './index';
declare const client: SmhClient;
`;

test('index.d.ts compiles without DOM types and accepts the three file shapes', { timeout: 120_000 }, () => {
  const { ok, output } = compile(`${PRELUDE}
async function page(): Promise<UploadResult> {
  await init();
  await init({ wasmPath: '/sub/miniprogram_npm/smh-upload/smh_upload_bg.wasm.br' });
  client.upload({ path: 'wxfile://a', size: 1 }, 'a');
  client.upload({ tempFilePath: 'wxfile://b', size: 2 }, 'b', { onProgress: p => p.loaded });
  return client.upload({ filePath: 'wxfile://c', size: 3 }, 'c').done();
}
page();
`);
  assert.ok(ok, output);
});

test('index.d.ts refuses a file without a size, and a signal', { timeout: 120_000 }, () => {
  for (const call of ["client.upload({ filePath: 'x' }, 'p');", "client.upload({ filePath: 'x', size: 1 }, 'p', { signal: {} as any as object });"]) {
    const { ok, output } = compile(`${PRELUDE}${call}\n`);
    assert.ok(!ok && /page\.ts\(3,\d+\): error TS2/.test(output), `${call} should fail to type-check on its line:\n${output}`);
  }
});
