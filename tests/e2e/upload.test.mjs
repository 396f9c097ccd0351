// Sizes around the simple → multipart boundary, through the public JS API in Chromium; the
// bytes are checked through GET /_dev/objects.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, byteRequests, explain, MIB, uploadInPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
/** Small files: simple uploads up to 2 MiB, 1 MiB parts above. */
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB };

const cases = [
  { name: 'empty file', size: 0, op: 'PutObject', parts: 0 },
  { name: 'one byte', size: 1, op: 'PutObject', parts: 1 },
  { name: 'threshold minus one byte', size: 2 * MIB - 1, op: 'PutObject', parts: 1 },
  { name: 'exactly the threshold', size: 2 * MIB, op: 'PutObject', parts: 1 },
  { name: 'threshold plus one byte', size: 2 * MIB + 1, op: 'UploadPart', parts: 3 },
  { name: 'multipart whose last part is 1 byte', size: 3 * MIB + 1, op: 'UploadPart', parts: 4 },
];

cases.forEach((c, i) => {
  test(`upload: ${c.name} (${c.size} bytes)`, { timeout: 60_000 }, async () => {
    const path = `sizes-case-${i}.bin`;
    const seed = 100 + i;
    const mark = await env.dev.logMark();
    const record = await uploadInPage(env.page, { size: c.size, seed, path, clientOptions: SMALL });
    await assertLanded(env, record, { path, size: c.size, seed });
    const sent = byteRequests(await env.dev.logSince(mark, 'cos')).filter(e => e.status === 200);
    // An empty file may need no PUT at all; anything else goes as one PutObject or as parts.
    if (c.parts > 0) {
      assert.deepEqual([...new Set(sent.map(e => e.op))], [c.op], `byte requests: ${JSON.stringify(sent)}`);
      assert.equal(sent.length, c.parts, `number of successful ${c.op} requests: ${JSON.stringify(sent)}`);
      assert.equal(sent.reduce((n, e) => n + e.bytesIn, 0), c.size, 'bytes received by the cos origin');
    }
    assert.equal(record.result.size, c.size, `result.size\n${explain(record, env)}`);
    assert.equal(record.result.instant, false);
  });
});
