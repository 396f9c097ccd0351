// Opens the bench page in Debian's Chromium driven by Playwright (how headless-browser test
// suites run an uploader: DevTools protocol on, network tracking included) and prints the page's
// `BENCH {json}` console lines on stdout. Usage: node playwright.mjs URL TIMEOUT_MS
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, timeoutMs] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'smh-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--enable-precise-memory-info', '--js-flags=--expose-gc',
  ],
  timeout: 60_000,
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const finished = new Promise(resolve => {
    page.on('console', message => {
      const text = message.text();
      if (!text.startsWith('BENCH ')) return;
      console.log(text);
      if (text.includes('"done":true') || text.includes('"error"')) resolve();
    });
    page.on('pageerror', e => {
      console.log('BENCH ' + JSON.stringify({ error: `page error: ${e.message}` }));
      resolve();
    });
  });
  await page.goto(url);
  const timeout = new Promise(resolve => setTimeout(resolve, Number(timeoutMs) || 600_000));
  await Promise.race([finished, timeout.then(() => console.log('BENCH ' + JSON.stringify({ error: 'timed out under Playwright' })))]);
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  process.exit(0);
}
