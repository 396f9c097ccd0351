// A panic in the package's wasm is a trap at once (built with `panic=immediate-abort`,
// xtask/src/pkg.rs): the instance is dead. The JS layer (`smh$guard`, src/bindings/js/api.js)
// must notice wherever the trap happens — in a call of the page or in a callback the glue runs
// (an XHR event, a promise continuation) — reject every running task with `InternalError`
// (state 'failed') instead of leaving it hanging, and refuse later calls with that error.
//
// The traps are real ones: `__wbindgen_malloc` asked for more than a wasm32 address space holds
// aborts in Rust (wasm-bindgen's `malloc_failure`), which this build turns into `unreachable`.
// Each test kills the page's instance, so each ends by replacing the page.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { explain, inPage, useEnvironment } from './helpers.mjs';

const env = useEnvironment();

afterEach(async () => {
  await env.replacePage();
});

/** Page-side helpers, as source: defined in each `inPage` call (they cannot cross as functions). */
const PAGE_HELPERS = `
  const errorData = e => (e instanceof Error ? { name: e.name, code: e.code, message: e.message } : { thrown: String(e) });
  /** The package's wasm exports as its glue keeps them (init() gives them once loaded). */
  const exports = await (await import('/pkg/smh_upload.js')).default();
  /** A real trap: an allocation larger than the address space aborts, and the abort traps. */
  const trap = () => exports.__wbindgen_malloc(0xfffffff0, 8);
  /** How task ends: done()'s rejection (or result), bounded. */
  const ending = task => Promise.race([
    task.done().then(r => ({ result: r }), e => ({ error: errorData(e) })),
    new Promise(r => setTimeout(() => r({ hanging: true }), 15000)),
  ]);
  const stateOf = task => { try { return task.state; } catch (e) { return errorData(e); } };
`;

function assertInternal(error, what, record) {
  assert.equal(error?.name, 'SmhUploadError', `${what}: ${JSON.stringify(record)}`);
  assert.equal(error.code, 'InternalError', `${what}: ${JSON.stringify(record)}`);
  assert.match(error.message, /^smh-upload stopped on an internal error: /, what);
}

test('a trap during a call into the wasm rejects every running task with InternalError; later calls throw it', { timeout: 60_000 }, async () => {
  // Keep both uploads in flight: the cos origin delays their PUTs.
  await env.dev.faults({ origin: 'cos', method: 'PUT', path: '*', times: 2, action: { type: 'delay', ms: 5000 } });
  const record = await inPage(env, new Function(`return (async () => {${PAGE_HELPERS}
    const client = await window.e2e.client();
    const tasks = [1, 2].map(n => client.upload(window.e2e.blob(100000 + n, n), 'panic/call-' + n + '.bin'));
    const started = Date.now();
    while (!tasks.every(t => t.state === 'uploading') && Date.now() - started < 10000) await new Promise(r => setTimeout(r, 50));
    const before = tasks.map(t => t.state);
    let thrown;
    try { trap(); } catch (e) { thrown = errorData(e); }
    const ends = await Promise.all(tasks.map(ending));
    const after = tasks.map(stateOf);
    let uploadAgain, pause;
    try { client.upload(window.e2e.blob(10, 3), 'panic/again.bin'); } catch (e) { uploadAgain = errorData(e); }
    try { tasks[0].pause(); } catch (e) { pause = errorData(e); }
    return { before, thrown, ends, after, uploadAgain, pause };
  })()`), undefined, 30_000);
  assert.deepEqual(record.before, ['uploading', 'uploading'], `both uploads running before the trap\n${explain(record, env)}`);
  assertInternal(record.thrown, 'the trapping call throws InternalError', record);
  for (const end of record.ends) assertInternal(end.error, 'each running task rejects', record);
  assert.deepEqual(record.after, ['failed', 'failed'], JSON.stringify(record));
  assertInternal(record.uploadAgain, 'a later upload() is refused', record);
  assertInternal(record.pause, "a later call of a task's method is refused", record);
  assert.ok(env.browserConsole.some(l => l.includes('smh-upload stopped on an internal error')), 'the console says why');
});

test('a trap while the wasm handles an XHR event (no call of the page on the stack) rejects the running task', { timeout: 60_000 }, async () => {
  const record = await inPage(env, new Function(`return (async () => {${PAGE_HELPERS}
    const client = await window.e2e.client();
    // The wasm asks for an XHR's response headers (smhHeaders in src/platform/browser/adapters.js) in its handling of a
    // finished request: the first ask after the upload started traps, inside the wasm's callback.
    const headers = XMLHttpRequest.prototype.getAllResponseHeaders;
    let armed = false;
    let trappedIn = null;
    XMLHttpRequest.prototype.getAllResponseHeaders = function () {
      if (armed) {
        armed = false;
        trappedIn = { readyState: this.readyState, stack: new Error().stack };
        trap();
      }
      return headers.call(this);
    };
    const states = [];
    const task = client.upload(window.e2e.blob(50000, 7), 'panic/event.bin', { onStateChange: s => states.push(s) });
    armed = true;
    const end = await ending(task);
    XMLHttpRequest.prototype.getAllResponseHeaders = headers;
    return { end, state: stateOf(task), states, trappedIn };
  })()`), undefined, 30_000);
  assert.ok(record.trappedIn, `the trap fired in an XHR's getAllResponseHeaders()\n${explain(record, env)}`);
  assert.equal(record.trappedIn.readyState, 4, 'in the handling of a finished request');
  assert.match(record.trappedIn.stack, /wasm-function/, 'with the wasm on the stack: inside its callback');
  assertInternal(record.end.error, 'the running task rejects', record);
  assert.equal(record.state, 'failed', JSON.stringify(record));
});

test("wasm-bindgen's own errors (a freed task used) are no trap: other uploads go on and the instance keeps working", { timeout: 60_000 }, async () => {
  await env.dev.faults({ origin: 'cos', method: 'PUT', path: '*', times: 1, action: { type: 'delay', ms: 1500 } });
  const record = await inPage(env, new Function(`return (async () => {${PAGE_HELPERS}
    const client = await window.e2e.client();
    const running = client.upload(window.e2e.blob(70000, 8), 'panic/running.bin');
    const freed = client.upload(window.e2e.blob(10, 9), 'panic/freed.bin');
    freed.cancel();
    await ending(freed);
    freed.free();
    let thrown;
    try { freed.pause(); } catch (e) { thrown = errorData(e); }
    const end = await ending(running);
    const after = await ending(client.upload(window.e2e.blob(20, 10), 'panic/after.bin'));
    return { thrown, end, after, state: stateOf(running) };
  })()`), undefined, 30_000);
  assert.ok(record.thrown && record.thrown.code === undefined, `wasm-bindgen's error, not an InternalError: ${JSON.stringify(record)}`);
  assert.equal(record.end.result?.path, 'panic/running.bin', `the running upload completes\n${explain(record, env)}`);
  assert.equal(record.state, 'done');
  assert.equal(record.after.result?.path, 'panic/after.bin', 'a later upload works');
});
