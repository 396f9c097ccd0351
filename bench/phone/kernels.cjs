// The SDK's own CRC-64 and SHA-256 kernels, as the package ships them, run over bytes already in
// wasm memory: the work a mini-program does per part (CRC-64) and per quick-upload hash (SHA-256).
// A plain script for both shells `cargo xtask bench --only phone` compares:
//
//   node kernels.cjs WASM KERNEL MIB CALL_KIB
//   jsc --useJIT=false kernels.cjs -- WASM KERNEL MIB CALL_KIB
//
// `jsc --useJIT=false` interprets wasm, as WeChat does on iOS (no JIT for the mini-program's
// JavaScriptCore). KERNEL is `crc64` or `sha256`; MIB the bytes to process; CALL_KIB the bytes one
// synchronous call takes (the slice the SDK hands the kernel at a time). MIB 0 processes nothing,
// so the xtask can subtract start-up (compile, instantiate, filling the buffer) from the CPU time
// it measures of the whole process. Prints one JSON line: {kernel, bytes, calls, longestCallMs}.
//
// The kernels are the raw `smh_worker_*` exports (src/bindings/worker.rs): plain functions over
// one buffer of wasm memory, calling no import, so every import is a stub that throws.

/* global readFile, print, preciseTime */
var isNode = typeof process !== 'undefined' && process.versions && process.versions.node;
var args = isNode ? process.argv.slice(2) : Array.prototype.slice.call(arguments);
var out = isNode ? function (line) { console.log(line); } : print;
var now = isNode ? function () { return performance.now(); } : function () { return preciseTime() * 1000; };
var wasmBytes = isNode ? new Uint8Array(require('fs').readFileSync(args[0])) : readFile(args[0], 'binary');
var kernel = args[1];
var total = Math.round(Number(args[2]) * 1024 * 1024);
var call = Math.round(Number(args[3]) * 1024);
if (kernel !== 'crc64' && kernel !== 'sha256') throw new Error('KERNEL must be crc64 or sha256');
if (!(call > 0)) throw new Error('CALL_KIB must be positive');

var module = new WebAssembly.Module(wasmBytes);
var imports = {};
WebAssembly.Module.imports(module).forEach(function (entry) {
  if (!imports[entry.module]) imports[entry.module] = {};
  imports[entry.module][entry.name] = function () {
    throw new Error(entry.name + ' is not available to the kernels');
  };
});
var exports = new WebAssembly.Instance(module, imports).exports;
var at = exports.smh_worker_alloc(call + 64);
if (!at) throw new Error('smh_worker_alloc failed');
var out32 = at + call;
// Bytes that are not all alike (xorshift), written once: the kernels' speed does not depend on
// the values, but a constant buffer could flatter a future kernel that special-cases it.
var view = new Uint8Array(exports.memory.buffer, at, call);
var x = 2463534242;
for (var i = 0; i < call; i++) {
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  view[i] = x & 255;
}

var crc = 0n;
var done = 0;
var calls = 0;
var longest = 0;
while (done < total) {
  var len = Math.min(call, total - done);
  var started = now();
  if (kernel === 'crc64') crc = exports.smh_worker_crc64(crc, at, len);
  else exports.smh_worker_sha256(at, len, out32);
  var took = now() - started;
  if (took > longest) longest = took;
  done += len;
  calls++;
}
out(JSON.stringify({ kernel: kernel, bytes: done, calls: calls, longestCallMs: Math.round(longest * 10) / 10, crc64: kernel === "crc64" ? String(crc) : undefined }));
