// Page side of the upload Worker (src/platform/browser/worker.rs explains the design).
// wasm-bindgen copies this file to pkg/snippets/<crate>-<hash>/src/platform/browser/; the Worker
// script is pkg/smh_upload_worker.js, five folders up (the package build inlines this file into
// each entry's glue, in pkg/, and rebases the URL: xtask/src/snippets.rs). The `new Worker(new
// URL(…, import.meta.url), {type: 'module'})` expression below is the form Vite and webpack 5
// detect and bundle; keep it literal.

/** Name of the error every call rejects with once the Worker cannot be used: the caller then
 *  computes in the page. Any other rejection is a failed read of the file. */
const UNAVAILABLE = 'SmhWorkerUnavailable';
/** How long a new Worker may take to load its script and instantiate the wasm. */
const READY_TIMEOUT_MS = 10_000;
/** Largest chained hash computed in the page, by WebCrypto, while the Worker is still starting:
 *  one quick-upload block (docs/smh-api.md §5.8) without a previous hash, i.e. the SHA-256 of the
 *  file's first MiB (quick upload's beginning hash, the record key of a Blob). It comes before an
 *  upload's first request, and WebCrypto hashes one MiB in a few ms, off the main thread, where a
 *  new Worker takes tens of ms to instantiate the wasm. Larger requests (the full hash, the
 *  parts' CRC-64) wait for the Worker: they are long and it keeps the main thread free. */
const PAGE_WHILE_STARTING = 1024 * 1024;

let worker = null; // the Worker shared by every upload of the page, created by the first client
let ready = false; // whether the Worker said it instantiated the wasm
let unavailable = null; // why the Worker cannot be used, once known (then it is never retried)
let scriptUrl = null; // a Worker script URL set by the browser tests (the package has its own)
let nextId = 1;
let replies = 0; // answers the Worker gave (the tests check an upload used it)
const pending = new Map(); // request id → {resolve, reject}

function unavailableError(reason) {
  return Object.assign(new Error(`the upload Worker is unavailable: ${reason}`), { name: UNAVAILABLE });
}

/** Gives up on the Worker: pending and later requests reject with UNAVAILABLE. */
function fail(reason) {
  if (unavailable) return;
  unavailable = reason;
  if (worker) worker.terminate();
  worker = null;
  for (const { reject } of pending.values()) reject(unavailableError(reason));
  pending.clear();
}

function start(module) {
  if (typeof Worker === 'undefined') return fail('this environment has no Worker');
  if (!(module instanceof WebAssembly.Module)) return fail('the wasm module is not known');
  try {
    worker = scriptUrl
      ? new Worker(scriptUrl, { type: 'module', name: 'smh-upload' })
      : new Worker(new URL('../../../../../smh_upload_worker.js', import.meta.url), { type: 'module', name: 'smh-upload' });
  } catch (e) {
    // A Content-Security-Policy without worker-src for the script's origin, or no module workers.
    return fail(`cannot start it (${e && e.message})`);
  }
  // Only this Worker: the browser tests replace a Worker that never gets ready.
  const started = worker;
  const timer = setTimeout(() => worker === started && fail('it did not start in time'), READY_TIMEOUT_MS);
  worker.onerror = event => {
    event.preventDefault();
    fail(`it failed to load or crashed (${event.message || 'no detail'})`);
  };
  worker.onmessageerror = () => fail('a reply could not be read');
  worker.onmessage = ({ data }) => {
    if (data.ready) {
      ready = true;
      return clearTimeout(timer);
    }
    if (data.failed) return fail(data.failed);
    const request = pending.get(data.id);
    if (!request) return;
    pending.delete(data.id);
    replies++;
    if (data.error) request.reject(Object.assign(new Error(data.error.message), { name: data.error.name }));
    else request.resolve(data.value);
  };
  worker.postMessage({ module });
}

/** Sends one request; resolves with the Worker's value. */
function call(module, message) {
  if (!worker && !unavailable) start(module);
  if (unavailable) return Promise.reject(unavailableError(unavailable));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, ...message });
  });
}

/** Whether `error` (a rejection of the calls below) means "compute in the page". */
export function smhWorkerUnavailable(error) {
  return error instanceof Error && error.name === UNAVAILABLE;
}

/** Starts the Worker (a client was made: an upload is likely to follow), unless it runs or cannot. */
export function smhWorkerStart(module) {
  if (!worker && !unavailable) start(module);
}

/** CRC-64/XZ of `blob` as a decimal string. */
export function smhWorkerCrc64(module, blob) {
  return call(module, { op: 'crc64', blob });
}

/** Chained SHA-256 (docs/smh-api.md §5.8) of `blob` after `previous` (32 bytes or undefined);
 *  `via`: 0 'auto' (WebCrypto where present; the first block by WebCrypto in the page while the
 *  Worker starts), 1 'worker' (the same, always in the Worker) or 2 'js' (JavaScript's SHA-256, in
 *  the Worker). Resolves with a Uint8Array(32).
 *  `source` (a number naming one file of the page, 0 for none) and `start` (where `blob` starts
 *  in it) name `blob`'s bytes; `next`, if any, is the blob the following request will hash (the
 *  bytes after `blob`'s in the same file): the Worker starts reading it early. */
export function smhWorkerChainHash(module, blob, previous, via, source, start, next) {
  via = ['auto', 'worker', 'js'][via];
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (via === 'auto' && !ready && !previous && subtle && blob.size > 0 && blob.size <= PAGE_WHILE_STARTING) {
    smhWorkerStart(module);
    return blob.arrayBuffer().then(bytes => {
      if (bytes.byteLength !== blob.size) {
        const message = `read ${bytes.byteLength} bytes, expected ${blob.size}; the file changed`;
        throw Object.assign(new Error(message), { name: 'NotReadableError' });
      }
      return subtle.digest('SHA-256', bytes).then(digest => new Uint8Array(digest));
    });
  }
  // A range of bytes of one file: what a read ahead is kept for.
  const range = (from, size) => (source ? `${source}:${from}-${from + size}` : null);
  const key = range(start, blob.size);
  const nextKey = next ? range(start + blob.size, next.size) : null;
  return call(module, { op: 'chain', blob, previous: previous ?? null, via, key, next: next ?? null, nextKey });
}

/** Bytes of wasm memory in the Worker (to check that it stays flat). */
export function smhWorkerMemory(module) {
  return call(module, { op: 'memory' });
}

/** How many requests the Worker has answered on this page. */
export function smhWorkerReplies() {
  return replies;
}

/** Browser tests only: the Worker script to use instead of the package's; resets the Worker. */
export function smhWorkerUseScript(url) {
  if (worker) worker.terminate();
  for (const { reject } of pending.values()) reject(unavailableError('the Worker was replaced'));
  pending.clear();
  worker = null;
  ready = false;
  unavailable = null;
  scriptUrl = url;
}
