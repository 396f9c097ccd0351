// The browser engines of tests/engines/, each behind the same small driver:
// `{name, version, goto(url), evaluate(fn, arg), errors, close()}` — `evaluate` runs `fn(arg)` in
// the page and resolves with its (awaited, JSON-able) value, `errors` collects what the driver
// itself sees logged as an error.
//
// - `firefox`: Debian's `firefox-esr`, headless, over WebDriver BiDi (puppeteer-core; Firefox
//   needs no separate driver for BiDi).
// - `webkit`: WebKitGTK's MiniBrowser, started by `WebKitWebDriver` (Debian's
//   `webkit2gtk-driver`) and driven over classic WebDriver with the few commands below; it has
//   no headless mode, so it draws on a private Xvfb display.
//
// Both come from Debian packages that `cargo xtask setup` installs; nothing is downloaded here.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import puppeteer from 'puppeteer-core';

export const ENGINES = ['firefox', 'webkit'];

const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const WEBKIT_WEBDRIVER = process.env.WEBKIT_WEBDRIVER || '/usr/bin/WebKitWebDriver';
const XVFB = process.env.XVFB || '/usr/bin/Xvfb';
/** Start-up bound of a browser, its driver or Xvfb on a busy 2-core machine. */
const START_TIMEOUT_MS = 60_000;
/** How long one `evaluate` may run in the page (the tests bound their own waits below it). */
const SCRIPT_TIMEOUT_MS = 300_000;

/** Launches `engine` (one of ENGINES). */
export async function launch(engine) {
  if (engine === 'firefox') return firefox();
  if (engine === 'webkit') return webkit();
  throw new Error(`unknown engine ${engine}; one of ${ENGINES.join(', ')}`);
}

async function firefox() {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    timeout: START_TIMEOUT_MS,
    protocolTimeout: SCRIPT_TIMEOUT_MS,
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const errors = [];
  page.on('console', m => {
    if (m.type() === 'error') errors.push(`[console] ${m.text()}`);
  });
  page.on('pageerror', e => errors.push(`[pageerror] ${e.message}`));
  return {
    name: 'Firefox',
    version: await browser.version(),
    goto: async url => {
      await page.goto(url, { timeout: START_TIMEOUT_MS });
    },
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    errors,
    close: () => browser.close(),
  };
}

async function webkit() {
  const children = [];
  const stop = () => children.forEach(child => child.exitCode === null && child.kill('SIGTERM'));
  process.once('exit', stop);
  try {
    // `-displayfd 3`: Xvfb takes the first free display and writes its number on fd 3.
    const xvfb = spawn(XVFB, ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    children.push(xvfb);
    const display = await firstLine(xvfb, xvfb.stdio[3], 'Xvfb');
    const port = await freePort();
    const driver = spawn(WEBKIT_WEBDRIVER, [`--port=${port}`, '--host=local'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, DISPLAY: `:${display}` },
    });
    children.push(driver);
    const base = `http://127.0.0.1:${port}`;
    await until(async () => (await fetch(`${base}/status`)).ok, START_TIMEOUT_MS, 'WebKitWebDriver');
    // No capabilities: the driver starts its default browser, MiniBrowser, in automation mode.
    const session = await command(base, 'POST', '/session', { capabilities: { alwaysMatch: {} } });
    const at = `/session/${session.sessionId}`;
    await command(base, 'POST', `${at}/timeouts`, { script: SCRIPT_TIMEOUT_MS, pageLoad: START_TIMEOUT_MS });
    return {
      name: 'WebKitGTK',
      version: session.capabilities.browserVersion,
      goto: async url => {
        await command(base, 'POST', `${at}/url`, { url });
      },
      evaluate: async (fn, arg) => {
        // The reply is `{value}` or `{error}`: WebDriver's own error for a rejection carries no
        // message from the page.
        const script = `const [arg, done] = [arguments[0], arguments[arguments.length - 1]];
          Promise.resolve().then(() => (${fn})(arg)).then(
            value => done({ value: value === undefined ? null : value }),
            e => done({ error: String(e && e.stack ? e.message + '\\n' + e.stack : e) }));`;
        const reply = await command(base, 'POST', `${at}/execute/async`, { script, args: [arg ?? null] });
        if (reply && 'error' in reply) throw new Error(`in the page: ${reply.error}`);
        return reply?.value === null ? undefined : reply?.value;
      },
      // Classic WebDriver has no console events: the page records its own (tests/e2e/fixture/engines.html).
      errors: [],
      close: async () => {
        await command(base, 'DELETE', at).catch(() => {});
        stop();
        process.removeListener('exit', stop);
      },
    };
  } catch (e) {
    stop();
    throw e;
  }
}

/** One WebDriver command; resolves with the reply's `value`, rejects with its error. */
async function command(base, method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(SCRIPT_TIMEOUT_MS + 10_000),
  });
  const reply = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${r.status} ${JSON.stringify(reply.value ?? reply)}`);
  return reply.value;
}

/** The first line `child` writes on `stream`, or an error with what it wrote on stderr. */
function firstLine(child, stream, what) {
  let stderr = '';
  child.stderr.on('data', chunk => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS);
    stream.once('data', chunk => {
      clearTimeout(timer);
      resolve(String(chunk).trim());
    });
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${stderr}`));
    });
  });
}

/** A loopback port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function until(probe, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${what} did not answer within ${timeoutMs} ms`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}
