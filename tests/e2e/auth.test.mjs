// Credentials running out mid-upload (access token, upload authorisation) and the bucket-domain
// allow-list.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, explain, inPage, MIB, uploadInPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2 };

async function slowParts(ms, query = 'partNumber') {
  await env.dev.faults({ origin: 'cos', method: 'PUT', ...(query ? { query } : {}), times: 1000, action: { type: 'delay', ms } });
}

/**
 * Uploads `c` in the page with a counting `getAccessToken`; once `trigger` progress is reached
 * the page POSTs `/_dev/${hook}`. Returns `{record, calls, callsBefore, hookAnswer}`.
 */
async function uploadAndPoke(c, hook, { clientOptions = SMALL, triggerBytes = 1 } = {}) {
  return inPage(env, async ({ c, hook, clientOptions, triggerBytes }) => {
    const { e2e } = window;
    let calls = 0;
    const client = await e2e.client({ ...clientOptions, getAccessToken: async () => { calls += 1; return e2e.token(); } });
    const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 50_000);
    await e2e.until(() => w.record.progress.some(p => p.phase === 'uploading' && p.loaded >= triggerBytes) || w.record.error || w.record.result, 30_000, 'upload progress');
    const callsBefore = calls;
    const hookAnswer = await e2e.dev(hook, {});
    const record = await w.finished;
    return { record, calls, callsBefore, hookAnswer };
  }, { c, hook, clientOptions, triggerBytes }, 60_000);
}

test('token refresh: the access token expires mid-upload; getAccessToken is called again', { timeout: 90_000 }, async () => {
  await slowParts(200);
  const c = { path: 'token-refresh.bin', size: 6 * MIB + 1, seed: 400 };
  const mark = await env.dev.logMark();
  const out = await uploadAndPoke(c, 'tokens/expire', { triggerBytes: MIB });
  await assertLanded(env, out.record, c);
  assert.ok(out.hookAnswer.expired >= 1, `tokens expired: ${JSON.stringify(out.hookAnswer)}`);
  assert.ok(out.calls > out.callsBefore, `getAccessToken calls: ${out.callsBefore} before the expiry, ${out.calls} at the end`);
  const smh = await env.dev.logSince(mark, 'smh');
  assert.ok(smh.some(e => e.status === 403), `SMH refused the expired token at least once: ${JSON.stringify(smh.map(e => [e.op, e.status]))}`);
});

test('renew: upload authorisations expire mid multipart upload (/_dev/uploads/expire)', { timeout: 90_000 }, async () => {
  await slowParts(200);
  const c = { path: 'renew-expire.bin', size: 6 * MIB + 2, seed: 410 };
  const mark = await env.dev.logMark();
  const out = await uploadAndPoke(c, 'uploads/expire', { triggerBytes: MIB });
  await assertLanded(env, out.record, c);
  const ops = (await env.dev.logSince(mark)).map(e => `${e.origin}:${e.op}:${e.status}`);
  assert.ok(ops.includes('smh:renew:200'), `a successful renew: ${ops.join(' ')}`);
});

test('renew: short upload TTL (/_dev/config uploadTtlSeconds) during a slow multipart upload', { timeout: 90_000 }, async () => {
  await env.dev.post('config', { uploadTtlSeconds: 3 });
  await slowParts(700);
  const c = { path: 'renew-ttl.bin', size: 6 * MIB + 3, seed: 420 };
  const mark = await env.dev.logMark();
  const record = await uploadInPage(env, { ...c, clientOptions: { ...SMALL, concurrency: 1 } });
  await assertLanded(env, record, c);
  const ops = (await env.dev.logSince(mark)).map(e => `${e.origin}:${e.op}:${e.status}`);
  assert.ok(ops.includes('smh:renew:200'), `a successful renew: ${ops.join(' ')}`);
});

test('simple upload whose authorisation expires before the PUT lands: begun again, succeeds', { timeout: 90_000 }, async () => {
  await slowParts(1000, null);
  const c = { path: 'renew-simple.bin', size: 500_000, seed: 430 };
  const mark = await env.dev.logMark();
  const out = await uploadAndPoke(c, 'uploads/expire', { clientOptions: {}, triggerBytes: 0 });
  await assertLanded(env, out.record, c);
  const ops = (await env.dev.logSince(mark)).map(e => `${e.origin}:${e.op}:${e.status}`);
  assert.ok(ops.includes('cos:PutObject:403'), `the first PUT was refused as expired: ${ops.join(' ')}`);
  assert.equal(ops.filter(o => o === 'smh:begin:200' || o === 'smh:begin:201').length, 2, `begun twice: ${ops.join(' ')}`);
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
});

const NOT_ALLOWED = [
  ['another host', ['cos.example.com'], 100_000],
  ['the right host on another port', ['127.0.0.1:1'], 100_000],
  ['multipart, another host', ['*.myqcloud.com'], 3 * MIB],
];

for (const [label, allowedDomains, size] of NOT_ALLOWED) {
  test(`domain not allowed (${label}): DomainNotAllowed, no request reaches cos, nothing left open`, { timeout: 60_000 }, async () => {
    const path = `not-allowed-${size}-${allowedDomains[0].replace(/[^a-z0-9]/gi, '_')}.bin`;
    const mark = await env.dev.logMark();
    const record = await uploadInPage(env, { path, size, seed: 440, clientOptions: { ...SMALL, allowedDomains } });
    assert.ok(record.error, `the upload should fail\n${explain(record, env)}`);
    assert.equal(record.error.name, 'SmhUploadError');
    assert.equal(record.error.code, 'DomainNotAllowed', explain(record, env));
    assert.equal(record.finalState, 'failed');
    assert.deepEqual(await env.dev.logSince(mark, 'cos'), [], 'requests that reached the cos origin');
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
    assert.equal(await env.dev.objectAt(path), undefined);
  });
}
