// The fault soak: 120 uploads of mixed sizes (0 B … 12 MiB, about 425 MiB in all, most of them
// multipart with 1–2 MiB parts) through the public JS API in Chromium, six at a time over three
// clients, while the devserver fails about 10 % of the cos PUTs in every way it knows (500,
// 503 SlowDown, reset, stall, expired signature → renew, wrong CRC, lost reply) and some SMH
// calls (lost begin and confirm replies, 503s, an expired token → getAccessToken again, every
// token expired once). Faults are deterministic: seeded rates on the cos side, per-file and
// every-Nth rules on SMH. (Chromium itself re-sends a request whose reply was lost on a reused
// connection, so many lost replies never reach the SDK; the server still sees both requests.)
//
// Checked against the devserver, never the SDK's own report: every file byte-identical, no other
// file visible, nothing left open but the one empty task of each lost begin reply, and every
// cos PUT beyond the parts needed accounted for by a fault that fired.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { byteRequests, inPage, KIB, MIB, useEnvironment } from './helpers.mjs';
import { checkpointEntries, cosBytesIn, writeDeterministicFile } from './reliability.mjs';

const env = useEnvironment();
const UPLOADS = 120;
const AT_ONCE = 6;
const DIR = 'soak';
const STALL_TIMEOUT_MS = 2500;
/** How long a stalled PUT is held by the server (the SDK gives up after STALL_TIMEOUT_MS). */
const STALL_MS = 6000;
/** The three clients; each file goes to client `i % 3`. */
const CLIENTS = [
  { partSize: 1 * MIB, multipartThreshold: 1 * MIB, concurrency: 3, stallTimeout: STALL_TIMEOUT_MS },
  { partSize: 2 * MIB, multipartThreshold: 3 * MIB, concurrency: 4, stallTimeout: STALL_TIMEOUT_MS },
  { partSize: 1 * MIB, multipartThreshold: 4 * MIB, concurrency: 2, stallTimeout: STALL_TIMEOUT_MS },
];
/** Upload number at whose start the page expires every access token (`/_dev/tokens/expire`). */
const EXPIRE_ALL_TOKENS_AT = 40;

/** The files live on disk and reach the page through a file input, as a user's would
 *  (hundreds of MiB of in-memory Blobs are unreliable in headless Chromium, docs/design.md §6). */
const DISK = mkdtempSync(join(tmpdir(), 'smh-e2e-soak-'));
after(() => rmSync(DISK, { recursive: true, force: true }));

/** mulberry32: a small seeded PRNG, so the file list is the same in every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The uploads: `{i, path, size, seed, client, parts}` (`parts`: PUTs the plan needs). */
function fileList() {
  const random = prng(20261129);
  return Array.from({ length: UPLOADS }, (_, i) => {
    const client = i % 3;
    const { partSize, multipartThreshold } = CLIENTS[client];
    let size;
    const kind = i % 10;
    if (i === 0) size = 0;
    else if (kind === 0) size = 1 + Math.floor(random() * 2 * KIB);
    else if (kind <= 2) size = Math.floor(random() * Math.min(multipartThreshold, 900 * KIB));
    else if (kind <= 5) size = multipartThreshold + 1 + Math.floor(random() ** 2 * (12 * MIB - multipartThreshold - 1));
    else size = multipartThreshold + 1 + Math.floor(random() * 3 * MIB);
    const parts = size > multipartThreshold ? Math.ceil(size / partSize) : 1;
    const name = `f${String(i).padStart(3, '0')}-${size}.bin`;
    return { i, name, path: `${DIR}/${name}`, size, seed: 5000 + i, client, parts };
  });
}

/** Files whose begin is faulted once by path (disjoint sets). */
const LOST_BEGIN = i => i % 13 === 4;
const EXPIRED_BEGIN = i => !LOST_BEGIN(i) && i % 17 === 9;
const BUSY_BEGIN = i => !LOST_BEGIN(i) && !EXPIRED_BEGIN(i) && i % 11 === 6;

function faultRules(files) {
  const beginOf = f => ({ origin: 'smh', query: 'filesize', path: `/${DIR}/f${String(f.i).padStart(3, '0')}-` });
  const perFile = (pick, action, times, kind) => files.filter(f => pick(f.i)).map(f => ({ ...beginOf(f), times, action, kind }));
  const cosPut = { origin: 'cos', method: 'PUT', times: 100_000 };
  return [
    // cos: a cascade over every PutObject/UploadPart, about 10 % in all.
    { ...cosPut, rate: 0.02, seed: 101, action: { type: 'status', status: 500, code: 'InternalError' }, kind: 'cos 500' },
    { ...cosPut, rate: 0.015, seed: 102, action: { type: 'status', status: 503, code: 'SlowDown' }, kind: 'cos 503 SlowDown' },
    { ...cosPut, rate: 0.015, seed: 103, action: { type: 'reset' }, kind: 'cos reset' },
    { ...cosPut, rate: 0.01, seed: 104, action: { type: 'stall', ms: STALL_MS }, kind: 'cos stall' },
    { ...cosPut, rate: 0.015, seed: 105, action: { type: 'expired' }, kind: 'cos expired signature' },
    { ...cosPut, rate: 0.015, seed: 106, action: { type: 'badCrc' }, kind: 'cos badCrc' },
    { ...cosPut, rate: 0.015, seed: 107, action: { type: 'dropReply' }, kind: 'cos dropReply' },
    // smh: begins of chosen files, every Nth confirm and renew.
    ...perFile(LOST_BEGIN, { type: 'dropReply' }, 1, 'smh begin dropReply'),
    ...perFile(EXPIRED_BEGIN, { type: 'expired' }, 1, 'smh begin expired token'),
    ...perFile(BUSY_BEGIN, { type: 'status', status: 503 }, 2, 'smh begin 503'),
    { origin: 'smh', query: 'confirm', every: 9, times: 100_000, action: { type: 'dropReply' }, kind: 'smh confirm dropReply' },
    { origin: 'smh', query: 'confirm', every: 7, times: 100_000, action: { type: 'status', status: 503 }, kind: 'smh confirm 503' },
    { origin: 'smh', query: 'renew', every: 3, times: 100_000, action: { type: 'status', status: 503 }, kind: 'smh renew 503' },
  ];
}

test(`fault soak: ${UPLOADS} uploads under ~10 % injected failures all land byte-identical, nothing else left`, { timeout: 420_000 }, async () => {
  const files = fileList();
  const shas = new Map(files.map(f => [f.path, writeDeterministicFile(join(DISK, f.name), f.size, f.seed)]));
  await inPage(env, () => {
    const input = Object.assign(document.createElement('input'), { type: 'file', multiple: true, id: 'soak-files' });
    document.body.append(input);
  });
  await env.page.setInputFiles('#soak-files', files.map(f => join(DISK, f.name)));
  const rules = faultRules(files);
  await inPage(env, dir => window.e2e.mkdir(dir), DIR);
  const installed = (await env.dev.faults(rules.map(({ kind, ...rule }) => rule))).rules;
  assert.equal(installed.length, rules.length);
  const firstId = installed[0].id;
  const mark = await env.dev.logMark();
  const started = Date.now();

  const out = await inPage(env, async ({ files, clients, atOnce, expireAt }) => {
    const { e2e } = window;
    const tokenCalls = clients.map(() => 0);
    const made = await Promise.all(clients.map((options, k) => e2e.client({ ...options, getAccessToken: async () => { tokenCalls[k] += 1; return e2e.token(); } })));
    const picked = new Map([...document.getElementById('soak-files').files].map(file => [file.name, file]));
    const records = new Array(files.length);
    const warnings = [];
    let next = 0;
    let expired = null;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++];
        if (f.i === expireAt) expired = await e2e.dev('tokens/expire', {});
        const w = e2e.watch(hooks => made[f.client].upload(picked.get(f.name), f.path, { ...hooks, onWarning: x => warnings.push(x.code) }), 150_000);
        const r = await w.finished;
        records[f.i] = { error: r.error, finalState: r.finalState, states: r.states.join(','), path: r.result?.path, size: r.result?.size };
      }
    };
    await Promise.all(Array.from({ length: atOnce }, worker));
    return { records, tokenCalls, warnings, expired };
  }, { files, clients: CLIENTS, atOnce: AT_ONCE, expireAt: EXPIRE_ALL_TOKENS_AT }, 400_000);
  const seconds = (Date.now() - started) / 1000;

  // Every upload succeeded, through the API's own report first.
  const failed = out.records.map((r, i) => [files[i].path, r]).filter(([, r]) => r.error || r.finalState !== 'done');
  assert.deepEqual(failed, [], 'uploads that did not end done');
  for (const f of files) assert.equal(out.records[f.i].path.replace(/^\/+/, ''), f.path, `result.path of ${f.path}`);

  // Byte-identical, and no partial or duplicate file visible: the soak directory holds exactly these.
  const objects = (await env.dev.objects()).filter(o => (o.smhPath ?? '').replace(/^\/+/, '').startsWith(`${DIR}/`));
  const byPath = new Map(objects.map(o => [o.smhPath.replace(/^\/+/, ''), o]));
  assert.equal(objects.length, files.length, `files visible under ${DIR}/: ${objects.map(o => o.smhPath).filter(p => !files.some(f => f.path === p.replace(/^\/+/, ''))).join(', ')}`);
  for (const f of files) {
    const o = byPath.get(f.path);
    assert.ok(o, `no file at ${f.path}`);
    assert.equal(o.size, f.size, `size of ${f.path}`);
    assert.equal(o.sha256, shas.get(f.path), `bytes of ${f.path}`);
  }

  // Faults fired, per kind.
  const fired = (await env.dev.get('faults')).rules.filter(r => r.id >= firstId);
  const byKind = new Map();
  rules.forEach((rule, k) => byKind.set(rule.kind, (byKind.get(rule.kind) ?? 0) + fired[k].fired));
  for (const [kind, n] of byKind) assert.ok(n > 0, `fault kind "${kind}" never fired`);
  const perFileKinds = ['smh begin dropReply', 'smh begin expired token'];
  for (const kind of perFileKinds) assert.equal(byKind.get(kind), rules.filter(r => r.kind === kind).length, `${kind}: once per chosen file`);
  assert.equal(byKind.get('smh begin 503'), 2 * rules.filter(r => r.kind === 'smh begin 503').length);
  const cosFired = rules.reduce((n, r, k) => n + (r.origin === 'cos' ? fired[k].fired : 0), 0);
  const lostBegins = byKind.get('smh begin dropReply');

  // Nothing open on the server but the task of each lost begin reply, and those hold no byte.
  const open = await env.dev.uploads();
  assert.equal(open.smh.length, lostBegins, `open SMH uploads = lost begin replies (${lostBegins}): ${JSON.stringify(open.smh)}`);
  const stored = await env.dev.objects();
  for (const task of open.smh) {
    assert.ok(files.some(f => LOST_BEGIN(f.i) && f.path === task.path.replace(/^\/+/, '')), `an open task not of a lost begin: ${JSON.stringify(task)}`);
    const cos = open.cos.filter(u => u.key === task.key);
    assert.ok(cos.every(u => u.parts === 0), `the orphan ${task.path} holds parts: ${JSON.stringify(cos)}`);
    assert.ok(!stored.some(o => o.key === task.key), `the orphan ${task.path} holds an object`);
  }
  assert.equal(open.cos.length, open.smh.filter(t => t.kind === 'multipart').length, `COS uploads open: ${JSON.stringify(open.cos)}`);
  assert.deepEqual(await checkpointEntries(env.page), [], 'no checkpoint record left behind');

  // Retries bounded: every cos PUT beyond the parts needed was caused by a fault that fired.
  // (A stalled PUT is logged when the server lets go of it, up to the stall's length after.)
  let log = await env.dev.logSince(mark);
  for (let waited = 0; byteRequests(log).filter(e => e.fault).length < cosFired && waited < STALL_MS + 2000; waited += 250) {
    await new Promise(resolve => setTimeout(resolve, 250));
    log = await env.dev.logSince(mark);
  }
  const puts = byteRequests(log);
  const needed = files.reduce((n, f) => n + f.parts, 0);
  const clean = puts.filter(e => !e.fault);
  const unexplained = clean.filter(e => e.status !== 200);
  assert.deepEqual(unexplained, [], 'cos PUTs that failed without an injected fault');
  assert.equal(puts.filter(e => e.fault).length, cosFired, 'faulted cos PUTs = cos faults fired');
  assert.equal(clean.length, needed, `clean cos PUTs = parts needed (${needed}): a part sent again without a cause is a wasted retry`);
  const smhCalls = log.filter(e => e.origin === 'smh');
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const twice = cosBytesIn(log) - bytes;
  const tokenCalls = out.tokenCalls.reduce((a, b) => a + b, 0);
  assert.ok(out.expired?.expired >= 1, `tokens expired mid-run: ${JSON.stringify(out.expired)}`);
  // One initial token per client, one refresh per client after the mass expiry, one per faulted begin at most.
  assert.ok(tokenCalls >= CLIENTS.length + 1, `getAccessToken called again after expiry: ${out.tokenCalls}`);
  assert.ok(tokenCalls <= 2 * CLIENTS.length + byKind.get('smh begin expired token') + AT_ONCE, `getAccessToken calls bounded: ${out.tokenCalls}`);

  const kinds = [...byKind].map(([k, n]) => `${k} ${n}`).join(', ');
  console.log(`soak: ${files.length} uploads (${(bytes / MIB).toFixed(1)} MiB, ${files.filter(f => f.parts > 1 || f.size > CLIENTS[f.client].multipartThreshold).length} multipart, ${needed} parts) in ${seconds.toFixed(1)} s, ${AT_ONCE} at a time`);
  console.log(`soak: faults fired ${cosFired + [...byKind].filter(([k]) => k.startsWith('smh')).reduce((n, [, c]) => n + c, 0)}: ${kinds}; tokens expired once mid-run`);
  console.log(`soak: cos PUTs ${puts.length} = ${needed} needed + ${puts.length - needed} retries (${(100 * cosFired / puts.length).toFixed(1)} % faulted); `
    + `smh calls ${smhCalls.length}; getAccessToken calls ${tokenCalls}; bytes sent twice ${(twice / MIB).toFixed(2)} MiB; `
    + `open after: ${open.smh.length} empty task(s) of lost begin replies; warnings: ${out.warnings.length}`);
});
