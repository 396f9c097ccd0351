// A mini-program quick upload (秒传) of a file SMH holds, through the package's mini-program
// build exactly as a page uses it (`require('smh-upload')`, `init()`, `new SmhClient`,
// `client.upload({ filePath, size })`), in a shell with no network and no WeChat:
//
//   node quick.cjs PKG_MINIPROGRAM_DIR WASM MIB WAIT_MS
//   jsc --useJIT=false quick.cjs -- PKG_MINIPROGRAM_DIR WASM MIB WAIT_MS
//
// `jsc --useJIT=false` interprets wasm and JS, as WeChat does on iOS. WASM is the uncompressed
// `smh_upload_bg.wasm` the package holds brotli-compressed (what `WXWebAssembly` decompresses).
// The imitated `wx` answers in-process: `readFile` from a MIB MiB file in memory, `wx.request` as
// SMH answers a quick upload of content it holds — 202 to the begin with the first MiB's hash,
// 200 (the file) to the begin with the whole file's hash. The CPU work measured is the SDK's:
// reading, both hashes, the calls and replies. WAIT_MS is the client's `quickUploadWait`: large,
// the hash runs alone (what a hit costs); the default (1000) would send parts meanwhile, which
// this network-less imitation does not model.
//
// Prints one JSON line: {bytes, seconds, longestBlockMs, instant, requests} (MIB 0: the SDK is
// loaded and a client made, nothing uploaded: {bytes: 0, loaded: true}). `longestBlockMs` is
// the longest gap, beyond its 5 ms period, of a timer that runs throughout: the longest time a
// tap or a progress callback would have waited for the SDK's synchronous work.

/* global readFile, print, preciseTime, quit */
var isNode = typeof process !== 'undefined' && process.versions && process.versions.node;
var args = isNode ? process.argv.slice(2) : Array.prototype.slice.call(arguments);
var out = isNode ? function (line) { console.log(line); } : print;
var now = isNode ? function () { return performance.now(); } : function () { return preciseTime() * 1000; };
var readText = isNode ? function (p) { return require('fs').readFileSync(p, 'utf8'); } : function (p) { return readFile(p); };
var readBytes = isNode ? function (p) { return new Uint8Array(require('fs').readFileSync(p)); } : function (p) { return readFile(p, 'binary'); };
var exit = isNode ? function (code) { process.exit(code); } : function (code) { quit(code); };
var dir = args[0];
var wasmBytes = readBytes(args[1]);
var size = Math.round(Number(args[2]) * 1024 * 1024);
var waitMs = Number(args[3]);

// jsc has setTimeout but no clearTimeout: a cancelled timer is skipped when it fires.
if (typeof clearTimeout === 'undefined') {
  var nativeSetTimeout = setTimeout;
  var cancelled = {};
  var nextTimer = 1;
  globalThis.setTimeout = function (fn, ms) {
    var id = nextTimer++;
    nativeSetTimeout(function () {
      if (cancelled[id]) delete cancelled[id];
      else fn();
    }, ms || 0);
    return id;
  };
  globalThis.clearTimeout = function (id) { cancelled[id] = true; };
}
if (typeof console === 'undefined') {
  globalThis.console = { log: print, warn: print, error: print, info: print, debug: function () {} };
}

// The file: 1 MiB of xorshift bytes, repeated (its content does not change the hash's speed).
var file = new Uint8Array(size);
var block = new Uint8Array(Math.min(size, 1024 * 1024));
var x = 2463534242;
for (var i = 0; i < block.length; i++) {
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  block[i] = x & 255;
}
for (var at = 0; at < size; at += block.length) file.set(block.subarray(0, Math.min(block.length, size - at)), at);
var FILE_PATH = 'wxfile://tmp/quick.bin';

function ascii(buffer) {
  var bytes = new Uint8Array(buffer);
  var s = '';
  for (var k = 0; k < bytes.length; k++) s += String.fromCharCode(bytes[k]);
  return s;
}

var requests = [];
function reply(options, status, body) {
  setTimeout(function () {
    options.success({ statusCode: status, header: { 'Content-Type': 'application/json', 'X-Request-Id': 'bench' }, data: JSON.stringify(body) });
  }, 0);
}

globalThis.wx = {
  getFileSystemManager: function () {
    return {
      readFile: function (o) {
        setTimeout(function () {
          if (o.filePath !== FILE_PATH) return o.fail({ errMsg: 'readFile:fail no such file' });
          o.success({ data: file.buffer.slice(o.position, o.position + o.length) });
        }, 0);
      },
      statSync: function () { return { size: size, lastModifiedTime: 1, isFile: function () { return true; } }; },
    };
  },
  request: function (o) {
    var body = o.data ? JSON.parse(ascii(o.data)) : {};
    var begin = /\/api\/v1\/file\//.test(o.url) && !/[?&](confirm|renew|upload)\b/.test(o.url);
    requests.push(o.method + (begin ? ' begin' + (body.fullHash ? ' fullHash' : body.beginningHash ? ' beginningHash' : '') : ' ' + o.url));
    if (begin && body.fullHash) reply(o, 200, { path: ['bench', 'quick.bin'], name: 'quick.bin', size: String(size), crc64: '0', type: 'file' });
    else if (begin && body.beginningHash) reply(o, 202, {});
    else reply(o, 400, { code: 'Unexpected', message: 'the bench answers a quick-upload hit only' });
    return { abort: function () {}, onProgressUpdate: function () {} };
  },
  getStorage: function (o) { setTimeout(function () { o.fail({ errMsg: 'getStorage:fail data not found' }); }, 0); },
  setStorage: function (o) { setTimeout(function () { o.success({}); }, 0); },
  removeStorage: function (o) { setTimeout(function () { o.success({}); }, 0); },
  onNetworkStatusChange: function () {},
  getNetworkType: function (o) { setTimeout(function () { o.success({ networkType: 'wifi' }); }, 0); },
};
globalThis.WXWebAssembly = {
  instantiate: function (path, imports) {
    return Promise.resolve({ instance: new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), imports) });
  },
};

// `require` for the package's CommonJS files (index.js, its glue, utf8.js).
var modules = {};
function requireFrom(name) {
  var key = name.replace(/^\.\//, '');
  if (!modules[key]) {
    var module = { exports: {} };
    modules[key] = module;
    new Function('module', 'exports', 'require', readText(dir + '/' + key))(module, module.exports, requireFrom);
  }
  return modules[key].exports;
}

// The logic thread's responsiveness: a 5 ms timer's longest lateness.
var longest = 0;
var running = true;
var last = now();
function tick() {
  var t = now();
  longest = Math.max(longest, t - last - 5);
  last = t;
  if (running) setTimeout(tick, 5);
}

var smh = requireFrom('./index.js');
smh.init({ wasmPath: '/miniprogram_npm/smh-upload/smh_upload_bg.wasm' }).then(function () {
  var client = new smh.SmhClient({
    baseUrl: 'http://127.0.0.1:9', libraryId: 'bench', spaceId: '-', accessToken: 'bench',
    allowedDomains: ['127.0.0.1:9'], quickUploadWait: waitMs, checkpoints: 'none',
  });
  if (size === 0) {
    // MIB 0: the SDK loaded, nothing uploaded (the start-up the xtask subtracts).
    out(JSON.stringify({ bytes: 0, loaded: true }));
    return exit(0);
  }
  var started = now();
  last = started;
  setTimeout(tick, 5);
  return client.upload({ filePath: FILE_PATH, size: size }, 'bench/quick.bin').done().then(function (result) {
    var seconds = (now() - started) / 1000;
    running = false;
    out(JSON.stringify({ bytes: size, seconds: Math.round(seconds * 1000) / 1000, longestBlockMs: Math.round(longest * 10) / 10, instant: result.instant, requests: requests }));
    exit(0);
  });
}).catch(function (e) {
  out(JSON.stringify({ error: String(e && e.message || e), code: e && e.code, requests: requests }));
  exit(1);
});
