// No secret in anything the SDK or the devserver writes down. One run exercises token refresh,
// renewals, final errors and faults; meanwhile the browser context's network traffic is watched
// from node to learn every secret that really went by (access tokens, COS signatures, security
// tokens) and the READY line gives the library secret and the bucket key. Then every error
// message, console line, checkpoint record (the 'local' store: IndexedDB or localStorage, sampled
// while uploads run and after a failure kept for resume) and devserver request-log line must contain none.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { explain, inPage, MIB, useEnvironment } from './helpers.mjs';
import { installCheckpointReader } from './reliability.mjs';

const env = useEnvironment();
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2 };
/** Shorter strings could match by chance; every real secret is far longer. */
const MIN_SECRET_LENGTH = 8;

/** Secrets seen on the wire, by kind. */
function secretJar() {
  const jar = { 'access token': new Set(), 'signature': new Set(), 'security token': new Set(), 'secret key': new Set() };
  const add = (kind, value) => {
    if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH) jar[kind].add(value);
  };
  const fromAuthorization = value => {
    const m = /(?:^|&)q-signature=([^&]+)/.exec(value ?? '');
    if (m) add('signature', m[1]);
  };
  const fromHeaders = headers => {
    for (const [k, v] of Object.entries(headers ?? {})) {
      if (k.toLowerCase() === 'authorization') fromAuthorization(v);
      if (k.toLowerCase() === 'x-cos-security-token') add('security token', v);
    }
  };
  const fromUrl = url => {
    const u = new URL(url);
    add('access token', u.searchParams.get('access_token'));
    const m = /\/api\/v1\/token\/[^/]+\/([^/?]+)/.exec(u.pathname);
    if (m) add('access token', decodeURIComponent(m[1]));
  };
  return { jar, add, fromHeaders, fromUrl };
}

/** `[kind, source]` pairs: which secret kinds appear in which texts. */
function leaks(jar, texts) {
  const found = [];
  for (const [source, text] of texts) {
    for (const [kind, values] of Object.entries(jar)) {
      for (const value of values) {
        if (text.includes(value)) found.push(`${kind} in ${source}: …${text.slice(Math.max(0, text.indexOf(value) - 60), text.indexOf(value)).replace(/\s+/g, ' ')}<${kind}>…`);
      }
    }
  }
  return found;
}

test('no access token, signature, security token or secret key in errors, console, checkpoints or the request log', { timeout: 240_000 }, async () => {
  const secrets = secretJar();
  secrets.add('secret key', env.ready.librarySecret);
  secrets.add('secret key', env.ready.secretKey);
  const wire = [];
  const context = env.page.context();
  const pending = [];
  const onRequest = request => {
    wire.push(request.url());
    secrets.fromUrl(request.url());
    pending.push(request.allHeaders().then(h => {
      secrets.fromHeaders(h);
      wire.push(JSON.stringify(h));
    }, () => {}));
  };
  const onResponse = response => {
    const url = response.url();
    if (!/\/token$|\/api\/v1\//.test(new URL(url).pathname)) return;
    pending.push(response.json().then(body => {
      secrets.add('access token', body?.accessToken);
      secrets.fromHeaders(body?.headers);
      wire.push(JSON.stringify(body));
    }, () => {}));
  };
  context.on('request', onRequest);
  context.on('response', onResponse);
  const errors = [];
  const checkpoints = [];
  try {
    // Runs one upload in the page; `pokes` are [bytes, dev hook] fired as progress passes them.
    // localStorage is sampled on every progress report.
    const run = async (c, { clientOptions = SMALL, uploadOptions = {}, pokes = [], fixedToken = false, expireFirst = false } = {}) => {
      await installCheckpointReader(env.page);
      const out = await inPage(env, async ({ c, clientOptions, uploadOptions, pokes, fixedToken, expireFirst }) => {
        const { e2e } = window;
        let tokenCalls = 0;
        const auth = fixedToken ? { accessToken: await e2e.token() } : { getAccessToken: async () => { tokenCalls += 1; return e2e.token(); } };
        if (expireFirst) await e2e.dev('tokens/expire', {});
        const client = await e2e.client({ ...clientOptions, ...auth });
        const samples = new Set();
        const sampling = [];
        const sample = () => sampling.push(window.readCheckpoints().then(list => list.forEach(e => samples.add(`${e.key}=${e.value}`))));
        const todo = [...pokes];
        const fired = [];
        const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, { ...hooks, ...uploadOptions }), 90_000, {
          onProgress: p => {
            sample();
            while (todo.length && p.phase === 'uploading' && p.loaded >= todo[0][0]) {
              const [, hook] = todo.shift();
              fired.push(e2e.dev(hook, {}));
            }
          },
        });
        const record = await w.finished;
        sample();
        await Promise.all([...fired, ...sampling]);
        return { record, tokenCalls, samples: [...samples], pokesLeft: todo.length };
      }, { c, clientOptions, uploadOptions, pokes, fixedToken, expireFirst }, 100_000);
      checkpoints.push(...out.samples.map(s => [`checkpoint during ${c.path}`, s]));
      if (out.record.error) errors.push([`error of ${c.path}`, JSON.stringify(out.record.error)]);
      return out;
    };

    // Token refresh and renewal mid-upload (parts slowed so both land while it runs).
    await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms: 150 } });
    const refreshed = await run({ path: 'secrets/refresh-renew.bin', size: 6 * MIB + 1, seed: 1201 }, { pokes: [[1 * MIB, 'tokens/expire'], [3 * MIB, 'uploads/expire']] });
    assert.equal(refreshed.record.error, undefined, explain(refreshed.record, env));
    assert.equal(refreshed.pokesLeft, 0, 'both expiries happened mid-upload');
    assert.ok(refreshed.tokenCalls >= 2, `getAccessToken called again: ${refreshed.tokenCalls}`);
    await env.dev.del('faults');

    // Faults that are retried: every cos fault once, a lost confirm reply, an SMH 503.
    await env.dev.faults([
      ...['reset', 'dropReply', 'badCrc', 'expired'].map(type => ({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1, action: { type } })),
      { origin: 'cos', method: 'PUT', query: 'partNumber', times: 1, action: { type: 'stall', ms: 5000 } },
      { origin: 'smh', query: 'confirm', times: 1, action: { type: 'dropReply' } },
      { origin: 'smh', query: 'filesize', times: 1, action: { type: 'status', status: 503 } },
    ]);
    const faulted = await run({ path: 'secrets/faults.bin', size: 5 * MIB + 3, seed: 1202 }, { clientOptions: { ...SMALL, stallTimeout: 1000 } });
    assert.equal(faulted.record.error, undefined, explain(faulted.record, env));
    await env.dev.del('faults');

    // Final errors.
    const expiredToken = await run({ path: 'secrets/expired-token.bin', size: 1000, seed: 1203 }, { fixedToken: true, expireFirst: true });
    assert.equal(expiredToken.record.error?.code, 'InvalidAccessToken', JSON.stringify(expiredToken.record.error));
    await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', skip: 2, times: 1000, action: { type: 'status', status: 500 } });
    const kept = await run({ path: 'secrets/kept-for-resume.bin', size: 4 * MIB, seed: 1204 }, { clientOptions: { ...SMALL, retries: 1 } });
    assert.equal(kept.record.error?.code, 'InternalError', JSON.stringify(kept.record.error));
    assert.ok(kept.samples.some(s => s.startsWith('smh-upload:up:') && s.includes('confirmKey')), `a record was written: ${kept.samples.length} samples`);
    await env.dev.del('faults');
    await env.dev.faults({ origin: 'cos', method: 'PUT', times: 1000, action: { type: 'expired' } });
    const denied = await run({ path: 'secrets/always-expired.bin', size: 3 * MIB, seed: 1205 });
    assert.ok(denied.record.error, 'an upload whose signature is always refused fails');
    await env.dev.del('faults');
    await env.dev.faults({ origin: 'smh', query: 'filesize', times: 1000, action: { type: 'reset' } });
    const lost = await run({ path: 'secrets/smh-unreachable.bin', size: 100, seed: 1209 }, { clientOptions: { ...SMALL, retries: 1 } });
    assert.equal(lost.record.error?.code, 'Network', JSON.stringify(lost.record.error));
    await env.dev.del('faults');
    const notAllowed = await run({ path: 'secrets/not-allowed.bin', size: 100, seed: 1206 }, { clientOptions: { ...SMALL, allowedDomains: ['cos.example.com'] } });
    assert.equal(notAllowed.record.error?.code, 'DomainNotAllowed');
    const ask = await run({ path: 'secrets/refresh-renew.bin', size: 10, seed: 1207 }, { uploadOptions: { conflict: 'ask' } });
    assert.equal(ask.record.error?.code, 'SameNameDirectoryOrFileExists');
    const throwing = await inPage(env, async () => {
      const { e2e } = window;
      const client = await e2e.client();
      const task = client.upload(e2e.blob(10, 1208), 'secrets/throwing-callback.bin', { onStateChange: () => { throw new Error('app bug'); } });
      await task.done();
      return (await client.discardPending()) >= 0;
    });
    assert.ok(throwing);
    // The app revokes a token (SMH's DELETE /api/v1/token/{library}/{token}): the log keeps its path.
    const revoked = await inPage(env, async () => {
      const { e2e } = window;
      const r = e2e.ready;
      const resp = await fetch(`${r.smh}/api/v1/token/${encodeURIComponent(r.libraryId)}/${encodeURIComponent(await e2e.token())}`, { method: 'DELETE' });
      return resp.status;
    });
    assert.ok(revoked < 300, `token deleted: ${revoked}`);
  } finally {
    context.off('request', onRequest);
    context.off('response', onResponse);
  }
  await Promise.all(pending);
  // Clean up what the failed uploads kept for resume (also exercises discardPending's logging).
  await inPage(env, async () => (await window.e2e.client()).discardPending());

  const log = await env.dev.get('log');
  const texts = [
    ...errors,
    ...env.browserConsole.map(line => ['browser console', line]),
    ...checkpoints,
    ...log.map(entry => ['devserver request log', JSON.stringify(entry)]),
    ['devserver stderr', env.devserverLog()],
  ];
  const counts = Object.fromEntries(Object.entries(secrets.jar).map(([k, v]) => [k, v.size]));
  console.log(`secrets: watched ${JSON.stringify(counts)}; searched ${errors.length} errors, ${env.browserConsole.length} console lines, `
    + `${checkpoints.length} checkpoint samples, ${log.length} request-log lines and the devserver's stderr`);
  // The run really produced the secrets the search looks for, and the search finds them where they are.
  assert.ok(counts['access token'] >= 3, `access tokens seen: ${counts['access token']}`);
  assert.ok(counts.signature >= 2, `signatures seen (begin and renew): ${counts.signature}`);
  assert.ok(counts['security token'] >= 1, `security tokens seen: ${counts['security token']}`);
  assert.equal(counts['secret key'], 2, 'librarySecret and secretKey from READY');
  assert.ok(errors.length >= 5 && checkpoints.length >= 3 && log.length >= 50, 'every source has material');
  const onTheWire = leaks(secrets.jar, wire.map(w => ['wire', w]));
  for (const kind of ['access token', 'signature', 'security token']) {
    assert.ok(onTheWire.some(l => l.startsWith(kind)), `the search finds ${kind}s in the raw traffic`);
  }
  assert.deepEqual(leaks(secrets.jar, texts), [], 'secrets written where they must not be');
});
