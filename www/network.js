// The network panel: what went where (bytes to SMH, the control API, vs to COS, the data
// origin) read from the devserver's request log (`GET /_dev/log`), and the fault switches
// that script the devserver (`/_dev/faults`, `/_dev/tokens/expire`, `/_dev/uploads/expire`) so a
// visitor can watch retries, token refresh and renewals do their work.

import { bytes, errorElement, el } from './format.js';

/** How often the request log is read. */
const POLL_MS = 1000;
/** Requests listed under "latest". */
const LATEST = 8;
/** A rule's `times`: "until switched off" (the devserver counts down from here). */
const FOREVER = 1_000_000;

/** The switchable faults, in the order they are posted (the devserver tries rules in order). */
const SWITCHES = {
  fail: {
    origin: 'cos', method: 'PUT', every: 5, times: FOREVER,
    action: { type: 'status', status: 500, code: 'InternalError', message: 'injected by the demo: every 5th upload request fails' },
  },
  slow: { origin: 'cos', method: 'PUT', times: FOREVER, action: { type: 'delay', ms: 1500 } },
};

/** How the request log's `fault` names read in the list. */
const FAULT_WORDS = { delay: 'delayed', status: 'failed on purpose', reset: 'connection reset', stall: 'stalled', expired: 'expired', dropReply: 'reply lost', badCrc: 'bad CRC' };

async function dev(method, hook, body) {
  const response = await fetch(`/_dev/${hook}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let message = `HTTP ${response.status}`;
    try {
      message = JSON.parse(text).error || message;
    } catch {
      // not JSON: keep the status
    }
    throw Object.assign(new Error(message), { code: 'DevHookFailed', status: response.status });
  }
  return response.status === 204 ? null : response.json();
}

export class NetworkPanel {
  /** `elements`: the panel's nodes; `tokens`: the TokenSource (its mint count is shown). */
  constructor(elements, tokens) {
    this.el = elements;
    this.tokens = tokens;
    this.mark = null;
    this.totals = this.emptyTotals();
    this.latest = [];
    this.timer = null;
    tokens.listeners.add(() => this.renderTotals());
    elements.reset.addEventListener('click', () => {
      this.totals = this.emptyTotals();
      this.latest = [];
      this.mintedAtReset = this.tokens.minted;
      this.render();
    });
    this.mintedAtReset = 0;
    for (const name of Object.keys(SWITCHES)) {
      elements.switches[name].addEventListener('change', () => this.applySwitches());
    }
    elements.expireToken.addEventListener('click', () => this.oneShot('tokens/expire', {}, 'Every access token is now expired: the next SMH call is refused and the SDK asks the page for a new one.'));
    elements.expireUploads.addEventListener('click', () => this.oneShot('uploads/expire', {}, 'Every upload authorisation is now expired: COS refuses the next part and the SDK renews the upload.'));
    elements.clear.addEventListener('click', async () => {
      for (const box of Object.values(elements.switches)) box.checked = false;
      await this.applySwitches();
    });
  }

  emptyTotals() {
    return { smh: { requests: 0, bytes: 0 }, cos: { requests: 0, bytes: 0 }, failed: 0, faults: 0, renewals: 0 };
  }

  /** Starts polling; false when this origin has no devserver hooks (the panel then hides). */
  async start() {
    try {
      const entries = await dev('GET', 'log');
      this.mark = entries.reduce((max, e) => Math.max(max, e.seq), 0);
      // Faults left over from an earlier visit: show them as switched on.
      const { rules } = await dev('GET', 'faults');
      for (const [name, spec] of Object.entries(SWITCHES)) {
        this.el.switches[name].checked = rules.some(r => r.times > 0 && r.action.type === spec.action.type && r.origin === spec.origin);
      }
    } catch {
      return false;
    }
    this.render();
    this.poll();
    return true;
  }

  async poll() {
    try {
      const entries = await dev('GET', `log?since=${this.mark}`);
      for (const entry of entries) this.count(entry);
      if (entries.length) this.render();
    } catch {
      // The devserver went away for a moment; the next poll tries again.
    }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  count(entry) {
    this.mark = Math.max(this.mark, entry.seq);
    if (entry.method === 'OPTIONS') return;
    const side = this.totals[entry.origin];
    if (!side) return;
    side.requests += 1;
    side.bytes += entry.bytesIn;
    if (entry.status === 0 || entry.status >= 400) this.totals.failed += 1;
    if (entry.fault && entry.fault !== 'delay') this.totals.faults += 1;
    if (entry.op === 'renew') this.totals.renewals += 1;
    this.latest.unshift(entry);
    this.latest.length = Math.min(this.latest.length, LATEST);
  }

  render() {
    this.renderTotals();
    this.el.latest.replaceChildren(
      ...this.latest.map(e =>
        el(
          'li',
          { class: e.status === 0 || e.status >= 400 ? 'bad' : '' },
          el('span', { class: `origin ${e.origin}` }, e.origin.toUpperCase()),
          el('span', { class: 'op' }, e.op, e.fault ? el('span', { class: 'fault' }, ` · ${FAULT_WORDS[e.fault] || e.fault}`) : ''),
          el('span', { class: 'status' }, e.status === 0 ? 'dropped' : String(e.status)),
          el('span', { class: 'bytes' }, e.bytesIn ? bytes(e.bytesIn) : ''),
        ),
      ),
    );
    if (!this.latest.length) this.el.latest.append(el('li', { class: 'empty' }, 'No request yet.'));
  }

  renderTotals() {
    const { smh, cos, failed, faults, renewals } = this.totals;
    this.el.smhBytes.textContent = bytes(smh.bytes);
    this.el.smhRequests.textContent = `${smh.requests} request${smh.requests === 1 ? '' : 's'}`;
    this.el.cosBytes.textContent = bytes(cos.bytes);
    this.el.cosRequests.textContent = `${cos.requests} request${cos.requests === 1 ? '' : 's'}`;
    const all = smh.bytes + cos.bytes;
    this.el.share.classList.toggle('empty', all === 0);
    this.el.share.style.setProperty('--smh-share', all ? `${Math.max(0.5, (100 * smh.bytes) / all)}%` : '0%');
    this.el.failed.textContent = String(failed);
    this.el.faults.textContent = String(faults);
    this.el.renewals.textContent = String(renewals);
    this.el.tokens.textContent = String(this.tokens.minted - this.mintedAtReset);
  }

  /** Replaces the devserver's fault rules with those of the switches that are on. */
  async applySwitches() {
    const rules = Object.entries(SWITCHES)
      .filter(([name]) => this.el.switches[name].checked)
      .map(([, rule]) => rule);
    const boxes = Object.values(this.el.switches);
    boxes.forEach(b => (b.disabled = true));
    try {
      await dev('DELETE', 'faults');
      if (rules.length) await dev('POST', 'faults', rules);
      this.say(rules.length ? `${rules.length} fault rule${rules.length === 1 ? '' : 's'} active.` : 'No fault injected: the network behaves.');
    } catch (error) {
      this.say(errorElement(error, 'Fault switch: '));
    } finally {
      boxes.forEach(b => (b.disabled = false));
    }
  }

  async oneShot(hook, body, done) {
    try {
      await dev('POST', hook, body);
      this.say(done);
    } catch (error) {
      this.say(errorElement(error, 'Fault: '));
    }
  }

  say(content) {
    this.el.faultStatus.replaceChildren(content);
  }
}
