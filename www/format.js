// Formatting for people: byte counts, speeds, durations, times, and errors as a code plus a
// sentence (never a stack).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `"1.5 KiB"`. */
export function bytes(n) {
  if (!Number.isFinite(n) || n < 0) return '–';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** Bytes per second → `"12.3 MiB/s"`. */
export function speed(bytesPerSecond) {
  return bytesPerSecond > 0 ? `${bytes(bytesPerSecond)}/s` : '';
}

/** Seconds left → `"1 min 5 s left"`; empty while unknown. */
export function eta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s left`;
  return `${Math.floor(m / 60)} h ${m % 60} min left`;
}

/** An ISO time → the visitor's local date and time, short. */
export function time(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

/** What an error code means, in one sentence a visitor understands. */
const SENTENCES = {
  Aborted: 'The upload was cancelled.',
  AccessTokenError: 'The page could not get an access token from its backend.',
  BadCrc64: 'SMH found that the uploaded bytes do not match the file; nothing was saved.',
  DirectoryNotFound: 'The folder does not exist (any more) in the library.',
  DomainNotAllowed: 'SMH pointed the upload at a host that is not on the allow-list, so no byte was sent.',
  FileNotFound: 'That file is not in the library (any more).',
  FileReadError: 'The browser could not read the file (was it moved or changed?).',
  IllegalFileName: 'The name contains a character SMH does not allow (\\ / : * ? " < > |).',
  IntegrityMismatch: 'The bytes COS stored differ from the file; the upload was stopped.',
  InvalidAccessToken: 'SMH refused the access token (expired or for another library).',
  InvalidInput: 'An option has a value the SDK does not accept.',
  InvalidResponse: 'A server answered something the SDK could not understand.',
  Network: 'The network failed several times in a row; retry when the connection is back.',
  NoPermission: 'The access token does not allow this operation.',
  QuotaLimitReached: 'The library has no space left for this file.',
  SameNameDirectoryOrFileExists: 'Something with that name already exists here.',
  Timeout: 'A server did not answer in time.',
  UploadNotFound: 'SMH no longer knows this upload (cancelled or expired).',
};

/**
 * `{code, sentence, hint, detail}` for anything thrown: an SmhUploadError (code, status,
 * requestId, retryable), an error of this page's own calls (code set the same way), or anything
 * else. The error's own message comes first — the SDK's names the option or the file at fault —
 * and this page's sentence for the code, when it has one, follows it as a hint.
 */
export function describeError(error) {
  const code = (error && typeof error.code === 'string' && error.code) || (error && error.name) || 'Error';
  const own = firstLine(error && error.message);
  const known = SENTENCES[code] || '';
  const sentence = own || known || 'Something went wrong.';
  const hint = own && known && known !== own ? known : '';
  const parts = [];
  if (error && error.status) parts.push(`HTTP ${error.status}`);
  if (error && error.requestId) parts.push(`request ${error.requestId}`);
  if (error && error.retryable) parts.push('retryable');
  return { code, sentence, hint, detail: parts.join(' · ') };
}

function firstLine(text) {
  return typeof text === 'string' ? text.split('\n')[0].slice(0, 300) : '';
}

/** A `<p class="error">` showing `describeError(error)`. */
export function errorElement(error, prefix = '') {
  const { code, sentence, hint, detail } = describeError(error);
  const p = document.createElement('p');
  p.className = 'error';
  p.setAttribute('role', 'alert');
  const strong = document.createElement('strong');
  strong.textContent = code;
  p.append(prefix, strong, ` — ${sentence}`);
  if (hint) {
    const span = document.createElement('span');
    span.className = 'hint';
    span.textContent = ` ${hint}`;
    p.append(span);
  }
  if (detail) {
    const small = document.createElement('small');
    small.textContent = ` (${detail})`;
    p.append(small);
  }
  return p;
}

/** `el('button', {class: 'x', onclick}, 'text', child)`: a small element builder. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.filter(c => c !== undefined && c !== null && c !== false));
  return node;
}
