// CosUploader (direct COS mode, docs/design.md §3) in headless Chromium through the public API,
// against the devserver's cos origin with temporary keys from its `POST /credentials`: sizes
// around the multipart threshold, Content-Type and meta, every credential shape, credentials
// expiring mid-upload (one getCredentials call for the parallel parts), a clock an hour ahead
// (RequestTimeTooSkewed → corrected), pause / resume, cancel and final failure (nothing left
// open), resume after a reload, the domain allow-list, and a read-back of a multipart object by
// Tencent's cos-python-sdk-v5 (tests/interop/cos_readback.py). Bytes are checked through
// GET /_dev/objects and requests through GET /_dev/log, never through the SDK's own report.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { expectedSha, explain, inPage, makeBytes, MIB, settleCos, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Small files: one PutObject up to 2 MiB, 1 MiB parts above. */
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB };
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms` (the timer is cleared either way). */
function bounded(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Page-side helpers (window.cosE2e), installed on the fixture page (and again on a page that
 * replaced it): CosUploader from the package, keys from the app origin in each shape a backend
 * may hand over, Files with a stable identity (name, size, lastModified) for resume.
 */
async function installCosHelpers() {
  if (window.cosE2e) return;
  const { CosUploader } = await import('/pkg/smh_upload.js');
  if (typeof CosUploader !== 'function') throw new Error('CosUploader is not exported by /pkg/smh_upload.js');
  const { e2e } = window;

  /** Keys from `POST /credentials`, as a backend relays them in `shape`. */
  async function credentials(shape = 'sts', body = {}) {
    const query = shape.startsWith('vod') ? '?shape=vod' : '';
    const r = await fetch(`/credentials${query}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`POST /credentials: ${r.status} ${await r.text()}`);
    const answer = await r.json();
    switch (shape) {
      case 'sts': return answer;                       // {Credentials: {TmpSecretId, TmpSecretKey, Token}, StartTime, ExpiredTime}
      case 'vod': return answer.Response;              // bare {Credentials: {AccessKeyId, SecretAccessKey, SessionToken, Expiration}}
      case 'vod-envelope': return answer;              // {Response: {Credentials: …, RequestId}}
      case 'flat': {
        const c = answer.Credentials;
        return { tmpSecretId: c.TmpSecretId, tmpSecretKey: c.TmpSecretKey, sessionToken: c.Token, startTime: answer.StartTime, expiredTime: answer.ExpiredTime };
      }
      default: throw new Error(`unknown shape ${shape}`);
    }
  }

  /** A CosUploader for the devserver's bucket whose getCredentials is counted. */
  function uploader({ shape = 'sts', credentialBody = {}, ...options } = {}) {
    const r = e2e.ready;
    const stats = { calls: 0 };
    const getCredentials = async () => {
      stats.calls += 1;
      return credentials(shape, credentialBody);
    };
    const cos = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials, ...options });
    return { cos, stats };
  }

  /** `makeBytes(size, seed)` as a File whose identity is the same in every page. */
  const file = (size, seed, name = `file-${seed}.bin`) => new File([e2e.makeBytes(size, seed)], name, { lastModified: 1_700_000_000_000 + seed });

  /** Uploads to the end; the e2e record plus how often getCredentials was called. */
  async function upload({ size, seed, key, options, uploadOptions = {}, timeoutMs = 60_000, name }) {
    const { cos, stats } = uploader(options);
    const { finished } = e2e.watch(hooks => cos.upload(file(size, seed, name), key, { ...uploadOptions, ...hooks }), timeoutMs);
    const record = await finished;
    record.credentialCalls = stats.calls;
    return record;
  }

  window.cosE2e = { CosUploader, credentials, uploader, file, upload };
}

/** `inPage` with the CosUploader helpers installed first. */
async function inCosPage(fn, arg, timeoutMs = 60_000) {
  await inPage(env, installCosHelpers, undefined, 30_000);
  return inPage(env, fn, arg, timeoutMs);
}

/** Uploads `makeBytes(size, seed)` to `key` through a fresh CosUploader; the page record. */
async function cosUpload(args) {
  const timeoutMs = args.timeoutMs ?? 60_000;
  return inCosPage(a => window.cosE2e.upload(a), { ...args, timeoutMs }, timeoutMs + 5_000);
}

/** The bucket object at `key` (GET /_dev/objects), or undefined. */
async function objectAt(key) {
  return (await env.dev.objects()).find(o => o.key === key);
}

/** COS multipart uploads still open (GET /_dev/uploads). */
async function openMultipart() {
  return (await env.dev.uploads()).cos;
}

/** Waits until no multipart upload is open (an Abort may still be on its way); returns what stays open. */
async function settleOpenMultipart(timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  let open = await openMultipart();
  while (open.length && Date.now() < end) {
    await sleep(100);
    open = await openMultipart();
  }
  return open;
}

/** Asserts the upload finished, the bucket holds exactly `makeBytes(size, seed)` at `key`, and
 *  the result names what the bucket holds. */
async function assertStored(record, { key, size, seed }) {
  assert.equal(record.error, undefined, `upload of ${key} failed\n${explain(record, env)}`);
  assert.equal(record.finalState, 'done', `final state\n${explain(record, env)}`);
  const object = await objectAt(key);
  assert.ok(object, `no object at ${key}; objects: ${JSON.stringify(await env.dev.objects())}`);
  assert.equal(object.size, size, `size of ${key}`);
  assert.equal(object.sha256, expectedSha(size, seed), `sha256 of ${key}`);
  const { result } = record;
  assert.equal(result.key, key, 'result.key');
  assert.equal(result.size, size, 'result.size');
  assert.equal(result.crc64, object.crc64, 'result.crc64 (decimal string) is the stored CRC-64');
  assert.equal(result.etag, object.etag, 'result.etag');
  assert.equal(typeof result.location, 'string');
  assert.ok(result.location.endsWith(`/${key}`) && result.location.includes(env.ready.cos), `result.location ${result.location}`);
  return object;
}

const cosLog = mark => env.dev.logSince(mark, 'cos');
const ops = entries => entries.filter(e => e.op !== 'Preflight').map(e => `${e.op} ${e.status}`);

// ---- sizes ------------------------------------------------------------------------------

const sizes = [
  { name: 'empty file', size: 0, parts: 0 },
  { name: 'one byte', size: 1, parts: 0 },
  { name: 'threshold minus one byte', size: 2 * MIB - 1, parts: 0 },
  { name: 'exactly the threshold', size: 2 * MIB, parts: 0 },
  { name: 'threshold plus one byte', size: 2 * MIB + 1, parts: 3 },
  { name: 'multipart, last part 3 bytes', size: 5 * MIB + 3, parts: 6 },
];

sizes.forEach((c, i) => {
  test(`cos: ${c.name} (${c.size} bytes): ${c.parts ? `Initiate, ${c.parts} parts, Complete` : 'one PutObject'}`, { timeout: 90_000 }, async () => {
    const key = `sizes/case-${i}.bin`;
    const seed = 200 + i;
    const mark = await env.dev.logMark();
    const record = await cosUpload({ size: c.size, seed, key, options: SMALL });
    await assertStored(record, { key, size: c.size, seed });
    const sent = (await cosLog(mark)).filter(e => e.op !== 'Preflight');
    if (c.parts === 0) {
      assert.deepEqual(ops(sent), ['PutObject 200'], 'requests');
      assert.equal(sent[0].bytesIn, c.size);
    } else {
      const parts = sent.filter(e => e.op === 'UploadPart' && e.status === 200);
      assert.equal(parts.length, c.parts, `parts: ${ops(sent)}`);
      assert.equal(parts.reduce((n, e) => n + e.bytesIn, 0), c.size, 'bytes the cos origin received');
      assert.deepEqual(ops(sent.filter(e => e.op !== 'UploadPart')), ['InitiateMultipartUpload 200', 'CompleteMultipartUpload 200']);
    }
    assert.equal(record.states[0], 'preparing', `states ${record.states}`);
    assert.ok(!record.states.includes('hashing'), `no hashing state: ${record.states}`);
    assert.equal(record.states.at(-1), 'done');
    if (c.parts) assert.ok(record.states.includes('confirming'), `confirming while Complete runs: ${record.states}`);
    assert.deepEqual(await openMultipart(), [], 'nothing left open');
  });
});

// ---- type, meta, and the python read-back -----------------------------------------------

test('cos: contentType and meta are stored (simple and multipart); cos-python-sdk-v5 reads back the same CRC-64 and MD5', { timeout: 120_000 }, async () => {
  const python = join(ROOT, 'target', 'pyenv', 'bin', 'python');
  assert.ok(existsSync(python), `${python} is missing: run \`cargo xtask setup\``);
  const uploadOptions = { contentType: 'video/mp4', meta: { title: 'Hello world', 'camera-id': '7' } };
  const cases = [
    { key: 'typed/small.mp4', size: 300 * 1024 + 5, seed: 301 },
    { key: 'typed/big.mp4', size: 6 * MIB + 12345, seed: 302 },
  ];
  const records = [];
  for (const c of cases) {
    const record = await cosUpload({ ...c, options: { ...SMALL, concurrency: 3 }, uploadOptions });
    await assertStored(record, c);
    records.push(record);
  }
  const read = spawnSync(python, [join(ROOT, 'tests', 'interop', 'cos_readback.py'), ...cases.map(c => c.key)], {
    env: { ...process.env, SMH_DEVSERVER_READY_JSON: JSON.stringify(env.ready) },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(read.status, 0, `cos_readback.py: ${read.stdout}\n${read.stderr}`);
  const reports = JSON.parse(read.stdout);
  cases.forEach((c, i) => {
    const py = reports[i];
    const local = makeBytes(c.size, c.seed);
    const { result } = records[i];
    assert.equal(py.size, c.size, `${c.key}: size read back`);
    assert.equal(py.md5, createHash('md5').update(local).digest('hex'), `${c.key}: MD5 of the bytes read back = MD5 of the local file`);
    assert.equal(py.crc64Body, result.crc64, `${c.key}: CRC-64 python computes over the body = CosUploader's result.crc64`);
    assert.equal(py.crc64Header, result.crc64, `${c.key}: x-cos-hash-crc64ecma = result.crc64`);
    assert.equal(py.etag, result.etag, `${c.key}: ETag`);
    assert.equal(py.contentType, 'video/mp4', `${c.key}: Content-Type`);
    assert.deepEqual(py.meta, { title: 'Hello world', 'camera-id': '7' }, `${c.key}: x-cos-meta-*`);
    console.log(`cross-check ${c.key}: size ${py.size}, crc64 ${py.crc64Body} (header ${py.crc64Header}, CosUploader ${result.crc64}), md5 ${py.md5}, etag ${py.etag}`);
  });
  assert.ok(records[1].result.etag.endsWith('-7"'), `a 7-part object's ETag: ${records[1].result.etag}`);
});

// ---- credentials ------------------------------------------------------------------------

for (const shape of ['sts', 'vod', 'vod-envelope', 'flat']) {
  test(`cos: getCredentials in the ${shape} shape signs a PutObject and a multipart upload`, { timeout: 90_000 }, async () => {
    for (const [kind, size] of [['small', 1000], ['multipart', 3 * MIB + 7]]) {
      const c = { key: `shapes/${shape}-${kind}.bin`, size, seed: 400 + size % 97 };
      const record = await cosUpload({ ...c, options: { ...SMALL, shape } });
      await assertStored(record, c);
      assert.equal(record.credentialCalls, 1, `getCredentials calls for one ${kind} upload`);
    }
  });
}

test('cos: getCredentials that throws or returns an unusable shape → CredentialsError, nothing sent', { timeout: 60_000 }, async () => {
  const mark = await env.dev.logMark();
  const errors = await inCosPage(async () => {
    const { CosUploader, file } = window.cosE2e;
    const { e2e } = window;
    const r = e2e.ready;
    const out = {};
    const attempts = {
      throws: async () => { throw new Error('backend down'); },
      empty: async () => ({}),
      noToken: async () => ({ Credentials: { TmpSecretId: 'AKIDx', TmpSecretKey: 'y' }, ExpiredTime: Math.floor(Date.now() / 1000) + 600 }),
      string: async () => 'not credentials',
    };
    for (const [name, getCredentials] of Object.entries(attempts)) {
      const cos = new CosUploader({ bucket: r.bucket, region: r.region, domain: r.cos, getCredentials });
      const record = await e2e.watch(hooks => cos.upload(file(10, 1), `bad/${name}.bin`, hooks), 20_000).finished;
      out[name] = { ...record.error, finalState: record.finalState };
    }
    return out;
  });
  for (const [name, error] of Object.entries(errors)) {
    assert.equal(error.name, 'SmhUploadError', `${name}: ${JSON.stringify(error)}`);
    assert.equal(error.code, 'CredentialsError', `${name}: ${JSON.stringify(error)}`);
    assert.equal(error.finalState, 'failed', name);
    assert.ok(!/AKIDx/.test(error.message), `${name}: the message quotes no key: ${error.message}`);
  }
  const sent = (await cosLog(mark)).filter(e => e.op !== 'Preflight');
  assert.deepEqual(ops(sent), [], 'no request reached COS');
});

test('cos: keys expired mid-upload (COS "Request has expired") → getCredentials called again once for the parallel parts', { timeout: 90_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 300 } });
  const c = { key: 'expiry/mid-upload.bin', size: 10 * MIB, seed: 501 };
  const mark = await env.dev.logMark();
  const record = await inCosPage(async ({ c, SMALL }) => {
    const { uploader, file } = window.cosE2e;
    const { e2e } = window;
    const { cos, stats } = uploader({ ...SMALL, concurrency: 4 });
    let expired = null;
    const extra = {
      onProgress: p => {
        if (expired === null && p.loaded >= 1024 * 1024) {
          expired = e2e.dev('credentials/expire', {});
        }
      },
    };
    const w = e2e.watch(hooks => cos.upload(file(c.size, c.seed), c.key, hooks), 60_000, extra);
    const record = await w.finished;
    record.expired = await expired;
    record.credentialCalls = stats.calls;
    return record;
  }, { c, SMALL }, 70_000);
  await assertStored(record, c);
  assert.ok(record.expired?.expired >= 1, `the keys were expired: ${JSON.stringify(record.expired)}`);
  const sent = await cosLog(mark);
  const refused = sent.filter(e => e.status === 403);
  assert.ok(refused.length >= 2, `parallel parts were refused with the expired keys: ${ops(sent)}`);
  assert.equal(record.credentialCalls, 2, `getCredentials: once at the start, once for all refused parts (${refused.length} refusals)`);
});

test('cos: short-lived keys are fetched again before they expire, not per request', { timeout: 90_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 400 } });
  const c = { key: 'expiry/short-lived.bin', size: 16 * MIB, seed: 502 };
  const record = await cosUpload({ ...c, options: { ...SMALL, concurrency: 2, credentialBody: { durationSeconds: 4 } }, timeoutMs: 60_000 });
  await assertStored(record, c);
  // 16 parts at 2 × ~400 ms: about 3.5 s of parts plus Initiate and Complete, with 4 s keys.
  assert.ok(record.credentialCalls >= 2, `getCredentials calls: ${record.credentialCalls}`);
  assert.ok(record.credentialCalls <= 6, `getCredentials is not called per request: ${record.credentialCalls} calls for 18 requests`);
});

// ---- clock skew -------------------------------------------------------------------------

/** Opens a page of the fixture whose `Date` runs `shiftMs` off the real clock (set before any
 *  script of the page runs), with the CosUploader helpers installed. */
async function pageWithClockShift(shiftMs) {
  const page = await env.page.context().newPage();
  await page.addInitScript(shift => {
    const RealDate = Date;
    class ShiftedDate extends RealDate {
      constructor(...args) {
        if (args.length === 0) super(RealDate.now() + shift);
        else super(...args);
      }
      static now() { return RealDate.now() + shift; }
    }
    globalThis.Date = ShiftedDate;
  }, shiftMs);
  await page.goto(`${env.ready.app}/`);
  await page.waitForFunction(() => window.e2eReady !== undefined, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.e2eReady), true);
  await page.evaluate(r => window.e2e.configure(r), env.ready);
  await page.evaluate(installCosHelpers);
  const skew = await page.evaluate(() => (Date.now() - performance.timeOrigin - performance.now()) / 1000);
  assert.ok(Math.abs(skew - shiftMs / 1000) < 5, `the page's clock is ${shiftMs / 1000} s off (${skew} s)`);
  return page;
}

// STS keys carry StartTime (the issuing server's clock), from which the SDK may correct a wrong
// clock before its first request; VOD keys carry only Expiration, so COS's RequestTimeTooSkewed
// and the Date of its reply are the only way to learn the time.
const skews = [
  { what: 'one hour ahead, STS keys (StartTime)', shiftMs: 3600_000, shape: 'sts', refusals: [0, 1] },
  { what: '20 minutes ahead, VOD keys', shiftMs: 1200_000, shape: 'vod', refusals: [1] },
  // Ahead by more than the keys' lifetime: they look expired on arrival, are tried anyway, and
  // the first refusal's Date corrects the clock (no second getCredentials call is needed).
  { what: 'one hour ahead, VOD keys (no StartTime)', shiftMs: 3600_000, shape: 'vod', refusals: [1] },
  // Behind: signatures end about when they are sent, so the parts in flight may each be refused
  // once ("Request has expired") before the Date of a refusal corrects the clock.
  { what: 'one hour behind, VOD keys', shiftMs: -3600_000, shape: 'vod', refusals: [0, 1, 2, 3, 4] },
];
for (const { what, shiftMs, shape, refusals } of skews) {
  test(`cos: a page clock ${what} → corrected (from the server Date after at most one refusal), a simple and a multipart upload done`, { timeout: 90_000 }, async () => {
    const page = await pageWithClockShift(shiftMs);
    try {
      const mark = await env.dev.logMark();
      const keys = { small: `skew/${shape}${shiftMs}-small.bin`, big: `skew/${shape}${shiftMs}-big.bin` };
      const records = await bounded(
        page.evaluate(async ({ options, keys }) => {
          const { uploader, file } = window.cosE2e;
          const { e2e } = window;
          const { cos, stats } = uploader(options);
          const small = await e2e.watch(hooks => cos.upload(file(5000, 601), keys.small, hooks), 30_000).finished;
          const big = await e2e.watch(hooks => cos.upload(file(3 * 1024 * 1024, 602), keys.big, hooks), 30_000).finished;
          return { small, big, calls: stats.calls };
        }, { options: { ...SMALL, shape }, keys }),
        70_000, 'the page with the shifted clock');
      await assertStored(records.small, { key: keys.small, size: 5000, seed: 601 });
      await assertStored(records.big, { key: keys.big, size: 3 * MIB, seed: 602 });
      const sent = (await cosLog(mark)).filter(e => e.op !== 'Preflight');
      const refused = sent.filter(e => e.status === 403);
      assert.ok(refusals.includes(refused.length), `${refusals.join(' or ')} refusals expected, then the corrected clock signs everything: ${ops(sent)}`);
      if (shiftMs > 0 && refused.length) assert.equal(sent[0].status, 403, `a clock ahead is refused on the first request: ${ops(sent)}`);
      const lastRefusal = sent.findLastIndex(e => e.status === 403);
      assert.ok(sent.slice(lastRefusal + 1).every(e => e.status < 300), `after the correction nothing is refused: ${ops(sent)}`);
      assert.ok(records.calls <= 2, `getCredentials calls: ${records.calls}`);
    } finally {
      await page.close();
    }
  });
}

// ---- pause / resume / cancel / failure ----------------------------------------------------

test('cos: pause stops sending, resume finishes with the right bytes', { timeout: 90_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 300 } });
  const c = { key: 'control/paused.bin', size: 8 * MIB + 1, seed: 701 };
  const mark = await env.dev.logMark();
  const record = await inCosPage(async ({ c, SMALL }) => {
    const { uploader, file } = window.cosE2e;
    const { e2e } = window;
    const { cos } = uploader({ ...SMALL, concurrency: 2 });
    let paused = false;
    const w = e2e.watch(hooks => cos.upload(file(c.size, c.seed), c.key, hooks), 60_000, {
      onProgress: (p, task) => {
        if (!paused && p.loaded >= 2 * 1024 * 1024) {
          paused = true;
          task.pause();
        }
      },
    });
    await e2e.until(() => w.task.state === 'paused', 20_000, 'paused');
    const pausedAt = Date.now();
    await e2e.sleep(1500);   // held paused: nothing may go out meanwhile
    const loadedWhilePaused = w.task.progress.loaded;
    const resumedAt = Date.now();
    w.task.resume();
    const record = await w.finished;
    return { ...record, loadedWhilePaused, pausedAt, resumedAt };
  }, { c, SMALL }, 70_000);
  await assertStored(record, c);
  // Done: every request the page sent was answered and logged with the time it arrived (a part
  // the browser sent just before the pause may reach the server's clock a little later).
  const duringPause = (await cosLog(mark)).filter(e => e.timeMs > record.pausedAt + 250 && e.timeMs < record.resumedAt);
  assert.deepEqual(duringPause.map(e => `${e.op} ${e.status}`), [], 'no request while paused');
  assert.ok(record.loadedWhilePaused < c.size, `paused before the end (${record.loadedWhilePaused})`);
  const states = record.states.join(' ');
  assert.match(states, /uploading.*paused.*uploading.*done/, states);
});

test('cos: cancel aborts the multipart upload — nothing left open, no object', { timeout: 90_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 300 } });
  const c = { key: 'control/cancelled.bin', size: 8 * MIB, seed: 702 };
  const mark = await env.dev.logMark();
  const record = await inCosPage(async ({ c, SMALL }) => {
    const { uploader, file } = window.cosE2e;
    const { e2e } = window;
    const { cos } = uploader({ ...SMALL, concurrency: 2 });
    const w = e2e.watch(hooks => cos.upload(file(c.size, c.seed), c.key, hooks), 60_000, {
      onProgress: (p, task) => {
        if (p.loaded >= 1024 * 1024) task.cancel();
      },
    });
    return w.finished;
  }, { c, SMALL }, 70_000);
  assert.equal(record.finalState, 'cancelled', explain(record, env));
  assert.equal(record.error?.name, 'SmhUploadError', JSON.stringify(record.error));
  assert.equal(record.error?.code, 'Aborted', JSON.stringify(record.error));
  assert.deepEqual(await settleOpenMultipart(), [], 'no multipart upload left open');
  assert.equal(await objectAt(c.key), undefined, 'no object');
  const sent = await cosLog(mark);
  assert.ok(sent.some(e => e.op === 'AbortMultipartUpload' && e.status === 204), `Abort sent: ${ops(sent)}`);
});

test('cos: a final COS error (AccessDenied on every part) passes through with its code, and the upload is aborted', { timeout: 90_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'status', status: 403, code: 'AccessDenied', message: 'Access Denied.' } });
  const c = { key: 'failure/denied.bin', size: 3 * MIB, seed: 703 };
  const mark = await env.dev.logMark();
  const record = await cosUpload({ ...c, options: SMALL });
  assert.equal(record.finalState, 'failed', explain(record, env));
  assert.equal(record.error.code, 'AccessDenied', JSON.stringify(record.error));
  assert.equal(record.error.status, 403);
  assert.equal(record.error.retryable, false);
  assert.ok(record.error.requestId, 'the COS request id is kept');
  assert.deepEqual(await settleOpenMultipart(), [], 'aborted on final failure');
  const sent = await cosLog(mark);
  assert.ok(sent.some(e => e.op === 'AbortMultipartUpload' && e.status === 204), `Abort sent: ${ops(sent)}`);
  assert.ok(sent.filter(e => e.op === 'UploadPart').length <= 6, `4xx parts are not retried over and over: ${ops(sent)}`);
});

test('cos: EntityTooSmall from Complete passes through, and the upload is aborted', { timeout: 60_000 }, async () => {
  await env.dev.post('config', { minPartSize: 2 * MIB });
  const c = { key: 'failure/too-small.bin', size: 3 * MIB, seed: 704 };
  const record = await cosUpload({ ...c, options: SMALL });
  assert.equal(record.finalState, 'failed', explain(record, env));
  assert.equal(record.error.code, 'EntityTooSmall', JSON.stringify(record.error));
  assert.equal(record.error.status, 400);
  assert.deepEqual(await settleOpenMultipart(), [], 'aborted on final failure');
  assert.equal(await objectAt(c.key), undefined);
});

test('cos: a part whose CRC-64 COS reports wrong is sent again; a wrong CRC-64 of the whole object fails with IntegrityMismatch', { timeout: 60_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', skip: 1, times: 1, action: { type: 'badCrc' } });
  const c = { key: 'integrity/part.bin', size: 4 * MIB + 9, seed: 705 };
  const mark = await env.dev.logMark();
  const record = await cosUpload({ ...c, options: SMALL });
  await assertStored(record, c);
  const parts = (await cosLog(mark)).filter(e => e.op === 'UploadPart' && e.status === 200);
  assert.equal(parts.length, 6, `5 parts, one of them sent twice: ${parts.length}`);

  await env.dev.del('faults');
  await env.dev.faults({ origin: 'cos', method: 'POST', query: 'uploadId', times: 10, action: { type: 'badCrc' } });
  const bad = await cosUpload({ key: 'integrity/whole.bin', size: 3 * MIB, seed: 706, options: SMALL });
  assert.equal(bad.finalState, 'failed', explain(bad, env));
  assert.equal(bad.error.code, 'IntegrityMismatch', JSON.stringify(bad.error));
});

// ---- resume after reload ------------------------------------------------------------------

const RESUMABLE = { ...SMALL, concurrency: 2, checkpoints: 'local' };
/** How long the server holds each part PUT in the resume tests. */
const PART_DELAY_MS = 300;

/** Starts uploading `c` with slow parts (300 ms each on the server) and closes the page once
 *  `sentBytes` are reported sent and the checkpoint is written; a fresh page replaces it. */
async function startThenClosePage(c, sentBytes) {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: PART_DELAY_MS } });
  await inCosPage(async ({ c, options, sentBytes }) => {
    const { uploader, file } = window.cosE2e;
    const { e2e } = window;
    const { cos } = uploader(options);
    const w = e2e.watch(hooks => cos.upload(file(c.size, c.seed, c.name), c.key, hooks), 60_000);
    window.abandonedCosUpload = w;
    await e2e.until(() => w.task.progress.loaded >= sentBytes, 30_000, `${sentBytes} bytes sent`);
    // The checkpoint (written at most once a second) records stored parts; another uploader
    // over the same store lists it (an uploader does not list its own running uploads).
    const end = performance.now() + 10_000;
    const other = uploader(options).cos;
    while (!(await other.pendingUploads()).some(p => p.key === c.key && p.loaded > 0)) {
      if (performance.now() > end) throw new Error('no checkpoint with stored parts within 10 s');
      await e2e.sleep(50);
    }
  }, { c, options: RESUMABLE, sentBytes }, 45_000);
  await env.replacePage();
  await settleCos(env.dev, 2 * PART_DELAY_MS);
}


test('cos: resume after reload — pendingUploads lists it, upload() of the same file sends only the missing parts', { timeout: 120_000 }, async () => {
  const c = { key: 'resume/reloaded.bin', size: 12 * MIB + 5, seed: 801, name: 'reloaded.bin' };
  const options = RESUMABLE;
  await startThenClosePage(c, 5 * MIB);
  const open = await openMultipart();
  assert.equal(open.length, 1, `one upload open after the reload: ${JSON.stringify(open)}`);
  const stored = open[0].parts;
  assert.ok(stored >= 3 && stored < 13, `parts stored before the reload: ${stored}`);

  const mark = await env.dev.logMark();
  const record = await inCosPage(async ({ c, options }) => {
    const { uploader, file } = window.cosE2e;
    const { e2e } = window;
    const { cos } = uploader(options);
    const pendingBefore = await cos.pendingUploads();
    const record = await e2e.watch(hooks => cos.upload(file(c.size, c.seed, c.name), c.key, hooks), 60_000).finished;
    record.pendingBefore = pendingBefore;
    record.pendingAfter = await cos.pendingUploads();
    return record;
  }, { c, options }, 70_000);
  await assertStored(record, c);
  assert.equal(record.pendingBefore.length, 1, JSON.stringify(record.pendingBefore));
  const pending = record.pendingBefore[0];
  assert.equal(pending.key, c.key);
  assert.equal(pending.size, c.size);
  assert.equal(pending.name, c.name);
  assert.ok(pending.loaded > 0 && pending.loaded < c.size, `pending.loaded ${pending.loaded}`);
  assert.ok(Number.isFinite(new Date(pending.updatedAt).getTime()), `pending.updatedAt ${pending.updatedAt}`);
  assert.deepEqual(record.pendingAfter, [], 'forgotten once done');
  const sent = await cosLog(mark);
  assert.ok(sent.some(e => e.op === 'ListParts' && e.status === 200), `ListParts asked: ${ops(sent)}`);
  assert.ok(!sent.some(e => e.op === 'InitiateMultipartUpload'), `no new upload: ${ops(sent)}`);
  const resent = sent.filter(e => e.op === 'UploadPart' && e.status === 200).length;
  // Parts the record vouches for are kept; the others are sent again, including any COS stored
  // after the record's last write (at most about a second of parts).
  const recorded = Math.ceil(pending.loaded / MIB);
  assert.ok(recorded <= stored, `recorded ${recorded} ≤ held ${stored}`);
  assert.equal(resent, 13 - recorded, `only the parts the record does not hold are sent (${stored} held, ${recorded} recorded)`);
  assert.deepEqual(await openMultipart(), []);
});

test('cos: discardPending(key) forgets the record and aborts the upload on COS; an SmhClient of the page neither lists nor discards it', { timeout: 90_000 }, async () => {
  const c = { key: 'resume/discarded.bin', size: 24 * MIB, seed: 802, name: 'discarded.bin' };
  const options = RESUMABLE;
  await startThenClosePage(c, 2 * MIB);
  assert.equal((await openMultipart()).length, 1, 'open before discarding');
  const result = await inCosPage(async ({ key, options }) => {
    // A client of another target over the same storage: the record is not its to list or cancel.
    const smh = await window.e2e.client({ checkpoints: 'local' });
    const smhListed = await smh.pendingUploads();
    const smhDiscarded = await smh.discardPending();
    const { cos } = window.cosE2e.uploader(options);
    const before = await cos.pendingUploads();
    await cos.discardPending(key);
    return { smhListed, smhDiscarded, before: before.map(p => p.key), after: await cos.pendingUploads() };
  }, { key: c.key, options }, 30_000);
  assert.deepEqual(result.smhListed, [], 'the SmhClient lists no COS record');
  assert.equal(result.smhDiscarded, 0, 'the SmhClient discards no COS record');
  assert.deepEqual(result.before, [c.key], 'the CosUploader still has its record');
  assert.deepEqual(result.after, []);
  assert.deepEqual(await settleOpenMultipart(), [], 'aborted on COS');
  assert.equal(await objectAt(c.key), undefined, 'no object');
});

// ---- allow-list ---------------------------------------------------------------------------

test('cos: a domain outside allowedDomains → DomainNotAllowed, nothing sent', { timeout: 60_000 }, async () => {
  const mark = await env.dev.logMark();
  const outcome = await inCosPage(async () => {
    const { uploader, file } = window.cosE2e;
    const { e2e } = window;
    let stats = { calls: 0 };
    try {
      const made = uploader({ allowedDomains: ['*.cos.ap-guangzhou.myqcloud.com'] });
      stats = made.stats;
      const record = await e2e.watch(hooks => made.cos.upload(file(100, 1), 'refused/a.bin', hooks), 20_000).finished;
      return { ...record.error, where: 'task', finalState: record.finalState, calls: stats.calls };
    } catch (e) {
      return { ...e2e.errorData(e), where: 'constructor', calls: stats.calls };
    }
  });
  assert.equal(outcome.code, 'DomainNotAllowed', JSON.stringify(outcome));
  assert.equal(outcome.name, 'SmhUploadError');
  const sent = await cosLog(mark);
  assert.deepEqual(sent.map(e => e.op), [], 'no request (not even a preflight) reached the cos origin');
  const app = await env.dev.logSince(mark);
  assert.equal(outcome.calls, 0, `getCredentials not asked for a refused domain (${JSON.stringify(app.map(e => e.path))})`);
});
