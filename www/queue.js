// The upload queue: one row per file with its progress bar, bytes, speed, ETA and state, and the
// per-file pause / resume / cancel / retry buttons; plus pause-all / resume-all. Every upload
// goes through the SDK's public API: `client.upload(file, path, options)` and its task.

import { bytes, eta, speed, errorElement, el } from './format.js';

const FINISHED = new Set(['done', 'failed', 'cancelled']);

/** Words shown for each task state (the row's `data-state` keeps the SDK's own name). */
const STATE_LABELS = {
  preparing: 'preparing',
  hashing: 'hashing',
  uploading: 'uploading',
  paused: 'paused',
  confirming: 'confirming',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** One file of the queue. */
class QueueItem {
  constructor(queue, file, path) {
    this.queue = queue;
    this.file = file;
    this.path = path;
    this.task = null;
    this.state = 'preparing';
    this.progress = { phase: 'hashing', loaded: 0, total: file.size, speed: 0, eta: null };
    this.result = null;
    this.error = null;
    this.warnings = [];
    this.startedAt = 0;
    this.finishedAt = 0;
    this.renderQueued = false;
    this.row = this.build();
  }

  build() {
    const name = this.file.name;
    this.stateBadge = el('span', { class: 'badge state' });
    this.instantBadge = el('span', { class: 'badge instant', title: 'Quick upload (秒传): SMH already had these bytes, none were sent', hidden: true }, 'instant');
    this.bar = el('progress', { max: '1', value: '0', 'aria-label': `Progress of ${name}` });
    this.numbers = el('span', { class: 'numbers' });
    this.rate = el('span', { class: 'rate' });
    this.where = el('span', { class: 'where' });
    this.message = el('div', { class: 'message', 'aria-live': 'polite' });
    const button = (label, action, extraClass = '') =>
      el('button', { type: 'button', class: `small ${extraClass}`, 'aria-label': `${label} ${name}`, onclick: action }, label);
    this.pauseButton = button('Pause', () => this.pause());
    this.resumeButton = button('Resume', () => this.resume());
    this.cancelButton = button('Cancel', () => this.cancel(), 'danger');
    this.retryButton = button('Retry', () => this.retry());
    return el(
      'li',
      { class: 'item', dataset: { name, path: this.path } },
      el('div', { class: 'item-head' }, el('span', { class: 'name', title: this.path }, name), this.instantBadge, this.stateBadge),
      this.bar,
      el('div', { class: 'item-foot' }, this.numbers, this.rate, this.where),
      el('div', { class: 'actions' }, this.pauseButton, this.resumeButton, this.cancelButton, this.retryButton),
      this.message,
    );
  }

  /** Keyboard focus on a button this render hid moves to the row's next action (Pause →
   *  Resume, Cancel → Upload again), or to the row itself when none is left. */
  keepFocus(focused) {
    if (focused && focused.hidden) this.focus();
  }

  /** Keyboard focus to the row's first visible action, or to the row. */
  focus() {
    const next = [this.pauseButton, this.resumeButton, this.retryButton, this.cancelButton].find(b => !b.hidden);
    if (next) next.focus();
    else {
      this.row.tabIndex = -1;
      this.row.focus();
    }
  }

  /** Starts (or restarts) the upload with the queue's current client and options; options the
   *  SDK refuses fail this row (with the SDK's message), not the rows queued with it. */
  start() {
    this.state = 'preparing';
    this.error = null;
    this.result = null;
    this.warnings = [];
    this.startedAt = performance.now();
    this.progress = { phase: 'hashing', loaded: 0, total: this.file.size, speed: 0, eta: null };
    this.task = null;
    try {
      const { client, uploadOptions } = this.queue.settings();
      this.task = client.upload(this.file, this.path, {
        ...uploadOptions,
        onProgress: p => {
          this.progress = p;
          this.scheduleRender();
        },
        onStateChange: s => {
          this.state = s;
          this.scheduleRender();
          this.queue.changed();
        },
        onWarning: warning => {
          this.warnings.push(warning);
          this.scheduleRender();
        },
      });
    } catch (e) {
      this.fail(e);
      return;
    }
    const task = this.task;
    task.done().then(
      result => {
        if (this.task !== task) return;
        this.result = result;
        this.state = 'done';
        this.finishedAt = performance.now();
        this.scheduleRender();
        this.queue.finished(this);
      },
      error => {
        if (this.task !== task) return;
        if (error && error.code === 'Aborted') this.state = 'cancelled';
        else this.fail(error);
        this.scheduleRender();
        this.queue.changed();
      },
    );
    this.scheduleRender();
  }

  fail(error) {
    this.error = error;
    this.state = 'failed';
    this.scheduleRender();
    this.queue.changed();
  }

  pause() {
    this.task?.pause();
    this.scheduleRender();
  }

  resume() {
    this.task?.resume();
    this.scheduleRender();
  }

  cancel() {
    this.task?.cancel();
    this.scheduleRender();
  }

  retry() {
    this.start();
  }

  get finished() {
    return FINISHED.has(this.state);
  }

  scheduleRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  render() {
    const focused = this.row.contains(document.activeElement) ? document.activeElement : null;
    const state = this.task && !FINISHED.has(this.state) ? this.task.state || this.state : this.state;
    const { phase, loaded, total } = this.progress;
    this.row.dataset.state = state;
    this.stateBadge.textContent = STATE_LABELS[state] || state;
    this.stateBadge.dataset.state = state;
    this.instantBadge.hidden = !(this.result && this.result.instant);

    const size = this.file.size;
    if (state === 'done') {
      this.bar.max = 1;
      this.bar.value = 1;
      const seconds = (this.finishedAt - this.startedAt) / 1000;
      const rate = this.result && !this.result.instant && seconds > 0 ? ` · ${speed(size / seconds)}` : '';
      this.numbers.textContent = `${bytes(size)} in ${seconds.toFixed(1)} s${rate}`;
    } else if (phase === 'hashing' && state !== 'uploading') {
      // Hashing for quick upload reads the file once; the bar shows that read.
      this.bar.max = Math.max(total, 1);
      this.bar.value = loaded;
      this.numbers.textContent = `hashing ${bytes(loaded)} / ${bytes(total)}`;
    } else {
      this.bar.max = Math.max(total || size, 1);
      this.bar.value = Math.min(loaded, total || size);
      this.numbers.textContent = `${bytes(loaded)} / ${bytes(total || size)}`;
    }
    const moving = state === 'uploading' || state === 'hashing';
    this.rate.textContent = moving ? [speed(this.progress.speed), eta(this.progress.eta)].filter(Boolean).join(' · ') : '';
    this.where.textContent = this.result ? `→ /${this.result.path}` : `→ /${this.path}`;

    this.pauseButton.hidden = !(state === 'uploading' || state === 'hashing' || state === 'preparing');
    this.resumeButton.hidden = state !== 'paused';
    this.cancelButton.hidden = FINISHED.has(state);
    this.retryButton.hidden = !(state === 'failed' || state === 'cancelled');
    this.retryButton.textContent = state === 'cancelled' ? 'Upload again' : 'Retry';
    this.retryButton.setAttribute('aria-label', `${this.retryButton.textContent} ${this.file.name}`);

    this.keepFocus(focused);
    this.renderMessage(state);
  }

  /** The row's message: rebuilt only when what it says changes, so that a screen reader
   *  announces an error or a warning once, not at every progress frame. */
  renderMessage(state) {
    const error = state === 'failed' ? this.error : null;
    const renamed = this.result && this.result.path !== this.path ? this.result.path : null;
    const key = JSON.stringify([error && [error.code, error.message], renamed, this.warnings.length]);
    if (key === this.messageKey) return;
    this.messageKey = key;
    this.message.replaceChildren();
    if (error) this.message.append(errorElement(error));
    else if (renamed) this.message.append(el('p', { class: 'note' }, `A file of that name existed: saved as /${renamed}.`));
    for (const warning of this.warnings) this.message.append(el('p', { class: 'note' }, `${warning.code}: ${warning.message}`));
  }
}

/** The list of uploads and its global buttons. */
export class Queue {
  /**
   * `list`: the `<ul>`; `settings()`: `{client, uploadOptions}` for a new upload;
   * `onFinished(item)`: after an upload is done (the library refreshes).
   */
  constructor({ list, summary, pauseAll, resumeAll, clearFinished, settings, onFinished }) {
    this.list = list;
    this.summary = summary;
    this.items = [];
    this.settings = settings;
    this.onFinished = onFinished;
    pauseAll.addEventListener('click', () => this.items.forEach(i => !i.finished && i.state !== 'paused' && i.pause()));
    resumeAll.addEventListener('click', () => this.items.forEach(i => i.state === 'paused' && i.resume()));
    clearFinished.addEventListener('click', () => {
      for (const item of this.items.filter(i => i.finished)) item.row.remove();
      this.items = this.items.filter(i => !i.finished);
      this.changed();
    });
    this.buttons = { pauseAll, resumeAll, clearFinished };
    this.changed();
  }

  /** Queues `file` for library path `path` and starts it at once. */
  add(file, path) {
    const item = new QueueItem(this, file, path);
    this.items.push(item);
    this.list.append(item.row);
    item.start();
    this.changed();
    return item;
  }

  finished(item) {
    this.changed();
    this.onFinished(item);
  }

  /** Updates the summary line and the global buttons. */
  changed() {
    const count = state => this.items.filter(i => i.state === state).length;
    const active = this.items.filter(i => !i.finished).length;
    const parts = [`${this.items.length} file${this.items.length === 1 ? '' : 's'}`];
    if (active) parts.push(`${active} in progress`);
    for (const state of ['paused', 'done', 'failed', 'cancelled']) if (count(state)) parts.push(`${count(state)} ${state}`);
    this.summary.textContent = this.items.length ? parts.join(' · ') : 'Nothing uploaded yet.';
    this.buttons.pauseAll.disabled = !this.items.some(i => !i.finished && i.state !== 'paused');
    this.buttons.resumeAll.disabled = !this.items.some(i => i.state === 'paused');
    this.buttons.clearFinished.disabled = !this.items.some(i => i.finished);
  }
}
