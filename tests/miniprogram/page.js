// The test page: CommonJS code that runs inside the imitated logic layer (copied into the
// project as pages/test/test.js), using smh-upload the way a mini-program page does. The tests
// (node side) call these functions and read plain records back.
'use strict';

const smh = require('smh-upload');

/** `wx.request` as a promise. */
function request(options) {
  return new Promise((resolve, reject) => {
    wx.request({ ...options, success: resolve, fail: reject });
  });
}

/** A fresh access token from the customer backend (the devserver's app origin). */
async function token(app) {
  const reply = await request({ url: `${app}/token`, method: 'POST', data: {}, header: { 'content-type': 'application/json' } });
  if (reply.statusCode !== 200) throw new Error(`POST /token: ${reply.statusCode}`);
  return reply.data.accessToken;
}

/** The error fields a test checks. */
function errorRecord(e) {
  return { name: e && e.name, code: e && e.code, status: e && e.status, retryable: e && e.retryable, message: String(e && e.message) };
}

/** A client for the devserver `ready`; `options` override (tokens come from /token by default). */
function client(ready, options = {}) {
  const base = { baseUrl: ready.smh, libraryId: ready.libraryId, spaceId: ready.spaceId, allowedDomains: [ready.cos] };
  if (!('accessToken' in options) && !('getAccessToken' in options)) base.getAccessToken = () => token(ready.app);
  return new smh.SmhClient({ ...base, ...options });
}

/**
 * Starts an upload; returns `{task, record, finished}` where `finished` resolves with the record
 * (`result` or `error`, `states`, `progress`, `finalState`).
 */
function start({ ready, file, path, clientOptions, uploadOptions = {}, client: given }) {
  const record = { states: [], progress: [], warnings: [] };
  const c = given || client(ready, clientOptions);
  const task = c.upload(file, path, {
    ...uploadOptions,
    onStateChange: s => record.states.push(s),
    onProgress: p => record.progress.push({ phase: p.phase, loaded: p.loaded, total: p.total, waiting: p.waiting }),
    onWarning: w => record.warnings.push(w.code),
  });
  const finished = task.done().then(
    result => ({ ...record, result: JSON.parse(JSON.stringify(result)), finalState: task.state }),
    error => ({ ...record, error: errorRecord(error), finalState: task.state }),
  );
  return { task, record, finished, client: c };
}

/** `upload()` that may throw synchronously: the thrown error's fields, or null. */
function uploadThrows(ready, file, path) {
  try {
    client(ready, { accessToken: 'unused' }).upload(file, path);
    return null;
  } catch (e) {
    return errorRecord(e);
  }
}

/** Tencent's cos-wx-sdk-v5 pointed at the devserver's cos origin (signing with its keys). */
function cos(ready, options = {}) {
  const COS = require('cos-wx-sdk-v5');
  // Its URLs are https unless the Domain names a scheme; the devserver's loopback cos origin is http.
  return new COS({ SecretId: ready.secretId, SecretKey: ready.secretKey, Domain: `http://${ready.cos}`, ...options });
}

function cosCall(ready, method, params) {
  return new Promise((resolve, reject) => {
    cos(ready)[method]({ Bucket: ready.bucket, Region: ready.region, ...params }, (err, data) => (err ? reject(err) : resolve(data)));
  });
}

module.exports = {
  load: options => smh.init(options),
  exportNames: () => Object.keys(smh),
  token,
  client,
  start,
  uploadThrows,
  cosCall,
};
