// Where the library is, access tokens from the "customer backend" (this page's own origin), and
// the few SMH directory/file calls the library browser makes itself (the SDK only uploads).

/** An error of this page's own calls, shaped like the SDK's (code, status, requestId). */
export class SmhApiError extends Error {
  constructor(code, message, status = 0, requestId = null) {
    super(message);
    this.name = 'SmhApiError';
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.retryable = status >= 500 || status === 0;
  }
}

/**
 * Where SMH is: the devserver's READY data without secrets (`GET /_dev/ready` on this same
 * origin). Returns `{smh, libraryId, spaceId, cos}` or null. There is deliberately no way to
 * name SMH in this page's URL: the page sends its access tokens to the SMH it was given, and a
 * link must not be able to send them to another host.
 */
export async function findLibrary() {
  try {
    const response = await fetch('/_dev/ready', { cache: 'no-store' });
    if (response.ok) {
      const ready = await response.json();
      if (ready.smh && ready.libraryId) {
        return { smh: ready.smh, libraryId: ready.libraryId, spaceId: ready.spaceId || '-', cos: ready.cos || null };
      }
    }
  } catch {
    // No devserver on this origin.
  }
  return null;
}

/** Access tokens minted by this origin's `POST /token`, as a real page gets them from its backend. */
export class TokenSource {
  constructor(spaceId) {
    this.spaceId = spaceId;
    this.current = null;
    /** How many tokens were minted so far (the network panel shows refreshes). */
    this.minted = 0;
    this.listeners = new Set();
  }

  /** A fresh token (also what the SDK's `getAccessToken` calls, first and on refusal). */
  async fresh() {
    let response;
    try {
      response = await fetch('/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(this.spaceId && this.spaceId !== '-' ? { spaceId: this.spaceId } : {}),
      });
    } catch {
      throw new SmhApiError('AccessTokenError', 'the backend (POST /token) could not be reached');
    }
    if (!response.ok) throw new SmhApiError('AccessTokenError', `POST /token answered HTTP ${response.status}`, response.status);
    const { accessToken } = await response.json();
    this.current = accessToken;
    this.minted += 1;
    for (const listener of this.listeners) listener(this.minted);
    return accessToken;
  }

  /** The current token, minting one if there is none. */
  async get() {
    return this.current ?? this.fresh();
  }
}

/** Percent-encodes each segment of a library path; `''` is the root. */
export function encodePath(path) {
  return path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

/** `a/b` + `c` → `a/b/c`. */
export function joinPath(dir, name) {
  return [...dir.split('/'), ...name.split('/')].filter(Boolean).join('/');
}

/**
 * The SMH calls of the library browser, retried once with a fresh token when SMH refuses it.
 * The token travels in an `Authorization: Bearer` header, never in a URL (URLs end up in
 * histories, logs and `<img src>`).
 */
export class Library {
  constructor({ smh, libraryId, spaceId }, tokens) {
    this.base = smh;
    this.libraryId = libraryId;
    this.spaceId = spaceId;
    this.tokens = tokens;
  }

  url(kind, path, query = {}) {
    const params = new URLSearchParams(query);
    const tail = encodePath(path);
    const search = params.toString();
    return `${this.base}/api/v1/${kind}/${encodeURIComponent(this.libraryId)}/${encodeURIComponent(this.spaceId)}/${tail}${search ? `?${search}` : ''}`;
  }

  async call(method, kind, path, query = {}) {
    const url = this.url(kind, path, query);
    let response = await this.send(method, url, await this.tokens.get());
    if (response.status === 403) {
      const body = await response.clone().json().catch(() => ({}));
      if (body.code === 'InvalidAccessToken') response = await this.send(method, url, await this.tokens.fresh());
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new SmhApiError(body.code || 'HTTP', body.message || `HTTP ${response.status}`, response.status, body.requestId ?? null);
    }
    return response.status === 204 ? null : response.json().catch(() => null);
  }

  async send(method, url, token) {
    try {
      return await fetch(url, { method, cache: 'no-store', headers: { Authorization: `Bearer ${token}` } });
    } catch {
      throw new SmhApiError('Network', 'SMH could not be reached');
    }
  }

  /** Every entry of directory `path` (folders first, as SMH orders them), up to `max`. */
  async list(path, max = 1000) {
    const entries = [];
    let marker = null;
    do {
      const query = { limit: '200', 'by-marker': '1' };
      if (marker) query.marker = marker;
      const page = await this.call('GET', 'directory', path, query);
      entries.push(...(page.contents || []));
      marker = page.nextMarker ?? null;
    } while (marker && entries.length < max);
    return { entries, truncated: Boolean(marker) };
  }

  /** Creates directory `path` (and its parents); an existing one is a 409 `SameNameDirectoryOrFileExists`. */
  async mkdir(path) {
    await this.call('PUT', 'directory', path, { conflict_resolution_strategy: 'ask' });
  }

  async deleteFile(path) {
    await this.call('DELETE', 'file', path);
  }

  /** A short-lived signed COS URL of the file's bytes (SMH's file info, `cosUrl`), for
   *  `<img src>`: it carries a signature for that one object, not the access token. */
  async fileUrl(path) {
    const info = await this.call('GET', 'file', path, { info: '' });
    if (!info || typeof info.cosUrl !== 'string') throw new SmhApiError('InvalidResponse', 'SMH file info has no cosUrl');
    return info.cosUrl;
  }
}
