// The demo page's entry: finds the library, loads the SDK from /pkg/, and wires the upload
// pickers and drop zone, the options, the queue, the unfinished uploads (when the SDK can resume
// them), the library browser and the network panel together.

/** The SDK's client class, once `/pkg/smh_upload.js` loaded (imported in `main`, so that a
 *  missing or broken package is reported on the page instead of leaving it blank). */
let SmhClient = null;
import { errorElement, bytes, time, el } from './format.js';
import { findLibrary, joinPath, Library, TokenSource } from './smh.js';
import { Queue } from './queue.js';
import { LibraryBrowser } from './library.js';
import { NetworkPanel } from './network.js';

const $ = id => document.getElementById(id);
const OPTIONS_KEY = 'smh-upload-demo/options';

/** The visitor's options, kept across reloads. */
function loadOptions() {
  const form = $('options-form');
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(OPTIONS_KEY) || '{}');
  } catch {
    saved = {};
  }
  for (const [name, value] of Object.entries(saved)) {
    const field = form.elements.namedItem(name);
    if (!field) continue;
    if (field.type === 'checkbox') field.checked = Boolean(value);
    else field.value = String(value);
  }
}

/** The form's options; an empty number field is left to the SDK's default. */
function readOptions() {
  const form = $('options-form');
  const field = name => form.elements.namedItem(name);
  const number = name => (field(name).value.trim() === '' ? undefined : Number(field(name).value));
  return {
    conflict: field('conflict').value,
    quickUpload: field('quickUpload').checked,
    concurrency: number('concurrency'),
    partSize: number('partSize'),
  };
}

/** Everything the page needs once the SDK and the library are known. */
class Demo {
  constructor(where) {
    this.where = where;
    this.tokens = new TokenSource(where.spaceId);
    this.library = new Library(where, this.tokens);
    /** One client per distinct connection settings (parts in flight, part size): uploads
     *  started with the same settings share one client, and so its limit of parts in flight,
     *  however often the options changed in between. */
    this.clients = new Map();
    this.target = '';
    this.pending = [];
    this.queue = new Queue({
      list: $('queue'),
      summary: $('queue-summary'),
      pauseAll: $('pause-all'),
      resumeAll: $('resume-all'),
      clearFinished: $('clear-finished'),
      settings: () => ({ client: this.currentClient(), uploadOptions: this.uploadOptions() }),
      onFinished: () => this.browser.reload(),
    });
    this.browser = new LibraryBrowser(this.library, {
      list: $('entries'),
      crumbs: $('crumbs'),
      status: $('library-status'),
      folderForm: $('folder-form'),
      refreshButton: $('refresh'),
      onNavigate: path => {
        this.target = path;
        $('target').textContent = `/${path}`;
      },
    });
    this.network = new NetworkPanel(
      {
        smhBytes: $('smh-bytes'), smhRequests: $('smh-requests'), cosBytes: $('cos-bytes'), cosRequests: $('cos-requests'),
        share: $('share'), failed: $('net-failed'), faults: $('net-faults'), tokens: $('net-tokens'), renewals: $('net-renewals'),
        latest: $('net-latest'), reset: $('net-reset'), faultStatus: $('fault-status'), clear: $('faults-clear'),
        expireToken: $('expire-token'), expireUploads: $('expire-uploads'),
        switches: { fail: $('fault-fail'), slow: $('fault-slow') },
      },
      this.tokens,
    );
  }

  /** The client for new uploads, with the options' connection settings. */
  currentClient() {
    const { concurrency, partSize } = readOptions();
    return this.clientFor({ concurrency, partSize });
  }

  /** The client made earlier with these settings, or a new one (which throws the SDK's
   *  InvalidInput for settings it refuses). */
  clientFor({ concurrency, partSize }) {
    const key = JSON.stringify({ concurrency, partSize });
    let client = this.clients.get(key);
    if (!client) {
      const options = {
        baseUrl: this.where.smh,
        libraryId: this.where.libraryId,
        spaceId: this.where.spaceId,
        getAccessToken: () => this.tokens.fresh(),
      };
      // Bytes may go to the library's COS origin only (the devserver's, here).
      if (this.where.cos) options.allowedDomains = [this.where.cos];
      if (concurrency !== undefined) options.concurrency = concurrency;
      if (partSize !== undefined) options.partSize = partSize;
      client = new SmhClient(options);
      this.clients.set(key, client);
    }
    return client;
  }

  /** A client for the unfinished uploads (any will do: they share the page's checkpoint store);
   *  one with the SDK's defaults while the options are invalid. */
  anyClient() {
    try {
      return this.currentClient();
    } catch {
      return this.clientFor({});
    }
  }

  uploadOptions() {
    const { conflict, quickUpload } = readOptions();
    return { conflict, quickUpload };
  }

  /** Checks the options by building a client with them; says what is wrong, if anything. */
  optionsChanged() {
    const form = $('options-form');
    const values = readOptions();
    try {
      localStorage.setItem(OPTIONS_KEY, JSON.stringify({ ...values, partSize: form.elements.namedItem('partSize').value }));
    } catch {
      // storage full or disabled: options just are not remembered
    }
    try {
      this.currentClient();
      $('options-error').replaceChildren();
    } catch (error) {
      $('options-error').replaceChildren(errorElement(error));
    }
  }

  async start() {
    loadOptions();
    $('options-form').addEventListener('change', () => this.optionsChanged());
    $('options-form').addEventListener('submit', event => event.preventDefault());
    this.optionsChanged();
    this.wirePickers();
    this.wireDropZone();
    $('network').hidden = !(await this.network.start());
    await this.showPending();
    await this.browser.open('');
  }

  wirePickers() {
    for (const input of [$('files'), $('folder')]) {
      input.disabled = false;
      input.addEventListener('change', () => {
        const picked = [...input.files].map(file => ({ file, relative: file.webkitRelativePath || file.name }));
        input.value = '';
        this.uploadAll(picked);
      });
    }
    // Browsers without folder picking: hide that picker.
    if (!('webkitdirectory' in $('folder'))) $('folder-picker').hidden = true;
  }

  wireDropZone() {
    const zone = $('drop');
    const over = on => event => {
      event.preventDefault();
      zone.classList.toggle('over', on);
    };
    zone.addEventListener('dragenter', over(true));
    zone.addEventListener('dragover', over(true));
    zone.addEventListener('dragleave', over(false));
    zone.addEventListener('drop', async event => {
      over(false)(event);
      const entries = [...event.dataTransfer.items].map(item => item.webkitGetAsEntry?.()).filter(Boolean);
      const picked = entries.length ? await collectEntries(entries) : [...event.dataTransfer.files].map(file => ({ file, relative: file.name }));
      this.uploadAll(picked);
    });
    // A drop outside the zone must not navigate away from the page.
    window.addEventListener('dragover', event => event.preventDefault());
    window.addEventListener('drop', event => event.preventDefault());
  }

  /**
   * Uploads `{file, relative}` items into the current folder (the SDK creates the sub-folders a
   * folder upload needs: `createParents`). A file headed for the path of an unfinished upload
   * continues it when it is the same file (the SDK checks its name, size and modification time;
   * another file there starts afresh).
   */
  uploadAll(picked) {
    const base = this.target;
    for (const { file, relative } of picked) {
      const path = joinPath(base, relative);
      this.forgetPending(path);
      this.queue.add(file, path);
    }
  }

  /** Removes the unfinished upload of `path` from the list, if there is one. */
  forgetPending(path) {
    const before = this.pending.length;
    this.pending = this.pending.filter(p => p.path !== path);
    if (this.pending.length !== before) this.renderPending();
  }

  /** Lists unfinished uploads — only when the SDK can resume them (`client.pendingUploads`). */
  async showPending() {
    const client = this.anyClient();
    if (!client || typeof client.pendingUploads !== 'function') return;
    try {
      this.pending = (await client.pendingUploads()) || [];
    } catch (error) {
      this.pending = [];
      $('pending').hidden = false;
      $('pending-list').replaceChildren(el('li', {}, errorElement(error, 'Unfinished uploads: ')));
      return;
    }
    this.renderPending();
  }

  renderPending() {
    $('pending').hidden = this.pending.length === 0;
    $('pending-list').replaceChildren(...this.pending.map(entry => this.pendingRow(entry)));
  }

  pendingRow(entry) {
    const picker = el('input', { type: 'file', 'aria-label': `Choose ${entry.name} again to resume it` });
    picker.addEventListener('change', () => {
      const file = picker.files[0];
      if (!file) return;
      if (file.size !== entry.size) {
        row.querySelector('.message').replaceChildren(
          errorElement({ code: 'NotTheSameFile', message: `${file.name} has ${bytes(file.size)}; the unfinished upload had ${bytes(entry.size)}.` }),
        );
        picker.value = '';
        return;
      }
      this.pending = this.pending.filter(p => p !== entry);
      this.renderPending();
      // The picker went with its row: keyboard focus follows the upload to its queue row.
      this.queue.add(file, entry.path).focus();
    });
    const discard = el('button', { type: 'button', class: 'small danger', 'aria-label': `Discard ${entry.name}` }, 'Discard');
    discard.addEventListener('click', async () => {
      discard.disabled = true;
      const index = this.pending.indexOf(entry);
      try {
        await this.anyClient().discardPending(entry.path);
        this.pending = this.pending.filter(p => p !== entry);
        this.renderPending();
        // Keyboard focus goes to the next unfinished upload, or back to the file picker.
        const rows = $('pending-list').children;
        const next = rows[Math.min(index, rows.length - 1)];
        (next ? next.querySelector('button') : $('files')).focus();
      } catch (error) {
        discard.disabled = false;
        row.querySelector('.message').replaceChildren(errorElement(error));
      }
    });
    const done = entry.size ? Math.round((100 * entry.loaded) / entry.size) : 0;
    const row = el(
      'li',
      { dataset: { name: entry.name, path: entry.path, loaded: String(entry.loaded) } },
      el('div', { class: 'item-head' }, el('span', { class: 'name' }, entry.name), el('span', { class: 'badge' }, `${done} %`)),
      el('div', { class: 'muted small' }, `/${entry.path} · ${bytes(entry.loaded)} of ${bytes(entry.size)}`, entry.updatedAt ? ` · ${time(entry.updatedAt)}` : ''),
      el('div', { class: 'actions' }, el('label', { class: 'picker small' }, 'Resume with file', picker), discard),
      el('div', { class: 'message' }),
    );
    return row;
  }
}

/** Files under dropped entries (folders read recursively), with their paths relative to the drop. */
async function collectEntries(entries) {
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, relative: prefix + file.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const entry of entries) await walk(entry, '');
  return out;
}

function showBootError(error, prefix) {
  const box = $('boot-error');
  box.hidden = false;
  box.replaceChildren(errorElement(error, prefix));
  $('where').textContent = '';
  document.body.dataset.ready = 'error';
}

async function main() {
  const where = await findLibrary();
  if (!where) {
    showBootError(
      { code: 'NoLibrary', message: 'This page does not know where SMH is. Open the URL that `cargo xtask demo` printed.' },
      'Cannot start: ',
    );
    return;
  }
  $('where').replaceChildren(
    'Library ', el('code', {}, where.libraryId), ' at ', el('code', {}, where.smh),
    where.cos ? ' · bytes to COS at ' : '', where.cos ? el('code', {}, where.cos) : '',
  );
  try {
    const sdk = await import('/pkg/smh_upload.js');
    await sdk.default();
    SmhClient = sdk.SmhClient;
  } catch (error) {
    showBootError(
      { code: 'SdkLoadFailed', message: `The SDK (/pkg/smh_upload.js) did not load (${error && error.message}); build it with \`cargo xtask pkg\`.` },
      'Cannot start: ',
    );
    return;
  }
  const demo = new Demo(where);
  await demo.start();
  document.body.dataset.ready = 'true';
}

main().catch(error => showBootError(error, 'Cannot start: '));
