// The JavaScript half of the browser adapters (src/platform/browser/*.rs), inlined into each
// entry's glue by the package build (xtask/src/snippets.rs): event handlers, callbacks and type
// checks written here cost far less wasm than the closures and checks they replace.
//
// One file on purpose, not one per adapter: under `cargo xtask test` wasm-bindgen-test-runner
// serves each snippet file as a module of its own, all fetched at once, and its server (tiny_http
// 0.12) can leave a new connection queued behind kept-alive ones when more than four open at
// once. That request is never answered and the test page never loads (chromedriver: "Timed out
// receiving message from renderer"). The browser stage counts the files (xtask/src/test.rs,
// `check_snippet_modules`).

// ---- Values the wasm reads (mod.rs)

/** A copy of the bytes of an ArrayBuffer or a Uint8Array (undefined for anything else). */
export function smhBytes(value) {
  if (value instanceof ArrayBuffer || value instanceof Uint8Array) return new Uint8Array(value);
}

/** The message of a thrown value: an Error's, a string itself, else a placeholder. */
export function smhMessage(value) {
  if (value instanceof Error) return value.message;
  return typeof value === 'string' ? value : 'unknown JavaScript error';
}

// ---- File reads (blob.rs)

/** The bytes of `blob` from `start` to `end`: a promise of an ArrayBuffer, rejected when the
 *  slice or the read fails. */
export function smhRead(blob, start, end) {
  return new Promise(resolve => resolve(blob.slice(start, end).arrayBuffer()));
}

// ---- JSON reader (json.rs): the browser's `JSON.parse`, so that the wasm carries no reader of
// its own (src/json.rs keeps one for the mini-program and native builds).
//
// It must read what src/json.rs's reader reads, and refuse what it refuses, with one exception
// (lone surrogates in `\u` escapes are accepted; they reach Rust as U+FFFD). Numbers keep their
// text: `JSON.parse` would round a CRC-64 above 2^53 (docs/smh-api.md §9.3). So before parsing,
// each number outside a string is replaced by `[i]`, its index in a list of the texts: in what
// `JSON.parse` returns, an array whose first item is a number is such a mark (every number
// became one), and the marks cannot turn text that is not JSON into JSON (a mark stands where
// a number stood, and the pattern matches only JSON's number grammar).

/** A string (kept as it is), or a number (captured). */
const TOKEN = /"(?:[^"\\]|\\.)*"|(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
/** src/json.rs `MAX_DEPTH`. */
const MAX_DEPTH = 64;
const encoder = new TextEncoder();

/**
 * `bytes` (a Uint8Array) parsed as UTF-8 JSON and flattened for src/json.rs, or undefined when
 * they are not that or nest deeper than `MAX_DEPTH`. Each value is a tag, a head and `;`: `n;`,
 * `t;`, `f;`; `#` + the number's text; `"` + the string's length in UTF-8 (as the glue hands it
 * to Rust: a lone surrogate is U+FFFD) + `;` + the string; `[` + the number of items, the items
 * following; `{` + the number of members, each a string (the name) and a value following.
 */
export function smhJsonParse(bytes) {
  const numbers = [];
  let out = '';
  const walk = (value, depth) => {
    if (value === null || typeof value === 'boolean') out += String(value)[0] + ';';
    else if (typeof value === 'string') out += '"' + encoder.encode(value).length + ';' + value;
    else if (typeof value[0] === 'number') out += '#' + numbers[value[0]] + ';';
    else if (depth === MAX_DEPTH) throw 0; // caught below: refused
    else if (Array.isArray(value)) {
      out += '[' + value.length + ';';
      for (const item of value) walk(item, depth + 1);
    } else {
      const names = Object.keys(value);
      out += '{' + names.length + ';';
      for (const name of names) {
        walk(name);
        walk(value[name], depth + 1);
      }
    }
  };
  try {
    // The BOM is not JSON's whitespace: kept, for `JSON.parse` to refuse.
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    walk(JSON.parse(text.replace(TOKEN, (token, number) => (number ? '[' + (numbers.push(number) - 1) + ']' : token))), 0);
    return out;
  } catch {
    return undefined;
  }
}

// ---- The bindings' executor (spawn.rs)

/** Calls `exports.smh_poll_task(task)` (the glue's guarded exports) in a microtask. */
export function smhSchedule(exports, task) {
  queueMicrotask(() => exports.smh_poll_task(task));
}

/** Calls `exports.smh_settle(slot, 1)` when `promise` fulfils, `(slot, 2)` when it rejects, the
 *  value kept in the handle returned, unless `smhTake` took the handle by then (spawn.rs). */
export function smhAwait(exports, promise, slot) {
  const handle = { s: slot };
  const settle = state => value => {
    if (handle.s) {
      handle.v = value;
      exports.smh_settle(slot, state);
    }
  };
  promise.then(settle(1), settle(2));
  return handle;
}

/** The value `handle`'s promise settled with; its settlement calls no more. */
export function smhTake(handle) {
  handle.s = 0;
  return handle.v;
}

// ---- Timeouts (timer.rs)

/** A promise that resolves in `ms` ms, whose `smhClear()` cancels it. */
export function smhSleep(ms) {
  let id;
  const done = new Promise(resolve => (id = setTimeout(resolve, ms)));
  done.smhClear = () => clearTimeout(id);
  return done;
}

// ---- navigator.onLine (online.rs)

/** `navigator.onLine`, true where there is no navigator or it does not say. */
export function smhOnline() {
  return globalThis.navigator?.onLine !== false;
}

// ---- XMLHttpRequest (xhr.rs)

/**
 * Sends `method url` with `headers` (JSON text of [name, value, …]: one string crosses from the
 * wasm for less than an array of values) and `body` (a Blob, a Uint8Array or undefined), within
 * `timeout` ms (0: no limit); `exports.smh_progress(progress, loaded)` (xhr.rs), when `progress`
 * is not 0, hears the upload's progress.
 * Returns the XHR (`smhAbort()` gives up on it) with `smhEnd`: a promise of the status once loaded,
 * or of the `Timeout` error's message (`method url`, the URL without its query and fragment:
 * that is where tokens and signatures live); it rejects with an Error whose message is the
 * `Network` error's (a network error, a CORS refusal or an abort), with what open() or send()
 * threw, or with the name of a header setRequestHeader refused.
 */
export function smhXhr(exports, method, url, headers, body, timeout, progress) {
  const xhr = new XMLHttpRequest();
  xhr.smhAbort = () => xhr.abort();
  xhr.smhEnd = new Promise((resolve, reject) => {
    xhr.open(method, url, true);
    xhr.responseType = 'arraybuffer';
    xhr.timeout = timeout;
    headers = JSON.parse(headers);
    for (let i = 0; i < headers.length; i += 2) {
      try {
        xhr.setRequestHeader(headers[i], headers[i + 1]);
      } catch {
        return reject(headers[i]);
      }
    }
    const what = method + ' ' + url.split(/[?#]/)[0];
    // No progress call after the end: the wasm drops its callback then.
    const end = (settle, outcome) => () => {
      xhr.upload.onprogress = null;
      settle(outcome());
    };
    xhr.onload = end(resolve, () => xhr.status);
    xhr.ontimeout = end(resolve, () => what);
    // Connection refused/reset, or a CORS refusal: the browser does not say which.
    xhr.onerror = xhr.onabort = end(reject, () => new Error(what + ' failed (network error or CORS)'));
    if (progress) xhr.upload.onprogress = e => exports.smh_progress(progress, e.loaded);
    if (!(body instanceof Blob)) return xhr.send(body);
    // A part: its `send` (costly under DevTools) in a task of its own, not in one with the
    // other parts of its wave. Given up on before then (`smhAbort`), it is never sent and ends
    // as an aborted request does (abort() alone would leave it opened, still to be sent); once
    // sent, giving up aborts the request on the wire.
    const later = setTimeout(() => {
      xhr.smhAbort = () => xhr.abort();
      try {
        xhr.send(body);
      } catch (e) {
        reject(e);
      }
    }, 0);
    xhr.smhAbort = () => {
      clearTimeout(later);
      xhr.onabort();
    };
  });
  return xhr;
}

/**
 * The response headers of a loaded `xhr` as `name\nvalue\n…`: names lowercased, both trimmed
 * (a header line holds no line break). Lines end in CRLF; the CR goes with the trim.
 */
export function smhHeaders(xhr) {
  const fields = [];
  for (const line of xhr.getAllResponseHeaders().split('\n')) {
    const colon = line.indexOf(':');
    if (colon >= 0) fields.push(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return fields.join('\n');
}

/** The body of a loaded `xhr` (empty without one). */
export function smhBody(xhr) {
  return new Uint8Array(xhr.response || 0);
}

// ---- Web Locks (locks.rs)

/**
 * Requests the lock `name` if no one holds it. Resolves with a function that releases it, or
 * with null while another tab, worker or client of the origin holds it; where the API is
 * missing or refuses to work (an opaque origin), with a function that does nothing.
 */
export function smhHoldLock(name) {
  const locks = globalThis.navigator?.locks;
  if (typeof locks?.request !== 'function') return Promise.resolve(() => {});
  return new Promise(granted => {
    const held = lock => (lock ? new Promise(release => granted(release)) : granted(null));
    try {
      // Rejects only if the page goes away while it holds the lock: nothing to do then.
      locks.request(name, { ifAvailable: true }, held).catch(() => granted(() => {}));
    } catch {
      granted(() => {});
    }
  });
}

/** Whether a tab, worker or client of the origin holds the lock `name` now (false where the API
 *  is missing or refuses to work). Asks without taking it: a lock taken to ask is released
 *  asynchronously, and would make an upload started right after think another tab has it. */
export function smhLockHeld(name) {
  const locks = globalThis.navigator?.locks;
  if (typeof locks?.query !== 'function') return Promise.resolve(false);
  return locks.query().then(
    state => state.held.some(lock => lock.name === name),
    () => false,
  );
}

// ---- Page side of the upload Worker (worker.rs explains the design)
//
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

/** CRC-64/XZ of `blob` as a decimal string. `via`: 0 'auto' (the Worker, else the page; a task
 *  later first: a part's XHR send, queued just before, goes first, so the first part's bytes do
 *  not wait for the Worker's start-up), 1 the Worker only, 2 the page only. `exports` are the
 *  page's wasm instance's: the page computes with the kernel the Worker runs. */
export function smhWorkerCrc64(module, exports, blob, via) {
  const inWorker = () => call(module, { op: 'crc64', blob });
  if (via === 1) return inWorker();
  if (via === 2) return pageCrc64(exports, blob);
  return new Promise(later => setTimeout(later))
    .then(inWorker)
    .catch(e => {
      if (!smhWorkerUnavailable(e)) throw e;
      return pageCrc64(exports, blob);
    });
}

/** Bytes read, and hashed in one call, at a time in the page: each read's reply comes in a task of
 *  its own, so the page's events run between the calls (src/platform/mod.rs, `HASH_SLICE`). */
const PAGE_READ = 256 * 1024;
let pageBuffer = 0; // the page's buffer in wasm memory for PAGE_READ bytes, once reserved

/** CRC-64/XZ of `blob` computed in the page by the wasm's kernel (src/bindings/worker.rs). */
async function pageCrc64(exports, blob) {
  pageBuffer = pageBuffer || exports.smh_worker_alloc(PAGE_READ);
  if (!pageBuffer) throw new Error('no wasm memory for the CRC-64 buffer');
  let crc = 0n;
  for (let start = 0; start < blob.size; start += PAGE_READ) {
    const want = Math.min(PAGE_READ, blob.size - start);
    const bytes = new Uint8Array(await blob.slice(start, start + want).arrayBuffer());
    if (bytes.length !== want) throw new Error(`expected ${want} bytes at offset ${start}, got ${bytes.length}; the file changed`);
    new Uint8Array(exports.memory.buffer, pageBuffer, want).set(bytes);
    crc = exports.smh_worker_crc64(crc, pageBuffer, want);
  }
  return BigInt.asUintN(64, crc).toString(); // i64 results arrive signed
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
