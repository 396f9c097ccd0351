import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

test('a page uploads a file to smh-devserver', async () => {
  const devserver = spawn(process.env.SMH_DEVSERVER_BIN ?? 'smh-devserver',
    ['--www', 'tests/devserver-example/www', '--pkg', 'pkg'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let ready;
  for await (const line of createInterface({ input: devserver.stdout })) {
    if (line.startsWith('SMH_DEVSERVER_READY ')) { ready = JSON.parse(line.slice(20)); break; }
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu',
    '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    await page.goto(ready.app);
    await page.setInputFiles('#file', { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello, bucket') });
    await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('done'));
    const objects = await (await fetch(`${ready.app}/_dev/objects`)).json();
    assert.ok(objects.some((o) => o.smhPath === 'uploads/hello.txt' && o.size === 13), JSON.stringify(objects));
  } finally {
    await browser.close();
    devserver.kill();
  }
});
