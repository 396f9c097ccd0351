
// ---- CosUploader (src/bindings/js/api.js explains this layer; the wasm side is src/bindings/cos.rs) ----

const smh$COS_OPTIONS = ['bucket', 'region', 'domain', 'getCredentials', 'allowedDomains', 'concurrency', 'partSize', 'multipartThreshold', 'retries', 'requestTimeout', 'stallTimeout', 'offlineTimeout', 'checkpoints'];
const smh$COS_UPLOAD_OPTIONS = ['contentType', 'meta', ...smh$TASK_OPTIONS];

/** `getCredentials()` must give an object; the wasm reads it as JSON text. */
function smh$credentials(v) {
  if (typeof v !== 'object' || v === null) throw 'getCredentials must resolve to an object';
  let text;
  try {
    text = JSON.stringify(v);
  } catch (e) {}
  if (typeof text !== 'string') throw 'getCredentials resolved to an object that is not JSON';
  return text;
}

export class CosUploader extends smh$Client {
  /** Creates an uploader. Throws `SmhUploadError`: `InvalidInput` for bad options,
   *  `DomainNotAllowed` when `allowedDomains` does not allow the bucket's domain. */
  constructor(options) {
    super();
    const o = smh$options(options, 'CosUploader', smh$COS_OPTIONS, false);
    const bucket = smh$required(o, 'bucket', 'CosUploader');
    const region = smh$required(o, 'region', 'CosUploader');
    const domain = smh$string(o, 'domain');
    const get = smh$function(o, 'getCredentials');
    if (!get) throw smh$invalid('getCredentials', 'is required: an async function returning temporary credentials');
    const values = smh$common(o);
    values.push(smh$checkpoints(o), bucket, region, domain, smh$bounded(get, 'getCredentials', smh$credentials));
    this[smh$RAW] = smh$call(() => new __Cos(values));
  }
  /** Starts uploading `file` to the object `key`. */
  upload(file, key, options) {
    // A File's or Blob's own type is the object's Content-Type unless the options say one (for
    // multipart uploads too, where the bytes carry no type of their own).
    const fileType = smh$absent(file) || typeof file.type !== 'string' || file.type === '' ? undefined : file.type;
    const o = smh$options(options, 'upload', smh$COS_UPLOAD_OPTIONS, true);
    const meta = o.meta;
    let pairs = [];
    if (!smh$absent(meta)) {
      if (typeof meta !== 'object' || Array.isArray(meta)) throw smh$invalid('meta', 'must be an object of name: value strings');
      pairs = Object.entries(meta);
      if (!pairs.every(([, v]) => typeof v === 'string')) throw smh$invalid('meta', 'must map names to string values');
    }
    const contentType = smh$or(smh$string(o, 'contentType'), fileType);
    if (typeof key !== 'string') throw smh$invalid('key', 'must be a string');
    return new UploadTask(events => this[smh$RAW].upload(file, key, contentType, JSON.stringify(pairs), events), o, file);
  }
  /** Forgets the unfinished uploads to `key` (all of them without it) and aborts them on COS. */
  discardPending(key) {
    return this[smh$DISCARD](key, 'key');
  }
}
