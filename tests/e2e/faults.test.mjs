// Injected failures on the cos origin: errors, dropped connections, stalls and wrong CRCs in a
// 200 reply. Each upload must still land byte-exact, or fail cleanly when retries run out.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, byteRequests, explain, MIB, uploadInPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2 };
const PART = { origin: 'cos', method: 'PUT', query: 'partNumber' };
const SIMPLE_PUT = { origin: 'cos', method: 'PUT' };

/** Uploads `c` with fault `rule` installed; returns the record and the cos byte requests. */
async function uploadWithFault(c, rule, clientOptions = SMALL) {
  await env.dev.faults(rule);
  const mark = await env.dev.logMark();
  const started = Date.now();
  const record = await uploadInPage(env, { ...c, clientOptions });
  const seconds = (Date.now() - started) / 1000;
  const puts = byteRequests(await env.dev.logSince(mark, 'cos'));
  const rules = (await env.dev.get('faults')).rules;
  return { record, puts, seconds, fired: rules.reduce((n, r) => n + r.fired, 0) };
}

test('part PUT answered 500 twice, then OK: succeeds', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-500-part.bin', size: 4 * MIB + 10, seed: 500 };
  const { record, puts, fired } = await uploadWithFault(c, { ...PART, times: 2, action: { type: 'status', status: 500 } });
  await assertLanded(env, record, c);
  assert.equal(fired, 2, 'the fault fired twice');
  assert.equal(puts.filter(e => e.status === 500).length, 2, `500s: ${JSON.stringify(puts)}`);
  assert.equal(puts.filter(e => e.status === 200).length, 5, 'each of the 5 parts stored once');
});

const SLOW_DOWN = { type: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };

test('simple PUT answered 503 SlowDown twice, then OK: succeeds', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-503-simple.bin', size: 300_000, seed: 501 };
  const { record, puts } = await uploadWithFault(c, { ...SIMPLE_PUT, times: 2, action: SLOW_DOWN }, {});
  await assertLanded(env, record, c);
  assert.deepEqual(puts.map(e => e.status), [503, 503, 200]);
});

test('simple PUT answered 503 SlowDown every time: retried, then fails with SlowDown', { timeout: 60_000 }, async () => {
  // What the devserver answered is what the SDK reports: the rule really injects SlowDown.
  const c = { path: 'fault-503-forever.bin', size: 300_000, seed: 508 };
  const { record, puts } = await uploadWithFault(c, { ...SIMPLE_PUT, times: 1000, action: SLOW_DOWN }, { retries: 1 });
  assert.equal(record.finalState, 'failed', explain(record, env));
  assert.equal(record.error.code, 'SlowDown', explain(record, env));
  assert.equal(record.error.status, 503);
  assert.equal(record.error.retryable, true, 'SlowDown is retryable');
  assert.ok(puts.length >= 2 && puts.every(e => e.status === 503), `retried, every answer a 503: ${JSON.stringify(puts)}`);
});

test('part PUT connection reset once: succeeds', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-reset.bin', size: 3 * MIB + 5, seed: 502 };
  const { record, fired } = await uploadWithFault(c, { ...PART, times: 1, action: { type: 'reset' } });
  await assertLanded(env, record, c);
  assert.equal(fired, 1);
});

test('part PUT stalls (stallTimeout 1000): aborted, retried, succeeds', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-stall.bin', size: 3 * MIB + 6, seed: 503 };
  const stallMs = 25_000;
  const { record, fired, seconds } = await uploadWithFault(c, { ...PART, skip: 1, times: 1, action: { type: 'stall', ms: stallMs } }, { ...SMALL, stallTimeout: 1000 });
  await assertLanded(env, record, c);
  assert.equal(fired, 1, 'the stall fired');
  // The watchdog, not the server dropping the connection after 25 s, ended the stalled PUT.
  assert.ok(seconds < stallMs / 1000, `the upload took ${seconds} s, not less than the ${stallMs / 1000} s stall`);
});

test('part PUT answered 200 with a wrong CRC: the part is sent again, bytes correct', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-badcrc-part.bin', size: 3 * MIB + 7, seed: 504 };
  const { record, puts, fired } = await uploadWithFault(c, { ...PART, skip: 1, times: 1, action: { type: 'badCrc' } });
  await assertLanded(env, record, c);
  assert.equal(fired, 1);
  assert.equal(puts.length, 5, `4 parts + 1 resend: ${JSON.stringify(puts)}`);
  assert.equal(puts.filter(e => e.fault === 'badCrc').length, 1);
});

test('simple PUT answered 200 with a wrong CRC: sent again, bytes correct', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-badcrc-simple.bin', size: 200_000, seed: 505 };
  const { record, puts } = await uploadWithFault(c, { ...SIMPLE_PUT, times: 1, action: { type: 'badCrc' } }, {});
  await assertLanded(env, record, c);
  assert.equal(puts.length, 2, `PUTs: ${JSON.stringify(puts)}`);
});

test('part PUT always 500: fails with the COS error after the retries, nothing left open', { timeout: 90_000 }, async () => {
  const c = { path: 'fault-500-forever.bin', size: 3 * MIB, seed: 506 };
  const { record, puts } = await uploadWithFault(c, { ...PART, times: 1000, action: { type: 'status', status: 500 } }, { ...SMALL, retries: 2 });
  assert.ok(record.error, `the upload should fail\n${explain(record, env)}`);
  assert.equal(record.error.name, 'SmhUploadError');
  assert.equal(record.error.code, 'InternalError', explain(record, env));
  assert.equal(record.error.status, 500);
  assert.equal(record.finalState, 'failed');
  assert.ok(puts.length >= 3, `at least 1 + 2 retries of a part: ${puts.length}`);
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  assert.equal(await env.dev.objectAt(c.path), undefined);
});

test('SMH answers 500 once on confirm: retried, succeeds', { timeout: 60_000 }, async () => {
  const c = { path: 'fault-confirm.bin', size: 3 * MIB + 8, seed: 507 };
  const { record, fired } = await uploadWithFault(c, { origin: 'smh', method: 'POST', query: 'confirm', times: 1, action: { type: 'status', status: 500 } });
  await assertLanded(env, record, c);
  assert.equal(fired, 1, 'the confirm fault fired');
});
