// smh-upload for WeChat mini-programs: the CommonJS entry that "构建 npm" (build npm) copies to
// miniprogram_npm/smh-upload/index.js.
//
//   const { init, SmhClient, CosUploader } = require('smh-upload');
//   await init();                       // or init({ wasmPath: '/sub/miniprogram_npm/smh-upload/smh_upload_bg.wasm.br' })
//   const client = new SmhClient({ ...the web options });
//   const task = client.upload({ filePath, size }, 'dir/video.mp4', { onProgress });
//   // direct COS with temporary credentials: new CosUploader({ bucket, region, getCredentials })
//
// The logic layer has no `WebAssembly`, only `WXWebAssembly`, whose `instantiate(path, imports)`
// takes a path inside the code package (never bytes or a URL) and whose result is documented
// both as `{ instance, module }` and as a bare `Instance`; both are accepted. Nothing here
// defines a global.
'use strict';

const glue = require('./smh_upload_bg.js');

/** Where "build npm" puts the wasm when package.json sits in miniprogramRoot (the default). */
const DEFAULT_WASM_PATH = '/miniprogram_npm/smh-upload/smh_upload_bg.wasm.br';
/** The module name the wasm imports its JS functions from (wasm-bindgen's bundler target). */
const GLUE_MODULE = './smh_upload_bg.js';

let loading = null;

function sdkError(message) {
  const error = new Error(message);
  error.name = 'SmhUploadError';
  error.code = 'InvalidInput';
  error.status = 0;
  error.requestId = null;
  error.retryable = false;
  return error;
}

/**
 * Loads the wasm once; later calls return the same promise (after a failure, the next call
 * tries again). `options.wasmPath`: the `.wasm.br` (or `.wasm`) path inside the code package,
 * for packages installed elsewhere (a sub-package's own miniprogram_npm).
 */
function init(options) {
  if (loading) return loading;
  const wasmPath = options && options.wasmPath !== undefined ? options.wasmPath : DEFAULT_WASM_PATH;
  if (typeof wasmPath !== 'string' || !/\.wasm(\.br)?$/.test(wasmPath)) {
    return Promise.reject(sdkError('invalid `wasmPath`: must be a path inside the code package ending in .wasm.br or .wasm'));
  }
  if (typeof WXWebAssembly === 'undefined') {
    return Promise.reject(sdkError('WXWebAssembly is missing: smh-upload needs WeChat base library 2.14 or later'));
  }
  loading = Promise.resolve()
    .then(() => WXWebAssembly.instantiate(wasmPath, { [GLUE_MODULE]: glue }))
    .then(result => {
      const instance = result && result.instance ? result.instance : result;
      if (!instance || !instance.exports) throw new Error(`WXWebAssembly.instantiate('${wasmPath}') gave no instance`);
      glue.__wbg_set_wasm(instance.exports);
      instance.exports.__wbindgen_start();
    });
  loading.catch(() => {
    loading = null;
  });
  return loading;
}

// The public names of the glue (the same classes as the web build), plus `init`.
const api = { init, default: init };
for (const name of Object.keys(glue)) {
  if (!name.startsWith('__')) api[name] = glue[name];
}
module.exports = api;
