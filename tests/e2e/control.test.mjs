// pause / resume, cancel and AbortSignal, through the task handle.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertLanded, explain, inPage, MIB, useEnvironment } from './helpers.mjs';

const env = useEnvironment();
const SMALL = { multipartThreshold: 2 * MIB, partSize: 1 * MIB, concurrency: 2 };

/** Slows every part PUT down so that the test can act while the upload runs. */
async function slowParts(ms) {
  await env.dev.faults({ origin: 'cos', method: 'PUT', query: 'partNumber', times: 1000, action: { type: 'delay', ms } });
}

/** How long a test holds an upload paused to see that nothing moves. */
const HOLD_MS = 1000;
/** Slack for a part PUT the browser sent just before the pause to reach the server's log clock. */
const ARRIVAL_SLACK_MS = 250;

/** Byte requests (PUTs) of `log` that reached the cos origin between `fromMs` and `toMs`
 *  (the devserver stamps each request when it arrives; the page's clock is the same machine's). */
const putsBetween = (log, fromMs, toMs) => log.filter(e => e.method === 'PUT' && e.timeMs > fromMs && e.timeMs < toMs);

test('pause → resume: state goes paused, then done; bytes correct', { timeout: 90_000 }, async () => {
  await slowParts(150);
  const c = { path: 'pause.bin', size: 8 * MIB + 5, seed: 300 };
  const mark = await env.dev.logMark();
  const out = await inPage(env, async ({ c, SMALL, HOLD_MS }) => {
    const { e2e } = window;
    const client = await e2e.client(SMALL);
    const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 80_000);
    await e2e.until(() => w.record.progress.some(p => p.phase === 'uploading' && p.loaded >= 1024 * 1024), 30_000, 'the first MiB');
    w.task.pause();
    await e2e.until(() => w.task.state === 'paused', 10_000, "state 'paused'");
    const pausedAt = Date.now();
    const stateWhilePaused = w.task.state;
    const loadedAtPause = w.task.progress.loaded;
    await e2e.sleep(HOLD_MS);
    const loadedAfterHold = w.task.progress.loaded;
    const resumedAt = Date.now();
    w.task.resume();
    const record = await w.finished;
    return { record, stateWhilePaused, loadedAtPause, loadedAfterHold, pausedAt, resumedAt };
  }, { c, SMALL, HOLD_MS });
  const { record } = out;
  await assertLanded(env, record, c);
  assert.equal(out.stateWhilePaused, 'paused');
  // Done: every part PUT the page sent has been answered and logged with its arrival time.
  const log = await env.dev.logSince(mark, 'cos');
  assert.ok(log.some(e => e.op === 'UploadPart' && e.timeMs > out.resumedAt), 'parts went out after the resume');
  assert.deepEqual(putsBetween(log, out.pausedAt + ARRIVAL_SLACK_MS, out.resumedAt), [], 'no part PUT while paused');
  assert.equal(out.loadedAfterHold, out.loadedAtPause, 'no progress while paused');
  const paused = record.states.indexOf('paused');
  assert.ok(paused >= 0, `states: ${record.states}`);
  assert.ok(record.states.slice(paused + 1).includes('uploading'), `uploading again after paused: ${record.states}`);
  assert.equal(record.states.at(-1), 'done', `states: ${record.states}`);
});

test('pause before any byte is sent, then resume', { timeout: 60_000 }, async () => {
  const c = { path: 'pause-early.bin', size: 3 * MIB + 1, seed: 301 };
  const mark = await env.dev.logMark();
  const out = await inPage(env, async ({ c, SMALL, HOLD_MS }) => {
    const { e2e } = window;
    const client = await e2e.client(SMALL);
    const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 50_000);
    w.task.pause();
    await e2e.until(() => w.task.state === 'paused', 10_000, "state 'paused'");
    // Held paused for a while: nothing may go out meanwhile.
    await e2e.sleep(HOLD_MS);
    const whilePaused = { state: w.task.state, loaded: w.task.progress.loaded };
    const resumedAt = Date.now();
    w.task.resume();
    return { record: await w.finished, whilePaused, resumedAt };
  }, { c, SMALL, HOLD_MS });
  const { record, whilePaused } = out;
  assert.equal(whilePaused.state, 'paused', `states: ${record.states}`);
  assert.equal(whilePaused.loaded, 0, 'no byte counted while paused');
  // Done: every PUT the page sent has been answered and logged with its arrival time.
  const log = await env.dev.logSince(mark, 'cos');
  assert.ok(log.some(e => e.method === 'PUT'), 'the parts were sent after the resume');
  assert.deepEqual(putsBetween(log, 0, out.resumedAt), [], 'no PUT reached the cos origin while paused');
  const paused = record.states.indexOf('paused');
  assert.ok(paused >= 0 && paused < record.states.indexOf('uploading'), `paused before uploading: ${record.states}`);
  await assertLanded(env, record, c);
});

async function cancelled(record, path) {
  assert.ok(record.error, `the upload should fail\n${explain(record, env)}`);
  assert.equal(record.error.name, 'SmhUploadError');
  assert.equal(record.error.code, 'Aborted', explain(record, env));
  assert.equal(record.finalState, 'cancelled');
  assert.equal(record.states.at(-1), 'cancelled', `states: ${record.states}`);
  assert.deepEqual(await env.dev.uploads(), { smh: [], cos: [] }, 'no upload left open');
  assert.equal(await env.dev.objectAt(path), undefined, `no file at ${path}`);
}

const CANCELS = [
  ['cancel mid-upload: done() rejects Aborted, state cancelled, nothing left open', 'cancel'],
  ['cancel through an AbortSignal', 'signal'],
  ['cancel while paused', 'paused'],
];

CANCELS.forEach(([name, how], i) => {
  test(name, { timeout: 60_000 }, async () => {
    await slowParts(200);
    const c = { path: `cancel-${how}.bin`, size: 8 * MIB, seed: 310 + i };
    const record = await inPage(env, async ({ c, SMALL, how }) => {
      const { e2e } = window;
      const client = await e2e.client(SMALL);
      const controller = new AbortController();
      const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, { ...hooks, signal: controller.signal }), 50_000);
      await e2e.until(() => w.record.progress.some(p => p.phase === 'uploading' && p.loaded > 0), 30_000, 'upload progress');
      if (how === 'signal') {
        controller.abort();
      } else {
        if (how === 'paused') {
          w.task.pause();
          await e2e.until(() => w.task.state === 'paused', 10_000, "state 'paused'");
        }
        w.task.cancel();
      }
      return w.finished;
    }, { c, SMALL, how }, 20_000);
    await cancelled(record, c.path);
  });
});

test('cancel a simple upload in flight', { timeout: 60_000 }, async () => {
  const holdMs = 3000;
  await env.dev.faults({ origin: 'cos', method: 'PUT', times: 10, action: { type: 'delay', ms: holdMs } });
  const c = { path: 'cancel-simple.bin', size: 100_000, seed: 313 };
  const mark = await env.dev.logMark();
  const out = await inPage(env, async ({ c }) => {
    const { e2e } = window;
    const client = await e2e.client();
    const w = e2e.watch(hooks => client.upload(e2e.blob(c.size, c.seed), c.path, hooks), 50_000);
    // In flight: the PUT's bytes are going out (the server holds its answer).
    await e2e.until(() => w.record.progress.some(p => p.phase === 'uploading' && p.loaded > 0), 10_000, 'bytes of the PUT sent');
    const cancelledAt = performance.now();
    w.task.cancel();
    const record = await w.finished;
    return { record, settledMs: performance.now() - cancelledAt };
  }, { c }, 20_000);
  await cancelled(out.record, c.path);
  // Settled by aborting the PUT, not by waiting for the server's answer.
  assert.ok(out.settledMs < holdMs, `done() settled ${out.settledMs.toFixed(0)} ms after cancel(), before the held PUT (${holdMs} ms) could answer`);
  // The server logs the abandoned PUT once it gives up on it (after holding it, at the latest).
  const deadline = Date.now() + holdMs + 10_000;
  let puts = [];
  while (!puts.length) {
    assert.ok(Date.now() < deadline, 'the devserver logged the abandoned PUT');
    await new Promise(resolve => setTimeout(resolve, 100));
    puts = (await env.dev.logSince(mark, 'cos')).filter(e => e.op === 'PutObject');
  }
  assert.ok(puts.every(e => e.status !== 200), `the PUT was abandoned, not answered: ${JSON.stringify(puts)}`);
});
