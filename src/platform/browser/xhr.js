// XMLHttpRequest for src/platform/browser/xhr.rs (inlined into the package's glue):
// written in JavaScript because the event handlers cost far more wasm than these lines.

/**
 * Sends `method url` with `headers` (JSON text of [name, value, …]: one string crosses from the
 * wasm for less than an array of values) and `body` (a Blob, a Uint8Array or undefined), within
 * `timeout` ms (0: no limit); `progress(loaded)`, when given, hears the upload's progress.
 * Returns the XHR (abort() gives up on it) with `smhEnd`: a promise of the status once loaded,
 * else 'timeout' or 'error' (a network error, a CORS refusal or an abort), that rejects with
 * what open() or send() threw, or with the name of a header setRequestHeader refused.
 */
export function smhXhr(method, url, headers, body, timeout, progress) {
  const xhr = new XMLHttpRequest();
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
    // No progress call after the end: the wasm drops its callback then.
    const end = outcome => () => {
      xhr.upload.onprogress = null;
      resolve(outcome);
    };
    xhr.onload = () => end(xhr.status)();
    xhr.ontimeout = end('timeout');
    xhr.onerror = xhr.onabort = end('error');
    if (progress) xhr.upload.onprogress = e => progress(e.loaded);
    xhr.send(body);
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
