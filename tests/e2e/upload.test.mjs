// Sizes around the simple → multipart boundary, through the public JS API in Chromium; the
// bytes are checked through GET /_dev/objects.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, byteRequests, expectedSha, explain, inPage, MIB, uploadInPage, useEnvironment } from './helpers.mjs';

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
    const record = await uploadInPage(env, { size: c.size, seed, path, clientOptions: SMALL });
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

test('upload into an existing nested directory', { timeout: 60_000 }, async () => {
  await inPage(env, async () => {
    await window.e2e.mkdir('nested');
    await window.e2e.mkdir('nested/deeper');
  });
  const c = { path: 'nested/deeper/file.bin', size: 2 * MIB + 12345, seed: 150 };
  const record = await uploadInPage(env, { ...c, clientOptions: SMALL });
  await assertLanded(env, record, c);
  assert.equal(record.result.path.replace(/^\/+/, ''), c.path);
});

test('100 small files at once through one client all land with the right bytes', { timeout: 120_000 }, async () => {
  const files = Array.from({ length: 100 }, (_, i) => ({ path: `many-${String(i).padStart(3, '0')}.bin`, size: 1 + i * 997, seed: 1000 + i }));
  const records = await inPage(env, async files => {
    const client = await window.e2e.client();
    const watches = files.map(f => {
      const blob = window.e2e.blob(f.size, f.seed);
      return window.e2e.watch(hooks => client.upload(blob, f.path, hooks), 100_000);
    });
    return Promise.all(watches.map(w => w.finished));
  }, files);
  const failed = records.map((r, i) => [files[i].path, r.error]).filter(([, e]) => e);
  assert.deepEqual(failed, [], 'uploads that failed');
  const objects = new Map((await env.dev.objects()).map(o => [(o.smhPath ?? '').replace(/^\/+/, ''), o]));
  for (const f of files) {
    const object = objects.get(f.path);
    assert.ok(object, `no object backs ${f.path}`);
    assert.equal(object.size, f.size, `size of ${f.path}`);
    assert.equal(object.sha256, expectedSha(f.size, f.seed), `sha256 of ${f.path}`);
  }
  assert.deepEqual(records.map(r => r.finalState), files.map(() => 'done'));
});

test('progress: loaded never decreases within a phase and ends at total', { timeout: 60_000 }, async () => {
  const c = { path: 'progress.bin', size: 5 * MIB + 3, seed: 160 };
  const record = await uploadInPage(env, { ...c, clientOptions: { ...SMALL, concurrency: 2 } });
  await assertLanded(env, record, c);
  const events = record.progress;
  assert.ok(events.length >= 2, `progress events: ${JSON.stringify(events)}`);
  const order = ['hashing', 'uploading', 'confirming'];
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1], events[i]];
    assert.ok(order.indexOf(b.phase) >= order.indexOf(a.phase), `phase went back at event ${i}: ${JSON.stringify([a, b])}`);
    if (a.phase === b.phase) assert.ok(b.loaded >= a.loaded, `loaded decreased at event ${i}: ${JSON.stringify([a, b])}`);
  }
  for (const e of events) {
    assert.equal(e.total, c.size, `total in ${JSON.stringify(e)}`);
    assert.ok(e.loaded >= 0 && e.loaded <= e.total, `loaded out of range in ${JSON.stringify(e)}`);
  }
  const uploading = events.filter(e => e.phase === 'uploading');
  assert.ok(uploading.length > 0, 'no uploading progress');
  assert.equal(uploading.at(-1).loaded, c.size, 'last uploading event: loaded === total');
  assert.equal(events.at(-1).loaded, events.at(-1).total, 'last event: loaded === total');
  assert.deepEqual(record.finalProgress.loaded, c.size, 'task.progress.loaded at the end');
  assert.equal(record.states.at(-1), 'done');
});

test("task.state and task.progress: 'preparing' and nothing sent of the file's size until the first event, then the latest ones", { timeout: 60_000 }, async () => {
  const c = { path: 'getters.bin', size: 3 * MIB + 5, seed: 170 };
  const record = await inPage(env, async ({ c, SMALL }) => {
    const client = await window.e2e.client(SMALL);
    const read = task => ({ state: task.state, progress: task.progress });
    const seen = [];
    let task = null;
    const heard = () => seen.push({ ...read(task), last: last.slice() });
    const last = [null, null];
    task = client.upload(window.e2e.blob(c.size, c.seed), c.path, {
      onStateChange: s => {
        last[0] = s;
        heard();
      },
      onProgress: p => {
        last[1] = p;
        heard();
      },
    });
    const first = read(task);
    await task.done();
    return { first, seen, end: read(task), last };
  }, { c, SMALL });
  assert.deepEqual(record.first, { state: 'preparing', progress: { phase: 'uploading', loaded: 0, total: c.size, speed: 0, eta: null } });
  assert.ok(record.seen.length > 2, JSON.stringify(record.seen));
  // In every callback the getters already read what the event says.
  for (const { state, progress, last } of record.seen) {
    if (last[0] !== null) assert.equal(state, last[0], JSON.stringify(record.seen));
    if (last[1] !== null) assert.deepEqual(progress, last[1], JSON.stringify(record.seen));
  }
  assert.equal(record.end.state, 'done');
  assert.deepEqual(record.end.progress, record.last[1]);
  assert.equal(record.end.progress.loaded, c.size);
});
