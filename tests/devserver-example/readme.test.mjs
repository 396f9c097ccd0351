// devserver/README.md shows tests/devserver-example/upload.test.mjs verbatim: the example users
// copy is the one this repository runs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

test('the README shows the example that runs', () => {
  const readme = readFileSync('devserver/README.md', 'utf8');
  const example = readFileSync('tests/devserver-example/upload.test.mjs', 'utf8');
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.includes(example), 'devserver/README.md has a ```js block equal to upload.test.mjs');
});
