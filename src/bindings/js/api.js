
// ---- smh-upload's JS layer: what JavaScript does natively, kept out of the wasm ----
// xtask/src/pkg.rs appends this file, then smh.js and/or cos.js (as the entry has the class), to
// wasm-bindgen's glue; it defines the public classes over the wasm's internal ones (`__Smh`,
// `__Cos`, `__Task`, src/bindings/). It checks and normalises the options (every mistake an
// `InvalidInput` naming the option), hands the wasm plain values, and builds the errors, results
// and progress reports the page sees from the plain values the wasm gives back. The mini-program
// build appends the same files to its glue: nothing here may name a browser-only global, and the
// syntax is ES2017's (WeChat's logic layer runs it untranspiled).

/** Largest integer a JS number holds exactly. */
const smh$MAX_SAFE_INTEGER = 9007199254740991;
/** Longest timeout accepted: `setTimeout` fires at once beyond 2³¹−1 ms (about 24.8 days). */
const smh$MAX_TIMEOUT_MS = 2147483647;
/** What `progress.phase` is, by the index the wasm reports. */
const smh$PHASES = ['hashing', 'uploading', 'confirming'];

/** The SDK's error: an `Error` named `SmhUploadError` with `code`, `status`, `requestId`, `retryable`. */
function smh$error(message, code, status, requestId, retryable) {
  const error = new Error(message);
  error.name = 'SmhUploadError';
  error.code = code;
  error.status = status;
  error.requestId = requestId;
  error.retryable = retryable;
  return error;
}

/** `InvalidInput` naming `option`. */
function smh$invalid(option, message) {
  return smh$error('invalid `' + option + '`: ' + message, 'InvalidInput', 0, null, false);
}

/** An error as the wasm encodes it (src/bindings/error.rs: `code␁status␁retryable␁requestId␁message`)
 *  turned into an `SmhUploadError`; anything else (a JS exception) is returned as it is. */
function smh$fromWasm(e) {
  if (typeof e !== 'string') return e;
  const [code, status, retryable, requestId, ...message] = e.split('\x01');
  return smh$error(message.join('\x01'), code, +status, requestId ? requestId.slice(1) : null, retryable === '1');
}

/** `f()`, with what the wasm throws turned into an `SmhUploadError`. */
function smh$call(f) {
  try {
    return f();
  } catch (e) {
    throw smh$fromWasm(e);
  }
}

/** Set when the wasm instance died: the `InternalError` every later call into it throws. */
let smh$dead;
/** The tasks whose `done()` has not settled, each with its settle function. */
const smh$live = new Map();

/** The wasm's `exports` (xtask/src/pkg.rs makes the glue keep these instead) with every function
 *  guarded. A trap (a `RuntimeError`; a panic is one at once: `panic=immediate-abort`) or the
 *  engine's stack running out (`RangeError`) stopped the wasm mid-call without cleaning up, so
 *  the instance can never be trusted again: every running task is rejected with `InternalError`
 *  (state 'failed') instead of hanging, and every later call, by the page or by a callback of
 *  the glue (XHR events, timers, promise continuations), throws that error without entering the
 *  wasm. Other errors pass: wasm-bindgen's own throws (a freed object used, say) leave the
 *  instance sound. */
function smh$guard(exports) {
  const guarded = {};
  for (const [name, f] of Object.entries(exports)) {
    guarded[name] =
      typeof f !== 'function'
        ? f
        : (...args) => {
            if (smh$dead) throw smh$dead;
            try {
              return f(...args);
            } catch (e) {
              if (!(e && (e.name === 'RuntimeError' || e.name === 'RangeError'))) throw e;
              smh$die(e);
              throw smh$dead;
            }
          };
  }
  return guarded;
}

/** The wasm instance died on `e` (see `smh$guard`). */
function smh$die(e) {
  if (smh$dead) return;
  smh$dead = smh$error('smh-upload stopped on an internal error: ' + e.message, 'InternalError', 0, null, false);
  console.error('smh-upload stopped on an internal error:', e);
  for (const [task, settle] of smh$live) {
    task[smh$FAILED] = true;
    settle(false, smh$dead);
  }
}

const smh$absent = v => v === undefined || v === null;
/** `v`, or `otherwise` when it is undefined (what `??` does, for engines without it). */
const smh$or = (v, otherwise) => (v === undefined ? otherwise : v);
/** Where the public objects keep the wasm's (kept off their own enumerable properties). */
const smh$RAW = Symbol('smh-upload wasm object');
const smh$DONE = Symbol('smh-upload done');
const smh$DISCARD = Symbol('smh-upload discardPending');
const smh$FAILED = Symbol('smh-upload failed');
const smh$STATE = Symbol('smh-upload state');
const smh$PROGRESS = Symbol('smh-upload progress');

/** `options` checked to be an object (or absent when `optional`) with no names but `known`. */
function smh$options(options, prefix, known, optional) {
  if (smh$absent(options)) {
    if (optional) return {};
    throw smh$invalid(prefix, 'an options object is required');
  }
  if (typeof options !== 'object') throw smh$invalid(prefix, 'must be an object');
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw smh$invalid(key, 'unknown option; known options are: ' + known.join(', '));
  }
  return options;
}

/** Option `name` of `o` when it is absent or `typeof` `type`; else `InvalidInput` saying `must`. */
function smh$typed(o, name, type, must) {
  const v = o[name];
  if (smh$absent(v)) return undefined;
  if (typeof v !== type) throw smh$invalid(name, must);
  return v;
}
const smh$string = (o, name) => smh$typed(o, name, 'string', 'must be a string');
const smh$boolean = (o, name) => smh$typed(o, name, 'boolean', 'must be true or false');
const smh$function = (o, name) => smh$typed(o, name, 'function', 'must be a function');

/** A string option that must be there and not blank. */
function smh$required(o, name, prefix) {
  const s = smh$string(o, name);
  if (s === undefined || s.trim() === '') throw smh$invalid(name, 'is required in the ' + prefix + ' options');
  return s;
}

/** A non-negative safe integer option (larger values are refused, not rounded); NaN when absent. */
function smh$integer(o, name) {
  const n = o[name];
  if (smh$absent(n)) return NaN;
  if (typeof n !== 'number' || !(n >= 0 && n <= smh$MAX_SAFE_INTEGER && n % 1 === 0)) {
    throw smh$invalid(name, 'must be a non-negative integer');
  }
  return n;
}

/** A timeout option in ms, at least `min`. */
function smh$timeout(o, name, min) {
  const ms = smh$integer(o, name);
  if (ms < min || ms > smh$MAX_TIMEOUT_MS) {
    throw smh$invalid(name, 'must be between ' + min + ' ms and ' + smh$MAX_TIMEOUT_MS + ' ms');
  }
  return ms;
}

/** The options `SmhClient` and `CosUploader` share, as the wasm takes them (src/bindings/common.rs,
 *  `read_common`): the first items of the array a constructor hands the wasm, allowedDomains as
 *  JSON text and then the numbers (NaN for absent); `checkpoints` comes next. */
function smh$common(o) {
  const domains = o.allowedDomains;
  if (!smh$absent(domains) && !(Array.isArray(domains) && domains.every(d => typeof d === 'string'))) {
    throw smh$invalid('allowedDomains', 'must be an array of strings');
  }
  const values = ['concurrency', 'partSize', 'multipartThreshold', 'retries'].map(name => smh$integer(o, name));
  values.push(smh$timeout(o, 'requestTimeout', 100), smh$timeout(o, 'stallTimeout', 100), smh$timeout(o, 'offlineTimeout', 0));
  values.unshift(smh$absent(domains) ? undefined : JSON.stringify(domains));
  return values;
}

/** The `checkpoints` option as the wasm takes it: `null` for 'none', the page's own `{get, set,
 *  remove}`, or for 'local' (the default) the web entries' store (local.js), each as `smh$store`
 *  hands it over, or, in mini-programs, `undefined` (the wasm's wx storage). */
function smh$checkpoints(o) {
  const v = o.checkpoints;
  if (smh$absent(v) || v === 'local') return typeof smh$localCheckpoints === 'function' ? smh$store(smh$localCheckpoints()) : undefined;
  if (v === 'none') return null;
  if (Object(v) === v && ['get', 'set', 'remove'].every(m => typeof v[m] === 'function')) return smh$store(v);
  throw smh$invalid('checkpoints', "must be 'local', 'none' or an object with get, set and remove functions");
}

/** A `{get, set, remove}` store as the wasm calls it (src/platform/browser/storage.rs): its
 *  methods as they are now, each called on the store with the key (and the value), what it
 *  gave taken as `Promise.resolve` takes it and a throw a rejection; and `wide` when every
 *  client of the page shares its storage (the 'local' store says `__smhPageWide`). */
function smh$store(v) {
  const { get, set, remove } = v;
  const call = (f, ...args) => new Promise(resolve => resolve(f.apply(v, args)));
  return {
    get: key => call(get, key),
    set: (key, value) => call(set, key, value),
    remove: key => call(remove, key),
    wide: !!v.__smhPageWide,
  };
}

/** The message of a thrown value, for the errors that name the page's function. */
function smh$message(e) {
  if (e instanceof Error) return e.message;
  return typeof e === 'string' ? e : 'unknown JavaScript error';
}

/** The page's `name()` (`getAccessToken`, `getCredentials`) as the wasm calls it: given a limit
 *  in ms, a promise of what `check` makes of the value, awaited as `Promise.resolve` takes it (a
 *  promise of any realm, any thenable, or a plain value) for no longer than the limit, so that a
 *  function whose promise never settles cannot hold an upload for ever. It rejects with the
 *  message of the typed error, naming `name` and what went wrong. */
function smh$bounded(f, name, check) {
  return ms =>
    new Promise((resolve, reject) => {
      let value;
      try {
        value = f.call(null);
      } catch (e) {
        return reject(name + ' threw: ' + smh$message(e));
      }
      const timer = setTimeout(() => reject(name + ' did not settle within ' + ms + ' ms (requestTimeout)'), ms);
      Promise.resolve(value).then(
        v => {
          clearTimeout(timer);
          try {
            resolve(check(v));
          } catch (message) {
            reject(message);
          }
        },
        e => {
          clearTimeout(timer);
          reject(name + ' rejected: ' + smh$message(e));
        },
      );
    });
}

/** A progress report from the numbers the wasm gives (src/bindings/task.rs, `Events`). */
function smh$progress(phase, loaded, total, speed, eta, offline) {
  const p = { phase: smh$PHASES[phase], loaded, total, speed, eta: eta === eta ? eta : null };
  if (offline) p.waiting = 'offline';
  return p;
}

/** Calls a page callback; an exception there must not break the upload. */
function smh$callBack(f, arg) {
  try {
    f.call(null, arg);
  } catch (e) {
    console.warn('smh-upload: a callback threw:', e);
  }
}

/** A promise of the JSON the wasm hands `reply.d` (`pendingUploads()`, `discardPending()`; a
 *  task's `events.d` takes its end the same way), parsed; `start` may throw at once (a bad
 *  argument). */
function smh$reply(start) {
  let reply;
  const promise = new Promise(resolve => (reply = { d: (ok, json) => resolve(JSON.parse(json)) }));
  smh$call(() => start(reply));
  return promise;
}

/** What `SmhClient` and `CosUploader` share: the wasm's client under [smh$RAW]. */
class smh$Client {
  /** Unfinished uploads that `upload()` of the same file to the same target would continue. */
  pendingUploads() {
    return smh$reply(reply => this[smh$RAW].pending(false, undefined, reply));
  }
  free() {
    this[smh$RAW].free();
  }
  /** `discardPending(target)`, the target named `name` (`path`, `key`) in errors. */
  [smh$DISCARD](target, name) {
    if (!smh$absent(target) && typeof target !== 'string') throw smh$invalid(name, 'must be a string or undefined');
    return smh$reply(reply => this[smh$RAW].pending(true, smh$absent(target) ? undefined : target, reply));
  }
}
if (Symbol.dispose) smh$Client.prototype[Symbol.dispose] = smh$Client.prototype.free;

/** The names of the upload options every task reads. */
const smh$TASK_OPTIONS = ['onProgress', 'onStateChange', 'onWarning', 'signal'];

export class UploadTask {
  /** Internal: `start(events)` starts the upload of `file` in the wasm and returns its `__Task`;
   *  `o` are the upload's options, their own names already checked. */
  constructor(start, o, file) {
    const signal = o.signal;
    if (!smh$absent(signal) && !(typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal)) {
      throw smh$invalid('signal', 'must be an AbortSignal');
    }
    const onProgress = smh$function(o, 'onProgress');
    const onState = smh$function(o, 'onStateChange');
    const onWarning = smh$function(o, 'onWarning');
    let settle;
    this[smh$DONE] = new Promise((resolve, reject) => {
      settle = (ok, value) => {
        smh$live.delete(this);
        ok ? resolve(JSON.parse(value)) : reject(smh$fromWasm(value));
      };
    });
    // The page may never call done(); that must not surface as an unhandled rejection.
    this[smh$DONE].catch(() => {});
    // The state as the wasm last announced it (it announces every change).
    this[smh$STATE] = 'preparing';
    const events = {
      s: state => {
        this[smh$STATE] = state;
        if (onState) smh$callBack(onState, state);
      },
      p: (...numbers) => {
        this[smh$PROGRESS] = numbers;
        if (onProgress) smh$callBack(onProgress, smh$progress(...numbers));
      },
      w: (code, message) =>
        onWarning ? smh$callBack(onWarning, { code, message }) : console.warn('smh-upload:', message),
      d: settle,
    };
    const raw = (this[smh$RAW] = smh$call(() => start(events)));
    // Until the first report (none comes before start() returns): uploading, nothing sent yet,
    // of the file's size (the wasm accepted the file, so `size` is its size).
    this[smh$PROGRESS] = [1, 0, file.size, 0, NaN, false];
    smh$live.set(this, settle);
    if (signal) {
      if (signal.aborted) raw.cancel();
      signal.addEventListener('abort', () => raw.cancel());
    }
  }
  /** Stops sending: in-flight requests are aborted; finished parts are kept. */
  pause() {
    this[smh$RAW].pause();
  }
  /** Continues a paused upload. */
  resume() {
    this[smh$RAW].resume();
  }
  /** Aborts in-flight requests and cancels the upload on the server; `done()` rejects with code `Aborted`. */
  cancel() {
    this[smh$RAW].cancel();
  }
  /** Resolves with the uploaded file, or rejects with an `SmhUploadError`. */
  done() {
    return this[smh$DONE];
  }
  get state() {
    return this[smh$FAILED] ? 'failed' : this[smh$STATE];
  }
  get progress() {
    return smh$progress(...this[smh$PROGRESS]);
  }
  free() {
    this[smh$RAW].free();
  }
}
if (Symbol.dispose) UploadTask.prototype[Symbol.dispose] = UploadTask.prototype.free;
