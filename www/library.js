// The library browser: the folders and files of the current directory (size, time, CRC64, a
// thumbnail for images), navigation by breadcrumb, "new folder" and "delete file". The current
// directory is where new uploads go.

import { bytes, time, errorElement, el } from './format.js';
import { joinPath } from './smh.js';

const IMAGE_EXTENSIONS = /\.(png|jpe?g|gif|webp|avif|bmp|svg)$/i;
/** A folder outline (drawn, so it needs no emoji font). */
const FOLDER_ICON =
  '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><path fill="currentColor" d="M3 5.5A1.5 1.5 0 0 1 4.5 4h5l2 2.5h8A1.5 1.5 0 0 1 21 8v10.5a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 18.5z"/></svg>';
/** How long a "Delete" button waits for its confirming second press. */
const CONFIRM_MS = 4000;

export class LibraryBrowser {
  /** `library`: a `Library` (smh.js); `elements`: the section's nodes; `onNavigate(path)`. */
  constructor(library, { list, crumbs, status, folderForm, refreshButton, onNavigate }) {
    this.library = library;
    this.list = list;
    this.crumbs = crumbs;
    this.status = status;
    this.onNavigate = onNavigate;
    this.path = '';
    this.loading = null;
    this.reloadAgain = false;
    // Focusable from script: focus lands here when the last entry is deleted.
    status.tabIndex = -1;
    refreshButton.addEventListener('click', () => this.reload());
    folderForm.addEventListener('submit', event => {
      event.preventDefault();
      const input = folderForm.elements.namedItem('folder');
      const name = input.value.trim();
      if (name) this.createFolder(name).then(ok => ok && (input.value = ''));
    });
  }

  /** Opens directory `path` ('' = root). */
  async open(path) {
    this.path = path;
    this.renderCrumbs();
    this.onNavigate(path);
    await this.reload();
  }

  /** Lists the current directory again (coalescing calls made while one runs). */
  async reload() {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.reloadAgain = false;
        await this.load();
      } while (this.reloadAgain);
    })();
    try {
      await this.loading;
    } finally {
      this.loading = null;
    }
  }

  async load() {
    const path = this.path;
    this.list.setAttribute('aria-busy', 'true');
    try {
      const { entries, truncated } = await this.library.list(path);
      if (path !== this.path) return;
      this.render(entries);
      const files = entries.filter(e => e.type !== 'dir').length;
      const dirs = entries.length - files;
      this.status.replaceChildren(
        entries.length ? `${dirs} folder${dirs === 1 ? '' : 's'}, ${files} file${files === 1 ? '' : 's'}${truncated ? ' (first 1000 shown)' : ''}` : 'This folder is empty. Drop files above to upload them here.',
      );
    } catch (error) {
      if (error.code === 'DirectoryNotFound' && path) {
        // The folder went away: go up.
        await this.open(path.split('/').slice(0, -1).join('/'));
        return;
      }
      this.status.replaceChildren(errorElement(error, 'Listing failed: '));
    } finally {
      this.list.removeAttribute('aria-busy');
    }
  }

  renderCrumbs() {
    const segments = this.path.split('/').filter(Boolean);
    const items = [el('li', {}, this.crumbButton('Root', '', segments.length === 0))];
    segments.forEach((segment, i) => {
      items.push(el('li', {}, this.crumbButton(segment, segments.slice(0, i + 1).join('/'), i === segments.length - 1)));
    });
    this.crumbs.replaceChildren(...items);
  }

  crumbButton(label, path, current) {
    if (current) return el('span', { 'aria-current': 'location' }, label);
    return el('button', { type: 'button', class: 'link', onclick: () => this.open(path) }, label);
  }

  render(entries) {
    const rows = entries.map(entry => (entry.type === 'dir' ? this.folderRow(entry) : this.fileRow(entry)));
    this.list.replaceChildren(...rows);
  }

  folderRow(entry) {
    const path = joinPath(this.path, entry.name);
    return el(
      'li',
      { class: 'entry folder', dataset: { name: entry.name, type: 'dir' } },
      folderIcon(),
      el('button', { type: 'button', class: 'link name', 'aria-label': `Open folder ${entry.name}`, onclick: () => this.open(path) }, `${entry.name}/`),
      el('span', { class: 'meta' }, 'folder', entry.modificationTime ? ` · ${time(entry.modificationTime)}` : ''),
    );
  }

  fileRow(entry) {
    const path = joinPath(this.path, entry.name);
    const isImage = (entry.contentType || '').startsWith('image/') || IMAGE_EXTENSIONS.test(entry.name);
    let thumb;
    if (isImage) {
      thumb = el('img', { class: 'thumb', alt: '' });
      const fallBack = () => thumb.replaceWith(fileIcon(entry.name));
      thumb.addEventListener('error', fallBack);
      // The signed URL is asked for once the thumbnail scrolls into view.
      whenVisible(thumb, () => this.library.fileUrl(path).then(url => (thumb.src = url), fallBack));
    } else {
      thumb = fileIcon(entry.name);
    }
    const size = Number(entry.size);
    const remove = el('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${entry.name}` }, 'Delete');
    let armed = null;
    remove.addEventListener('click', async () => {
      if (!armed) {
        remove.textContent = 'Confirm delete';
        remove.setAttribute('aria-label', `Confirm: delete ${entry.name}`);
        armed = setTimeout(() => {
          armed = null;
          remove.textContent = 'Delete';
          remove.setAttribute('aria-label', `Delete ${entry.name}`);
        }, CONFIRM_MS);
        return;
      }
      clearTimeout(armed);
      remove.disabled = true;
      const index = [...this.list.children].indexOf(remove.closest('li'));
      try {
        await this.library.deleteFile(path);
        await this.reload();
        this.focusEntry(index);
      } catch (error) {
        remove.disabled = false;
        this.status.replaceChildren(errorElement(error, `Deleting ${entry.name} failed: `));
      }
    });
    return el(
      'li',
      { class: 'entry file', dataset: { name: entry.name, type: entry.type, size: String(size) } },
      thumb,
      el('span', { class: 'name', title: `/${path}` }, entry.name),
      el(
        'span',
        { class: 'meta' },
        el('span', { class: 'size', title: `${size} bytes` }, bytes(size)),
        entry.modificationTime ? ` · ${time(entry.modificationTime)}` : '',
        entry.crc64 ? el('span', { class: 'crc' }, ` · CRC64 ${entry.crc64}`) : '',
      ),
      el('span', { class: 'actions' }, remove),
    );
  }

  /** Keyboard focus after the entry at `index` went away: the entry now in its place (or the
   *  last one), else the status line ("This folder is empty"). */
  focusEntry(index) {
    const rows = this.list.children;
    const row = rows[Math.min(index, rows.length - 1)];
    const target = row && row.querySelector('button');
    if (target) target.focus();
    else this.status.focus();
  }

  /** Creates folder `name` in the current directory; true when it worked. */
  async createFolder(name) {
    if (/[\\/:*?"<>|]/.test(name)) {
      this.status.replaceChildren(errorElement({ code: 'IllegalFileName' }, 'New folder: '));
      return false;
    }
    try {
      await this.library.mkdir(joinPath(this.path, name));
      await this.reload();
      return true;
    } catch (error) {
      this.status.replaceChildren(errorElement(error, 'New folder: '));
      return false;
    }
  }
}

/** Calls `action` once, when `element` first comes into view. */
function whenVisible(element, action) {
  const observer = new IntersectionObserver(entries => {
    if (!entries.some(e => e.isIntersecting)) return;
    observer.disconnect();
    action();
  });
  observer.observe(element);
}

function folderIcon() {
  const icon = el('span', { class: 'thumb icon folder-icon', 'aria-hidden': 'true' });
  icon.innerHTML = FOLDER_ICON;
  return icon;
}

/** A tile with the file's extension (`MP4`, `ZIP`; `FILE` without one). */
function fileIcon(name) {
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? name.slice(dot + 1, dot + 5).toUpperCase() : 'FILE';
  return el('span', { class: 'thumb icon extension', 'aria-hidden': 'true' }, extension);
}
