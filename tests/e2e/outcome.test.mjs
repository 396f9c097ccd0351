// What a task reports when the server's answer is slow or the page's own callbacks fail, through
// the public API in headless Chromium (issue 18.1, 18.3b): cancel() while SMH begins or COS
// initiates settles done() at once and the upload the server opened is cancelled afterwards;
// getAccessToken() / getCredentials() rejecting mid-upload fails with a retryable error that
// keeps the record and the server upload, and upload() of the same file resumes. The devserver's
// log and upload list are the witnesses, not the SDK's report.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { byteRequests, expectedSha, MIB, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 1 };
const HOLD_MS = 2000;
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** The operations logged after `mark`, once `op` is among them (polled for at most `ms`). */
async function opsOnce(mark, op, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const ops = (await env.dev.logSince(mark)).map(e => e.op);
    if (ops.includes(op) || Date.now() > end) return ops;
    await sleep(50);
  }
}

/**
 * In the page: starts `kind`'s upload of 3 MiB, cancels it once the devserver's first fault rule
 * has fired (the begin or Initiate is held), and measures how long done() then takes to reject.
 */
async function cancelWhileHeld(kind, path) {
  return env.page.evaluate(async ({ kind, path, SMALL }) => {
    const { e2e } = window;
    const blob = e2e.blob(3 * 1024 * 1024, 91);
    let task;
    if (kind === 'smh') {
      const client = await e2e.client(SMALL);
      task = client.upload(blob, path, { quickUpload: false });
    } else {
      const { CosUploader } = await import('/pkg/smh_upload.js');
      const r = e2e.ready;
      const getCredentials = async () => (await fetch('/credentials', { method: 'POST' })).json();
      task = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials, ...SMALL }).upload(blob, path);
    }
    for (;;) {
      const { rules } = await e2e.dev('faults');
      if (rules[0].fired >= 1) break;
      await e2e.sleep(10);
    }
    const cancelled = performance.now();
    task.cancel();
    let code;
    try {
      await task.done();
    } catch (e) {
      code = e.code;
    }
    return { code, state: task.state, ms: performance.now() - cancelled };
  }, { kind, path, SMALL });
}

for (const [kind, rule, op, cleanup] of [
  ['smh', { origin: 'smh', query: 'filesize' }, 'begin', 'cancel'],
  ['cos', { origin: 'cos', method: 'POST', query: 'uploads' }, 'InitiateMultipartUpload', 'AbortMultipartUpload'],
]) {
  test(`${kind}: cancel() while the server holds the ${op}: done() rejects at once, the upload it opens is cancelled later`, { timeout: 60_000 }, async () => {
    await env.dev.faults({ ...rule, times: 1, action: { type: 'delay', ms: HOLD_MS } });
    const mark = await env.dev.logMark();
    const outcome = await cancelWhileHeld(kind, `outcome-held-${kind}.bin`);
    assert.equal(outcome.code, 'Aborted');
    assert.equal(outcome.state, 'cancelled');
    assert.ok(outcome.ms < 500, `done() settled ${Math.round(outcome.ms)} ms after cancel(), not at once (the ${op} was held ${HOLD_MS} ms)`);
    // Once the held reply is in, what it opened is cancelled without anyone waiting.
    const ops = await opsOnce(mark, cleanup, HOLD_MS + 5000);
    assert.equal(ops.filter(o => o === op).length, 1, `${ops}`);
    assert.equal(ops.filter(o => o === cleanup).length, 1, `the opened upload was cancelled: ${ops}`);
    assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'nothing left open');
  });
}

test('smh: getAccessToken() rejecting mid-upload: retryable AccessTokenError, record and task kept, the next upload resumes', { timeout: 60_000 }, async () => {
  const [size, seed, path] = [3 * MIB, 93, 'outcome/token.bin'];
  // SMH refuses the token at confirm; the refresh rejects.
  await env.dev.faults({ origin: 'smh', query: 'confirm', times: 1, action: { type: 'expired' } });
  const first = await env.page.evaluate(async ({ size, seed, path, SMALL }) => {
    const { e2e } = window;
    window.tokenFails = true;
    const getAccessToken = () => (window.tokenFails ? Promise.reject(new Error('backend unreachable')) : e2e.token());
    window.tokenClient = await e2e.client({ ...SMALL, accessToken: await e2e.token(), getAccessToken });
    try {
      await window.tokenClient.upload(e2e.blob(size, seed), path, { quickUpload: false }).done();
      return { error: null };
    } catch (e) {
      return { error: e2e.errorData(e), pending: (await window.tokenClient.pendingUploads()).map(p => p.path) };
    }
  }, { size, seed, path, SMALL });
  assert.equal(first.error?.code, 'AccessTokenError', JSON.stringify(first));
  assert.equal(first.error.retryable, true);
  assert.deepEqual(first.pending, [path], 'the record is kept');
  assert.equal((await env.dev.uploads()).smh.length, 1, 'the SMH task is not cancelled');
  const mark = await env.dev.logMark();
  const second = await env.page.evaluate(async ({ size, seed, path }) => {
    window.tokenFails = false;
    const result = await window.tokenClient.upload(window.e2e.blob(size, seed), path, { quickUpload: false }).done();
    return result.path;
  }, { size, seed, path });
  assert.equal(second, path);
  assert.equal(byteRequests(await env.dev.logSince(mark, 'cos')).length, 0, 'every part was on the server already');
  assert.equal((await env.dev.objectAt(path))?.sha256, expectedSha(size, seed));
});

test('cos: getCredentials() rejecting mid-upload: retryable CredentialsError, record and upload kept, the next upload resumes', { timeout: 60_000 }, async () => {
  const [size, seed, key] = [4 * MIB, 95, 'outcome/keys.bin'];
  // COS refuses the third part's keys as expired; the refresh rejects.
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', skip: 2, times: 1, action: { type: 'expired' } });
  const first = await env.page.evaluate(async ({ size, seed, key, SMALL }) => {
    const { e2e } = window;
    const { CosUploader } = await import('/pkg/smh_upload.js');
    const r = e2e.ready;
    let calls = 0;
    const getCredentials = async () => {
      calls += 1;
      if (calls > 1 && window.keysFail) throw new Error('backend unreachable');
      return (await fetch('/credentials', { method: 'POST' })).json();
    };
    window.keysFail = true;
    window.cosUploader = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials, ...SMALL });
    try {
      await window.cosUploader.upload(e2e.blob(size, seed), key).done();
      return { error: null };
    } catch (e) {
      return { error: e2e.errorData(e), pending: (await window.cosUploader.pendingUploads()).map(p => p.key) };
    }
  }, { size, seed, key, SMALL });
  assert.equal(first.error?.code, 'CredentialsError', JSON.stringify(first));
  assert.equal(first.error.retryable, true);
  assert.deepEqual(first.pending, [key], 'the record is kept');
  assert.equal((await env.dev.uploads()).cos.length, 1, 'the multipart upload is not aborted');
  const mark = await env.dev.logMark();
  await env.page.evaluate(async ({ size, seed, key }) => {
    window.keysFail = false;
    await window.cosUploader.upload(window.e2e.blob(size, seed), key).done();
  }, { size, seed, key });
  const sent = await env.dev.logSince(mark, 'cos');
  assert.equal(byteRequests(sent).length, 2, `parts 3 and 4 only: ${sent.map(e => e.op)}`);
  assert.ok(!sent.some(e => e.op === 'InitiateMultipartUpload' || e.op === 'AbortMultipartUpload'), `${sent.map(e => e.op)}`);
  const object = (await env.dev.objects()).find(o => o.key === key);
  assert.equal(object?.sha256, expectedSha(size, seed));
});
