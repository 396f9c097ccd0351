// The cold-start loads of `cargo xtask bench --only startup` under Playwright (xtask/src/
// bench_startup.rs): Debian's Chromium, each page load in a new browser context (an empty cache
// of its own, a new renderer process), optionally on a throttled link (DevTools protocol
// `Network.emulateNetworkConditions`). Prints each page's `BENCH {json}` result line on stdout,
// then `BENCH {"done":true}`.
// Usage: node startup-playwright.mjs '{"urls":[URL…],"rounds":N,"throttle":null|{…},"timeoutMs":MS}'
// `throttle` is passed to Network.emulateNetworkConditions as is.
import { chromium } from 'playwright-core';

const { urls, rounds, throttle, timeoutMs } = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 60_000,
});

/** One cold page load of `url`; resolves once the page printed its result. */
async function load(url) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    if (throttle) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, ...throttle });
    }
    const result = new Promise(resolve => {
      page.on('console', message => {
        const text = message.text();
        if (!text.startsWith('BENCH ')) return;
        if (text.includes('"error"')) resolve(text);
        else if (!text.includes('"done":true')) resolve(text);
      });
      page.on('pageerror', e => resolve('BENCH ' + JSON.stringify({ error: `page error: ${e.message}` })));
    });
    await page.goto(url);
    let timer;
    const timeout = new Promise(resolve => {
      timer = setTimeout(() => resolve('BENCH ' + JSON.stringify({ error: `no result within ${timeoutMs} ms: ${url}` })), timeoutMs);
    });
    const line = await Promise.race([result, timeout]);
    clearTimeout(timer);
    return line;
  } finally {
    await context.close().catch(() => {});
  }
}

try {
  // Round by round, the order of the pages rotated, so a change in the machine's load falls on all.
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < urls.length; i++) {
      const line = await load(urls[(i + round) % urls.length]);
      console.log(line);
      if (line.includes('"error"')) process.exit(0);
    }
  }
  console.log('BENCH ' + JSON.stringify({ done: true }));
} catch (e) {
  console.log('BENCH ' + JSON.stringify({ error: String((e && e.message) || e) }));
} finally {
  await browser.close().catch(() => {});
  process.exit(0);
}
