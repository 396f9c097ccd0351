// The devserver's flags, READY fields, hooks and version are one contract between the binary
// and what the npm package and the READMEs say: each is read from the binary (`--help`,
// `--version`, the READY line) or from the routes in devserver/src/app/mod.rs, and checked
// against devserver/README.md, devserver/npm/README.md, index.d.ts and index.js. The examples
// the READMEs show are the files the npm test runs.
//
// Environment (set by `cargo xtask test --only devserver-npm`): SMH_DEVSERVER_BIN.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { EXAMPLES, LAUNCHER, REPO } from './helpers.mjs';

const read = path => readFileSync(join(REPO, path), 'utf8');
const DEVSERVER_README = read('devserver/README.md');
const NPM_README = read('devserver/npm/README.md');
const DTS = read('devserver/npm/index.d.ts');
const INDEX_JS = read('devserver/npm/index.js');
/** Flags every clap program has; not the devserver's own. */
const CLAP_FLAGS = ['--help', '--version'];

const sorted = values => [...new Set(values)].sort();
/** The `--flags` named in `text`. */
const flagsIn = text => sorted([...text.matchAll(/(?<![\w-])(--[a-z][a-z-]*[a-z])/g)].map(m => m[1]));
/** The rows of the markdown table whose header row starts with `| header |`. */
function tableRows(markdown, header) {
  const lines = markdown.split('\n');
  const start = lines.findIndex(l => l.startsWith(`| ${header} |`));
  assert.ok(start >= 0, `a table headed "| ${header} |"`);
  const rows = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line);
  }
  return rows;
}
/** The body of `interface name { … }` in the .d.ts. */
function dtsInterface(name) {
  const m = new RegExp(`export interface ${name}\\b[^{]*\\{([\\s\\S]*?)\\n\\}`).exec(DTS);
  assert.ok(m, `index.d.ts declares interface ${name}`);
  return m[1];
}

function binaryFlags() {
  const help = spawnSync(process.env.SMH_DEVSERVER_BIN, ['--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  const flags = sorted([...help.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map(m => m[1]));
  assert.ok(flags.includes('--data') && flags.includes('--help'), help.stdout);
  return flags.filter(f => !CLAP_FLAGS.includes(f));
}

test('every flag of the binary is in both READMEs, index.d.ts and index.js; none they name is missing from it', () => {
  const flags = binaryFlags();
  assert.deepEqual(flagsIn(tableRows(DEVSERVER_README, 'flag').join('\n')), flags, 'devserver/README.md, the flag table');
  assert.deepEqual(flagsIn(tableRows(NPM_README, 'option').join('\n')), flags, 'devserver/npm/README.md, the option table');
  assert.deepEqual(flagsIn(dtsInterface('DevserverOptions')), flags, 'index.d.ts, DevserverOptions');
  // index.js passes a flag for each option but --host (given through `args`).
  const passed = sorted([...INDEX_JS.matchAll(/'(--[a-z-]+)'/g)].map(m => m[1]));
  assert.deepEqual(passed, flags.filter(f => f !== '--host'), 'index.js, the flags it passes');
});

test('the READY fields are the Ready interface of index.d.ts and are in both READMEs', async () => {
  const { startDevserver } = await import(LAUNCHER);
  const devserver = await startDevserver();
  const fields = sorted(Object.keys(devserver.ready));
  await devserver.stop();
  const declared = sorted([...dtsInterface('Ready').matchAll(/^\s{2}(\w+)\??:/gm)].map(m => m[1]));
  assert.deepEqual(declared, fields, 'index.d.ts, interface Ready');
  const readyTable = tableRows(DEVSERVER_README, 'field').join('\n');
  for (const field of fields) {
    assert.ok(readyTable.includes(`\`${field}\``), `devserver/README.md's READY table names \`${field}\``);
    assert.ok(NPM_README.includes(`\`${field}\``), `devserver/npm/README.md names \`${field}\``);
  }
});

test('every /_dev/ hook the app origin routes has its helper in index.js, typed and in the npm README', () => {
  const routes = sorted([...read('devserver/src/app/mod.rs').matchAll(/\.route\("\/_dev\/([^"]+)"/g)].map(m => m[1]));
  assert.ok(routes.length >= 10, `routes found: ${routes}`);
  // `ready` is the READY line again, which startDevserver already resolves to.
  for (const route of routes.filter(r => r !== 'ready')) {
    const calls = new RegExp(`call\\('(GET|POST|DELETE)', [\`']${route.replace('/', '\\/')}\\b`);
    assert.match(INDEX_JS, calls, `index.js calls /_dev/${route}`);
  }
  const hooks = sorted([...dtsInterface('DevHooks').matchAll(/^\s{2}(\w+)(?:<[^>]*>)?[(:]/gm)].map(m => m[1]));
  for (const hook of hooks) {
    assert.ok(tableRows(NPM_README, 'hook').some(row => row.includes(`\`${hook}`)), `devserver/npm/README.md's hook table names ${hook}`);
  }
});

test('the version of the npm package is the devserver crate\'s, which the binary reports', () => {
  const crate = /^version = "([^"]+)"/m.exec(read('devserver/Cargo.toml'))[1];
  const reported = spawnSync(process.env.SMH_DEVSERVER_BIN, ['--version'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(reported, `smh-devserver ${crate}`);
});

test('both READMEs show the example files verbatim', () => {
  const walk = dir => readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
  const examples = walk(EXAMPLES).filter(path => path.endsWith('.js'));
  assert.ok(examples.length >= 2, `${examples}`);
  for (const [name, readme] of [['devserver/README.md', DEVSERVER_README], ['devserver/npm/README.md', NPM_README]]) {
    const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map(m => m[1]);
    for (const example of examples) {
      assert.ok(blocks.includes(readFileSync(example, 'utf8')), `${name} shows ${relative(REPO, example)} verbatim in a \`\`\`js block`);
    }
  }
});
