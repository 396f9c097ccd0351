// A Node imitation of a WeChat mini-program's logic layer, faithful where smh-upload depends on
// it (each behaviour names its source; tests/miniprogram/README.md lists them and what the
// imitation cannot prove).
//
// - Code runs in a `vm` context holding only what the logic layer has: `wx`, `WXWebAssembly`,
//   timers and `console` (no `WebAssembly`, `TextEncoder`/`TextDecoder`, `fetch`, `URL`, DOM),
//   with `eval` / `new Function` refused as WeChat refuses them. Modules are CommonJS, wrapped
//   the way WeChat wraps them (`window`, `document`, `XMLHttpRequest`… are parameters that are
//   undefined), and npm packages are found in `miniprogram_npm/` as "build npm" lays them out.
// - `wx.request` / `wx.uploadFile` make real HTTP requests; `wx.getFileSystemManager()` reads
//   real files; `wx.*Storage` keeps JSON in memory with WeChat's limits.
//
// Values handed to code in the context (ArrayBuffers, promises, errors, parsed JSON) are made
// with the context's own constructors, as WeChat's would be, so `instanceof` works in there.

import { Buffer } from 'node:buffer';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, closeSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import zlib from 'node:zlib';

/** `wx.request`, `uploadFile` and `downloadFile` together: at most 10 in flight. */
export const MAX_IN_FLIGHT = 10;
/** The longest (and default) network timeout. */
export const MAX_TIMEOUT_MS = 60_000;
/** Storage: 1 MB per key, 10 MB in all. */
export const STORAGE_KEY_LIMIT = 1024 * 1024;
export const STORAGE_TOTAL_LIMIT = 10 * 1024 * 1024;

/** WeChat's module wrapper: these names are parameters, undefined inside a module. */
const HIDDEN_GLOBALS = ['window', 'document', 'frames', 'self', 'location', 'navigator', 'localStorage', 'history',
  'Caches', 'screen', 'alert', 'confirm', 'prompt', 'XMLHttpRequest', 'WebSocket', 'Reporter', 'webkit', 'WeixinJSCore'];
const LOOPBACK = /^(127(\.\d{1,3}){3}|localhost|\[::1\])$/;
/** The fixed Referer WeChat sends (appid and version "devtools" here). */
const REFERER = 'https://servicewechat.com/wxharness00000000/devtools/page-frame.html';

/**
 * One mini-program: a project directory with `miniprogram_npm/` and `pages/`, a logic layer
 * (`vm` context), its `wx` and `WXWebAssembly`. `reload()` gives a new logic layer over the same
 * project, files and storage — what killing and reopening the mini-program does.
 *
 * Options: `packages` ({name: folder} copied to miniprogram_npm/name/), `npmFiles` ({name: file}
 * copied as miniprogram_npm/name/index.js: a plain npm package "build npm" bundled), `pages`
 * ({'pages/x/x.js': sourceFile}), `domains` (host:port allowed for requests), `wasmResult`
 * ('pair' | 'instance': what WXWebAssembly.instantiate resolves with), `ios` (refuse wasm that
 * exports a Global; default true), `titleCaseHeaders` (reply header names as `X-Cos-Hash-Crc64ecma`:
 * servers and proxies differ in case, and WeChat passes on whatever it got).
 */
export class MiniProgram {
  constructor({ packages = {}, npmFiles = {}, pages = {}, domains = [], wasmResult = 'pair', ios = true, titleCaseHeaders = false } = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'smh-miniprogram-'));
    this.project = join(this.root, 'project');
    this.userFiles = join(this.root, 'usr');
    mkdirSync(this.userFiles, { recursive: true });
    for (const [name, folder] of Object.entries(packages)) cpSync(folder, join(this.project, 'miniprogram_npm', name), { recursive: true });
    for (const [name, file] of Object.entries(npmFiles)) {
      mkdirSync(join(this.project, 'miniprogram_npm', name), { recursive: true });
      copyFileSync(file, join(this.project, 'miniprogram_npm', name, 'index.js'));
    }
    for (const [at, file] of Object.entries(pages)) {
      mkdirSync(dirname(join(this.project, at)), { recursive: true });
      copyFileSync(file, join(this.project, at));
    }
    this.domains = new Set(domains);
    this.wasmResult = wasmResult;
    this.ios = ios;
    this.titleCaseHeaders = titleCaseHeaders;
    this.files = new Map();        // virtual path → real path
    this.storage = new Map();      // key → JSON text
    this.nextFile = 1;
    this.timers = new Set();
    this.agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
    this.online = true;
    this.reload();
  }

  /** A fresh logic layer (new context, modules loaded anew); files and storage stay. */
  reload() {
    this.stopTimers();
    this.stats = { inFlight: 0, maxInFlight: 0, queued: 0, requests: [], reads: [], violations: [], wasmCalls: { count: 0, longest: 0, longestWall: 0 } };
    /** The next this many ranged `readFile` or `read` calls fail, as an I/O error would (a test sets it). */
    this.failReads = 0;
    /** fd → virtual path of the files `FileSystemManager.open` opened and `close` did not close. */
    this.openFiles = new Map();
    this.waiting = [];
    this.tasks = new Set();
    this.networkListeners = [];
    this.consoleLines = [];
    const sandbox = { console: this.makeConsole(), ...this.makeTimers() };
    this.context = vm.createContext(sandbox, { name: 'logic layer', codeGeneration: { strings: false, wasm: false } });
    vm.runInContext('delete globalThis.WebAssembly;', this.context);
    this.realm = vm.runInContext('({ ArrayBuffer, Uint8Array, Promise, Error, TypeError, JSON, Object })', this.context);
    sandbox.wx = this.makeWx();
    sandbox.WXWebAssembly = this.makeWXWebAssembly();
    this.modules = new Map();
    return this;
  }

  /** Stops what is in flight and every timer of the logic layer, and deletes the project. */
  close() {
    for (const task of this.tasks) task.abort();
    this.stopTimers();
    for (const agent of Object.values(this.agents)) agent.destroy();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** The host's timers, tracked so that closing the mini-program stops them (as WeChat does). */
  makeTimers() {
    const timers = this.timers;
    const track = (start, stop, repeat) => (f, ms, ...args) => {
      const handle = start(repeat ? f : (...a) => {
        timers.delete(handle);
        f(...a);
      }, ms, ...args);
      timers.add(handle);
      return handle;
    };
    const untrack = stop => handle => {
      timers.delete(handle);
      stop(handle);
    };
    return {
      setTimeout: track(setTimeout, clearTimeout, false),
      clearTimeout: untrack(clearTimeout),
      setInterval: track(setInterval, clearInterval, true),
      clearInterval: untrack(clearInterval),
    };
  }

  stopTimers() {
    for (const handle of this.timers) {
      clearTimeout(handle);
      clearInterval(handle);
    }
    this.timers.clear();
  }

  /**
   * The device loses (`false`) or regains (`true`) its network: `wx.onNetworkStatusChange`
   * listeners hear it first, then requests in flight fail, and new ones fail at once while
   * offline (`request:fail net::ERR_INTERNET_DISCONNECTED`), as on a phone in a lift.
   */
  setOnline(online) {
    if (this.online === online) return;
    this.online = online;
    const status = vm.runInContext('({})', this.context);
    Object.assign(status, { isConnected: online, networkType: online ? 'wifi' : 'none' });
    for (const listener of [...this.networkListeners]) listener(status);
    if (!online) for (const task of [...this.tasks]) task.disconnect();
  }

  /** Names on the context's global object (to check that a package defines none). */
  globalNames() {
    return vm.runInContext('Object.getOwnPropertyNames(globalThis)', this.context).slice().sort();
  }

  /**
   * A user file with `bytes`, as `wx.chooseMessageFile` gives it: `{path, size, name}` with a
   * `wxfile://` temporary path.
   */
  addFile(name, bytes) {
    const real = join(this.userFiles, `${this.nextFile}-${name}`);
    writeFileSync(real, bytes);
    const path = `wxfile://tmp_${this.nextFile++}_${name}`;
    this.files.set(path, real);
    return { path, size: bytes.length, name };
  }

  /** `require(path)` from the project root, e.g. `/pages/test/test.js`. */
  require(path) {
    return this.load(posix.normalize(path.startsWith('/') ? path : `/${path}`));
  }

  // ---- CommonJS -------------------------------------------------------------------------

  load(path) {
    const cached = this.modules.get(path);
    if (cached) return cached.exports;
    const real = join(this.project, ...path.split('/'));
    if (!existsSync(real)) throw new this.realm.Error(`module "${path.slice(1)}" is not defined`);
    const module = { exports: {} };
    module.exports = vm.runInContext('({})', this.context);
    this.modules.set(path, module);
    const source = readFileSync(real, 'utf8');
    const wrapper = new vm.Script(`(function (require, module, exports, ${HIDDEN_GLOBALS.join(', ')}) {${source}\n})`, { filename: real });
    const fn = wrapper.runInContext(this.context);
    fn(specifier => this.load(this.resolve(path, specifier)), module, module.exports);
    return module.exports;
  }

  /** WeChat's resolution: relative paths (`.js` optional), or a package in `miniprogram_npm/` of this or an enclosing folder. */
  resolve(from, specifier) {
    if (typeof specifier !== 'string') throw new this.realm.TypeError('require: the module path must be a string');
    const withJs = p => (p.endsWith('.js') ? p : `${p}.js`);
    if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
      const target = posix.normalize(specifier.startsWith('/') ? specifier : posix.join(posix.dirname(from), specifier));
      if (target.startsWith('/..')) throw new this.realm.Error(`module "${specifier}" is not defined`);
      return withJs(target);
    }
    const [name, ...rest] = specifier.split('/');
    for (let dir = posix.dirname(from); ; dir = posix.dirname(dir)) {
      const base = posix.join(dir, 'miniprogram_npm', name);
      const candidate = rest.length ? withJs(posix.join(base, ...rest)) : posix.join(base, 'index.js');
      if (existsSync(join(this.project, ...candidate.split('/')))) return candidate;
      if (dir === '/') break;
    }
    throw new this.realm.Error(`module "${specifier}" is not defined`);
  }

  // ---- console ---------------------------------------------------------------------------

  makeConsole() {
    const record = level => (...args) => {
      const line = `[${level}] ${args.map(a => (typeof a === 'string' ? a : safeString(a))).join(' ')}`;
      this.consoleLines.push(line);
      if (process.env.MP_VERBOSE) process.stderr.write(`${line}\n`);
    };
    return { log: record('log'), info: record('info'), warn: record('warn'), error: record('error'), debug: record('debug') };
  }

  // ---- wx ----------------------------------------------------------------------------------

  makeWx() {
    const mp = this;
    const fsm = this.makeFileSystemManager();
    const implemented = new Set(['request', 'uploadFile', 'getFileSystemManager', 'getStorage', 'setStorage', 'removeStorage',
      'getStorageSync', 'setStorageSync', 'removeStorageSync', 'getStorageInfoSync', 'getAppBaseInfo', 'getDeviceInfo', 'getNetworkType',
      'onNetworkStatusChange', 'offNetworkStatusChange']);
    return {
      request: options => mp.request(options),
      uploadFile: options => mp.uploadFile(options),
      getFileSystemManager: () => fsm,
      canIUse: name => implemented.has(String(name).split('.')[0]),
      getAppBaseInfo: () => ({ SDKVersion: '3.4.0', version: '8.0.50', language: 'zh_CN' }),
      getDeviceInfo: () => ({ platform: 'devtools', system: 'harness', brand: 'node', model: 'node' }),
      getNetworkType: ({ success, complete } = {}) => later(() => { success?.({ networkType: mp.online ? 'wifi' : 'none', errMsg: 'getNetworkType:ok' }); complete?.(); }),
      onNetworkStatusChange: listener => void mp.networkListeners.push(listener),
      offNetworkStatusChange: listener => {
        if (listener === undefined) mp.networkListeners.length = 0;
        else if (mp.networkListeners.includes(listener)) mp.networkListeners.splice(mp.networkListeners.indexOf(listener), 1);
      },
      ...this.makeStorage(),
    };
  }

  /** Checks url, scheme and domain the way wx.request does; returns the URL or a fail message. */
  checkUrl(api, url) {
    let parsed;
    try {
      parsed = new URL(String(url));
    } catch {
      return { error: `${api}:fail invalid url` };
    }
    // https only (wss for sockets); the test's loopback origins are the one exception, as
    // DevTools' "不校验合法域名" allows for local servers.
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK.test(parsed.hostname))) {
      return { error: `${api}:fail url scheme must be https` };
    }
    if (!this.domains.has(parsed.host)) return { error: `${api}:fail url not in domain list` };
    return { url: parsed };
  }

  /** Takes a place among the 10 (requests past the limit wait in a queue, base library ≥ 1.4.0). */
  enterPool(start) {
    if (this.stats.inFlight < MAX_IN_FLIGHT) {
      this.stats.inFlight += 1;
      this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
      start();
    } else {
      this.stats.queued += 1;
      this.waiting.push(start);
    }
  }

  leavePool() {
    this.stats.inFlight -= 1;
    const next = this.waiting.shift();
    if (next) this.enterPool(next);
  }

  /**
   * Runs `send(done)` once the pool has a place (a task aborted before that fails at once);
   * `done(ok, value)` settles the API call once and gives the place back.
   */
  runInPool(api, task, record, options, send) {
    this.enterPool(() => {
      if (task.aborted) {
        this.leavePool();
        return settleLater(options, false, { errMsg: `${api}:fail abort` });
      }
      if (!this.online) {
        // Queued while online, its turn came offline.
        this.leavePool();
        return settleLater(options, false, { errMsg: `${api}:fail net::ERR_INTERNET_DISCONNECTED` });
      }
      record.inFlightAtStart = this.stats.inFlight;
      this.tasks.add(task);
      send((ok, value) => {
        if (task.finished) return;
        task.finished = true;
        this.tasks.delete(task);
        this.leavePool();
        record.status = ok ? value.statusCode : value.errMsg;
        if (ok && value.header) record.replyHeaders = Object.keys(value.header);
        settleLater(options, ok, value);
      });
    });
  }

  /** Request headers as WeChat sends them: forced Referer, default content-type JSON. */
  requestHeaders(api, header) {
    const headers = {};
    for (const [name, value] of Object.entries(header ?? {})) {
      const lower = name.toLowerCase();
      if (lower === 'referer' || lower === 'content-length') {
        // WeChat: "Referer cannot be set"; Content-Length is the platform's. Record it.
        this.stats.violations.push(`${api} set the ${name} header`);
        continue;
      }
      headers[name] = String(value);
    }
    if (!Object.keys(headers).some(n => n.toLowerCase() === 'content-type') && api === 'request') headers['content-type'] = 'application/json';
    headers.referer = REFERER;
    return headers;
  }

  timeoutOf(api, timeout) {
    if (timeout === undefined) return MAX_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !(timeout > 0)) return MAX_TIMEOUT_MS;
    if (timeout > MAX_TIMEOUT_MS) this.stats.violations.push(`${api} asked for a ${timeout} ms timeout (at most ${MAX_TIMEOUT_MS})`);
    return Math.min(timeout, MAX_TIMEOUT_MS);
  }

  /** `wx.request`: `success` for every HTTP status, `fail` only without a response. */
  request(options = {}) {
    const settle = (ok, value) => settleLater(options, ok, value);
    const checked = this.checkUrl('request', options.url);
    const method = String(options.method ?? 'GET').toUpperCase();
    const task = new RequestTaskImitation();
    if (checked.error) {
      settle(false, { errMsg: checked.error });
      return task;
    }
    const headers = this.requestHeaders('request', options.header);
    const timeout = this.timeoutOf('request', options.timeout);
    const data = options.data;
    let body;
    if (isArrayBuffer(data)) {
      body = Buffer.from(new Uint8Array(data));
    } else if (typeof data === 'string') {
      body = Buffer.from(data);
    } else if (data !== undefined && data !== null) {
      if (method === 'GET') {
        for (const [k, v] of Object.entries(data)) checked.url.searchParams.append(k, String(v));
      } else {
        body = Buffer.from(JSON.stringify(data));
      }
    }
    const responseType = options.responseType === 'arraybuffer' ? 'arraybuffer' : 'text';
    const dataType = options.dataType ?? 'json';
    const record = { api: 'request', method, url: `${checked.url.origin}${checked.url.pathname}`, bytesOut: body?.length ?? 0 };
    this.stats.requests.push(record);
    if (this.failOffline('request', record, options)) return task;
    this.runInPool('request', task, record, options, done => {
      let req;
      try {
        req = this.transport(checked.url).request(checked.url, { method, headers, agent: this.agents[checked.url.protocol], timeout }, res => {
        const chunks = [];
        res.on('data', c => chunks.push(c));
        res.on('error', () => done(false, { errMsg: 'request:fail net::ERR_CONNECTION_RESET' }));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          let out;
          if (responseType === 'arraybuffer') {
            out = this.arrayBuffer(raw);
          } else {
            out = raw.toString('utf8');
            if (dataType === 'json') {
              try {
                out = this.realm.JSON.parse(out);
              } catch {
                // WeChat gives the text when it is not JSON.
              }
            }
          }
          done(true, { data: out, statusCode: res.statusCode, header: headerObject(res.rawHeaders, this.titleCaseHeaders, new this.realm.Object()), cookies: [], errMsg: 'request:ok' });
        });
        });
      } catch (e) {
        return done(false, { errMsg: `request:fail ${e.message}` });
      }
      req.on('timeout', () => {
        req.destroy();
        done(false, { errMsg: 'request:fail timeout' });
      });
      req.on('error', e => done(false, { errMsg: task.aborted ? 'request:fail abort' : `request:fail ${netError(e)}` }));
      task.cancel = (errMsg = 'request:fail abort') => {
        req.destroy();
        done(false, { errMsg });
      };
      req.end(body);
    });
    return task;
  }

  /**
   * `wx.uploadFile`: multipart/form-data POST of `formData` fields and the file as field `name`;
   * progress through `UploadTask.onProgressUpdate`; `success` gets the reply as text.
   */
  uploadFile(options = {}) {
    const settle = (ok, value) => settleLater(options, ok, value);
    const task = new RequestTaskImitation('uploadFile');
    const progressHandlers = [];
    task.onProgressUpdate = f => progressHandlers.push(f);
    task.offProgressUpdate = f => progressHandlers.splice(progressHandlers.indexOf(f), 1);
    const checked = this.checkUrl('uploadFile', options.url);
    if (checked.error) {
      settle(false, { errMsg: checked.error });
      return task;
    }
    const real = this.files.get(options.filePath);
    if (!real) {
      settle(false, { errMsg: `uploadFile:fail file not found: ${options.filePath}` });
      return task;
    }
    const boundary = `----WeChatHarness${Date.now().toString(16)}`;
    const parts = [];
    for (const [k, v] of Object.entries(options.formData ?? {})) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
    }
    const file = readFileSync(real);
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${options.name}"; filename="${basename(real)}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    parts.push(file, Buffer.from(`\r\n--${boundary}--\r\n`));
    const body = Buffer.concat(parts);
    const headers = { ...this.requestHeaders('uploadFile', options.header), 'content-type': `multipart/form-data; boundary=${boundary}` };
    const timeout = this.timeoutOf('uploadFile', options.timeout);
    const record = { api: 'uploadFile', method: 'POST', url: `${checked.url.origin}${checked.url.pathname}`, bytesOut: body.length };
    this.stats.requests.push(record);
    if (this.failOffline('uploadFile', record, options)) return task;
    this.runInPool('uploadFile', task, record, options, done => {
      let req;
      try {
        req = this.transport(checked.url).request(checked.url, { method: 'POST', headers: { ...headers, 'content-length': body.length }, agent: this.agents[checked.url.protocol], timeout }, res => {
          const chunks = [];
          res.on('data', c => chunks.push(c));
          res.on('end', () => done(true, { data: Buffer.concat(chunks).toString('utf8'), statusCode: res.statusCode, header: headerObject(res.rawHeaders, this.titleCaseHeaders, new this.realm.Object()), errMsg: 'uploadFile:ok' }));
        });
      } catch (e) {
        return done(false, { errMsg: `uploadFile:fail ${e.message}` });
      }
      req.on('timeout', () => {
        req.destroy();
        done(false, { errMsg: 'uploadFile:fail timeout' });
      });
      req.on('error', e => done(false, { errMsg: `uploadFile:fail ${netError(e)}` }));
      task.cancel = (errMsg = 'uploadFile:fail abort') => {
        req.destroy();
        done(false, { errMsg });
      };
      // Written in 64 KiB pieces so progress is reported as the bytes go.
      let at = 0;
      const writeMore = () => {
        while (at < body.length) {
          const piece = body.subarray(at, at + 65536);
          at += piece.length;
          const sent = at;
          const more = req.write(piece, () => {
            for (const f of progressHandlers) f({ progress: Math.floor((sent / body.length) * 100), totalBytesSent: sent, totalBytesExpectedToSend: body.length });
          });
          if (!more) return req.once('drain', writeMore);
        }
        req.end();
      };
      writeMore();
    });
    return task;
  }

  /** Without a network a request fails at once, never reaching the pool; `true` if it did. */
  failOffline(api, record, options) {
    if (this.online) return false;
    record.offline = true;
    record.status = `${api}:fail net::ERR_INTERNET_DISCONNECTED`;
    settleLater(options, false, { errMsg: record.status });
    return true;
  }

  transport(url) {
    return url.protocol === 'https:' ? https : http;
  }

  /** An ArrayBuffer of the context's realm holding `bytes`. */
  arrayBuffer(bytes) {
    const buffer = new this.realm.ArrayBuffer(bytes.length);
    new Uint8Array(buffer).set(bytes);
    return buffer;
  }

  // ---- file system -----------------------------------------------------------------------------

  /**
   * `FileSystemManager`: `readFile({filePath, encoding, position, length})` with WeChat's range
   * rules — position in [0, size − 1], length in [1, size − position] (a length of 0 is an
   * error, so is reading past the end); `open({filePath, flag: 'r'})` → `{fd}`, `read({fd,
   * arrayBuffer, offset, length, position})` into the caller's buffer → `{bytesRead,
   * arrayBuffer}` and `close({fd})` (base library ≥ 2.16.1; `mp.openFiles` holds the fds not
   * closed) — plus `statSync` / `stat` / `getFileInfo` / `access`.
   */
  makeFileSystemManager() {
    const mp = this;
    const realPath = filePath => mp.files.get(filePath);
    const missing = (api, filePath) => `${api}:fail no such file or directory, open ${filePath}`;
    const readRange = (api, filePath, encoding, position, length) => {
      const real = realPath(filePath);
      if (!real) return { error: missing(api, filePath) };
      const size = statSync(real).size;
      const start = position === undefined || position === null ? 0 : position;
      if (!Number.isInteger(start) || start < 0 || (position !== undefined && position !== null && start >= size)) {
        return { error: `${api}:fail the value of "position" is out of range` };
      }
      const count = length === undefined || length === null ? size - start : length;
      if (!Number.isInteger(count) || count < 1 || start + count > size) {
        if (length !== undefined || size > 0) return { error: `${api}:fail the value of "length" is out of range` };
      }
      mp.stats.reads.push({ filePath, position, length, size });
      // Read straight into the buffer handed to the logic layer: one allocation per read, as
      // WeChat's, not a second one and a copy (their garbage would be collected on this thread).
      const buffer = new mp.realm.ArrayBuffer(Math.max(0, count));
      if (count > 0) {
        const fd = openSync(real, 'r');
        try {
          readSync(fd, new Uint8Array(buffer), 0, count, start);
        } finally {
          closeSync(fd);
        }
      }
      if (encoding) return { data: Buffer.from(buffer).toString(encoding === 'utf-8' ? 'utf8' : encoding) };
      return { data: buffer };
    };
    const stats = real => {
      const s = statSync(real);
      const result = vm.runInContext('({})', mp.context);
      Object.assign(result, { size: s.size, lastModifiedTime: Math.floor(s.mtimeMs / 1000), lastAccessedTime: Math.floor(s.atimeMs / 1000), mode: s.mode });
      result.isFile = () => true;
      result.isDirectory = () => false;
      return result;
    };
    const sync = (outcome) => {
      if (outcome.error) throw new mp.realm.Error(outcome.error);
      return outcome.value;
    };
    const fds = mp.openFiles;
    let nextFd = 1;
    const readInto = o => {
      const filePath = fds.get(o.fd);
      if (filePath === undefined) return { error: 'read:fail bad file descriptor' };
      if (!isArrayBuffer(o.arrayBuffer)) return { error: 'read:fail parameter error: arrayBuffer must be an ArrayBuffer' };
      const real = realPath(filePath);
      const size = statSync(real).size;
      const { offset = 0, length = 0, position } = o;
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > o.arrayBuffer.byteLength) {
        return { error: 'read:fail the value of "offset" or "length" is out of range' };
      }
      if (!Number.isInteger(position) || position < 0 || position + length > size) return { error: 'read:fail the value of "position" is out of range' };
      mp.stats.reads.push({ filePath, position, length, size, api: 'read' });
      const fd = openSync(real, 'r');
      try {
        return { value: { bytesRead: readSync(fd, new Uint8Array(o.arrayBuffer, offset, length), 0, length, position), arrayBuffer: o.arrayBuffer } };
      } finally {
        closeSync(fd);
      }
    };
    const statOf = (api, path) => (realPath(path) ? { value: { stats: stats(realPath(path)) } } : { error: missing(api, path) });
    return {
      readFile: callbackStyle('readFile', o => {
        if (mp.failReads > 0 && o.position !== undefined) {
          mp.failReads -= 1;
          mp.stats.failedReads = (mp.stats.failedReads || 0) + 1;
          return { error: 'readFile:fail EIO: i/o error, read' };
        }
        const r = readRange('readFile', o.filePath, o.encoding, o.position, o.length);
        return r.error ? r : { value: { data: r.data } };
      }),
      open: callbackStyle('open', o => {
        if (!realPath(o.filePath)) return { error: missing('open', o.filePath) };
        if ((o.flag ?? 'r') !== 'r') return { error: `open:fail the imitation opens files to read only (flag ${o.flag})` };
        const fd = String(nextFd++);
        fds.set(fd, o.filePath);
        return { value: { fd } };
      }),
      read: callbackStyle('read', o => {
        if (mp.failReads > 0) {
          mp.failReads -= 1;
          mp.stats.failedReads = (mp.stats.failedReads || 0) + 1;
          return { error: 'read:fail EIO: i/o error, read' };
        }
        return readInto(o);
      }),
      close: callbackStyle('close', o => (fds.delete(o.fd) ? { value: {} } : { error: 'close:fail bad file descriptor' })),
      readFileSync: (filePath, encoding, position, length) => sync((() => {
        const r = readRange('readFileSync', filePath, encoding, position, length);
        return r.error ? r : { value: r.data };
      })()),
      stat: callbackStyle('stat', o => statOf('stat', o.path)),
      statSync: path => sync(statOf('statSync', path)).stats,
      getFileInfo: callbackStyle('getFileInfo', o => (realPath(o.filePath) ? { value: { size: statSync(realPath(o.filePath)).size } } : { error: missing('getFileInfo', o.filePath) })),
      access: callbackStyle('access', o => (realPath(o.path) ? { value: {} } : { error: missing('access', o.path) })),
      accessSync: path => sync(realPath(path) ? { value: undefined } : { error: missing('accessSync', path) }),
    };
  }

  // ---- storage ---------------------------------------------------------------------------------

  /** `wx.*Storage`: JSON values, at most 1 MB per key and 10 MB in all. */
  makeStorage() {
    const mp = this;
    const bytes = text => Buffer.byteLength(text, 'utf8');
    const total = () => [...mp.storage.entries()].reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0);
    const set = (api, key, data) => {
      if (typeof key !== 'string' || key === '') return { error: `${api}:fail parameter error: key must be a non-empty string` };
      const text = JSON.stringify(data === undefined ? null : data);
      if (bytes(key) + bytes(text) > STORAGE_KEY_LIMIT) return { error: `${api}:fail exceed storage item max length` };
      const previous = mp.storage.has(key) ? bytes(key) + bytes(mp.storage.get(key)) : 0;
      if (total() - previous + bytes(key) + bytes(text) > STORAGE_TOTAL_LIMIT) return { error: `${api}:fail exceed storage max size 10Mb` };
      mp.storage.set(key, text);
      return { value: {} };
    };
    const get = (api, key) => (mp.storage.has(key) ? { value: { data: mp.realm.JSON.parse(mp.storage.get(key)) } } : { error: `${api}:fail data not found` });
    return {
      setStorage: callbackStyle('setStorage', o => set('setStorage', o.key, o.data)),
      getStorage: callbackStyle('getStorage', o => get('getStorage', o.key)),
      removeStorage: callbackStyle('removeStorage', o => {
        mp.storage.delete(o.key);
        return { value: {} };
      }),
      setStorageSync: (key, data) => {
        const r = set('setStorageSync', key, data);
        if (r.error) throw new mp.realm.Error(r.error);
      },
      // WeChat answers '' for a key that is not there.
      getStorageSync: key => (mp.storage.has(key) ? mp.realm.JSON.parse(mp.storage.get(key)) : ''),
      removeStorageSync: key => void mp.storage.delete(key),
      getStorageInfoSync: () => ({ keys: [...mp.storage.keys()], currentSize: Math.ceil(total() / 1024), limitSize: STORAGE_TOTAL_LIMIT / 1024 }),
    };
  }

  // ---- WXWebAssembly -------------------------------------------------------------------------

  /**
   * `instance` with every exported function timed: `stats.wasmCalls` keeps the count and the
   * longest of the outermost calls into the wasm (a call the wasm makes back into JS, and from
   * there into the wasm again, is part of the outer one). Each call's time is the lesser of its
   * wall-clock time and the process's CPU time during it: the wall clock also counts time the
   * OS ran other processes (on a loaded machine, tens of ms in the middle of a short call), the
   * CPU time also counts the process's other threads (V8's GC helpers); neither is less than
   * what the logic thread spent in the call, so a long call shows on any machine and a loaded
   * machine does not make a short one long. `longestWall` is the wall clock alone.
   */
  timedInstance(instance) {
    const mp = this;
    let depth = 0;
    const exports = {};
    for (const [name, value] of Object.entries(instance.exports)) {
      if (typeof value !== 'function') {
        exports[name] = value;
        continue;
      }
      exports[name] = (...args) => {
        if (depth++ > 0) {
          try {
            return value(...args);
          } finally {
            depth--;
          }
        }
        const wall = performance.now();
        const cpu = process.cpuUsage();
        try {
          return value(...args);
        } finally {
          depth--;
          const wallMs = performance.now() - wall;
          const used = process.cpuUsage(cpu);
          const calls = mp.stats.wasmCalls;
          calls.count += 1;
          calls.longest = Math.max(calls.longest, Math.min(wallMs, (used.user + used.system) / 1000));
          calls.longestWall = Math.max(calls.longestWall, wallMs);
        }
      };
    }
    return Object.defineProperty(Object.create(instance), 'exports', { value: Object.freeze(exports) });
  }

  /**
   * `WXWebAssembly.instantiate(path, imports)`: `path` is a `.wasm` / `.wasm.br` file inside the
   * code package (never bytes, never a URL or `wxfile://`); `.br` is brotli-decoded; on iOS a
   * module exporting a Global is refused. Resolves with `{instance, module}` or the bare
   * `Instance` (`wasmResult`), as the docs say both.
   */
  makeWXWebAssembly() {
    const mp = this;
    return {
      instantiate(path, imports) {
        return new mp.realm.Promise((resolveIt, reject) => {
          const refuse = message => reject(new mp.realm.TypeError(`WXWebAssembly.instantiate: ${message}`));
          if (typeof path !== 'string') return refuse('the first argument must be a path in the code package');
          if (path.includes('://') || !/\.wasm(\.br)?$/.test(path)) return refuse(`not a .wasm or .wasm.br path in the code package: ${path}`);
          const inside = posix.normalize(path.startsWith('/') ? path : `/${path}`);
          const real = join(mp.project, ...inside.split('/'));
          if (inside.startsWith('/..') || !resolve(real).startsWith(resolve(mp.project) + sep) || !existsSync(real)) {
            return refuse(`no file ${path} in the code package`);
          }
          let bytes = readFileSync(real);
          if (path.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
          let module;
          try {
            module = new WebAssembly.Module(bytes);
          } catch (e) {
            return reject(new mp.realm.Error(`WXWebAssembly.instantiate: ${e.message}`));
          }
          const globals = WebAssembly.Module.exports(module).filter(e => e.kind === 'global');
          if (mp.ios && globals.length) return reject(new mp.realm.Error(`WXWebAssembly (iOS): exporting a Global is not supported (${globals.map(g => g.name).join(', ')})`));
          WebAssembly.instantiate(module, imports).then(
            real => {
              const instance = mp.timedInstance(real);
              resolveIt(mp.wasmResult === 'instance' ? instance : { instance, module });
            },
            e => reject(new mp.realm.Error(`WXWebAssembly.instantiate: ${e.message}`)),
          );
        });
      },
    };
  }
}

/** `wx.request`'s `RequestTask` (and `UploadTask`'s abort): `abort()` fails the request with "abort". */
class RequestTaskImitation {
  constructor(api = 'request') {
    this.api = api;
    this.finished = false;
    this.aborted = false;
    this.cancel = null;
  }

  abort() {
    if (this.finished || this.aborted) return;
    this.aborted = true;
    this.cancel?.();
  }

  /** The network went away under the request. */
  disconnect() {
    if (!this.finished) this.cancel?.(`${this.api}:fail net::ERR_INTERNET_DISCONNECTED`);
  }

  onHeadersReceived() {}
  offHeadersReceived() {}
}

function later(f) {
  setImmediate(f);
}

/** Calls `success` (ok) or `fail`, then `complete`, on a later turn, as every wx API does. */
function settleLater({ success, fail, complete }, ok, value) {
  later(() => {
    try {
      (ok ? success : fail)?.(value);
    } finally {
      complete?.(value);
    }
  });
}

/** A wx API in callback style over `run(options)`, which gives `{value}` or `{error}` (the errMsg). */
function callbackStyle(api, run) {
  return (options = {}) => {
    const outcome = run(options);
    if (outcome.error) settleLater(options, false, { errMsg: outcome.error });
    else settleLater(options, true, { ...outcome.value, errMsg: `${api}:ok` });
  };
}

function isArrayBuffer(value) {
  return Object.prototype.toString.call(value) === '[object ArrayBuffer]';
}

/** Reply headers as an object keyed by the names the server sent (their case kept). */
function headerObject(rawHeaders, titleCase, out) {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = titleCase ? rawHeaders[i].replace(/(^|-)([a-z])/g, (_, dash, c) => dash + c.toUpperCase()) : rawHeaders[i];
    out[name] = name in out ? `${out[name]}, ${rawHeaders[i + 1]}` : rawHeaders[i + 1];
  }
  return out;
}

function netError(e) {
  const codes = { ECONNRESET: 'net::ERR_CONNECTION_RESET', ECONNREFUSED: 'net::ERR_CONNECTION_REFUSED', EPIPE: 'net::ERR_CONNECTION_RESET' };
  return codes[e.code] ?? `net::ERR_FAILED (${e.code ?? e.message})`;
}

function safeString(value) {
  try {
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  } catch {
    return String(value);
  }
}
