// The direct-COS test page: CommonJS code that runs inside the imitated logic layer (copied into
// the project as pages/cos/cos.js), uploading with smh-upload's CosUploader the way a
// mini-program page does — keys from the customer backend through wx.request, files as
// `{filePath, size}`. The tests (cos-uploader.test.mjs, node side) read plain records back.
'use strict';

const smh = require('smh-upload');

/** Keys from the devserver's customer backend (`POST /credentials`), STS shape. */
function credentials(app) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: `${app}/credentials`,
      method: 'POST',
      data: {},
      header: { 'content-type': 'application/json' },
      success: reply => (reply.statusCode === 200 ? resolve(reply.data) : reject(new Error(`POST /credentials: ${reply.statusCode}`))),
      fail: reject,
    });
  });
}

/**
 * Starts an upload of `file` (`{filePath, size}`) to `key` with a fresh CosUploader; returns
 * `{task, finished}` where `finished` resolves with `{result | error, states, finalState,
 * credentialCalls}`.
 */
function start({ ready, file, key, options = {}, uploadOptions = {} }) {
  const record = { states: [], warnings: [], credentialCalls: 0 };
  const cos = new smh.CosUploader({
    bucket: ready.bucket,
    region: ready.region,
    domain: ready.cos,
    getCredentials: () => {
      record.credentialCalls += 1;
      return credentials(ready.app);
    },
    ...options,
  });
  const task = cos.upload(file, key, {
    ...uploadOptions,
    onStateChange: s => record.states.push(s),
    onWarning: w => record.warnings.push(w.code),
  });
  const finished = task.done().then(
    result => ({ ...record, result: JSON.parse(JSON.stringify(result)), finalState: task.state }),
    e => ({ ...record, error: { name: e && e.name, code: e && e.code, status: e && e.status, message: String(e && e.message) }, finalState: task.state }),
  );
  return { task, finished };
}

module.exports = {
  load: options => smh.init(options),
  hasCosUploader: () => typeof smh.CosUploader === 'function',
  start,
};
