
// ---- SmhClient (src/bindings/js/api.js explains this layer; the wasm side is src/bindings/client.rs) ----

const smh$CLIENT_OPTIONS = ['baseUrl', 'libraryId', 'spaceId', 'userId', 'accessToken', 'getAccessToken', 'allowedDomains', 'concurrency', 'partSize', 'multipartThreshold', 'retries', 'requestTimeout', 'stallTimeout', 'offlineTimeout', 'checkpoints', 'createParents', 'quickUploadWait'];
const smh$UPLOAD_OPTIONS = ['conflict', 'quickUpload', 'createParents', ...smh$TASK_OPTIONS];
/** `conflict` as the wasm takes it. */
const smh$CONFLICTS = ['rename', 'overwrite', 'ask'];

/** `getAccessToken()` must give a non-empty string. */
function smh$token(t) {
  if (typeof t !== 'string' || t === '') throw 'getAccessToken must resolve to a non-empty string';
  return t;
}

export class SmhClient extends smh$Client {
  /** Creates a client. Throws `SmhUploadError` (`InvalidInput`) for bad options. */
  constructor(options) {
    super();
    const o = smh$options(options, 'SmhClient', smh$CLIENT_OPTIONS, false);
    const baseUrl = smh$required(o, 'baseUrl', 'SmhClient');
    const libraryId = smh$required(o, 'libraryId', 'SmhClient');
    const spaceId = smh$or(smh$string(o, 'spaceId'), '-');
    const userId = smh$string(o, 'userId');
    const accessToken = smh$string(o, 'accessToken');
    const values = smh$common(o);
    const get = smh$function(o, 'getAccessToken');
    if (!get && !accessToken) throw smh$invalid('accessToken', 'give `accessToken` or `getAccessToken`');
    const createParents = smh$boolean(o, 'createParents');
    const quickUploadWait = smh$timeout(o, 'quickUploadWait', 0);
    values.push(smh$checkpoints(o), baseUrl, libraryId, spaceId, userId, accessToken);
    values.push(get && smh$bounded(get, 'getAccessToken', smh$token), createParents === undefined ? NaN : +createParents, quickUploadWait);
    this[smh$RAW] = smh$call(() => new __Smh(values));
  }
  /** Starts uploading `file` (a `Blob` or `File`) to `path` in the library. */
  upload(file, path, options) {
    const o = smh$options(options, 'upload', smh$UPLOAD_OPTIONS, true);
    const conflict = smh$CONFLICTS.indexOf(smh$or(smh$string(o, 'conflict'), 'rename'));
    if (conflict < 0) throw smh$invalid('conflict', "must be 'rename', 'overwrite' or 'ask'");
    const quickUpload = smh$or(smh$boolean(o, 'quickUpload'), true);
    const createParents = smh$boolean(o, 'createParents');
    if (typeof path !== 'string') throw smh$invalid('path', 'must be a string');
    return new UploadTask(events => this[smh$RAW].upload(file, path, conflict, quickUpload, createParents, events), o, file);
  }
  /** Forgets the unfinished uploads to `path` (all of them without it) and cancels them on the server. */
  discardPending(path) {
    return this[smh$DISCARD](path, 'path');
  }
}
