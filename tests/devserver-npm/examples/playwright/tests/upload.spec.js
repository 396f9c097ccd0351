import { createHash } from 'node:crypto';
import { test as base, expect } from '@playwright/test';
import { startDevserver } from 'smh-devserver';

// Each test gets its own devserver: a fresh library and bucket, removed when the test ends.
// It serves your upload page (www/) at `/` and smh-upload at `/pkg/`.
const test = base.extend({
  devserver: async ({}, use) => {
    const devserver = await startDevserver({ www: 'www', pkg: 'node_modules/smh-upload' });
    await use(devserver);
    await devserver.stop();
  },
});

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('the page uploads a file and the bucket holds its bytes', async ({ page, devserver }) => {
  const bytes = Buffer.from('hello, bucket');
  await page.goto(devserver.app);
  await page.setInputFiles('#file', { name: 'hello.txt', mimeType: 'text/plain', buffer: bytes });
  await expect(page.locator('#status')).toHaveText(/^done/);
  // Never trust the page's own report: ask the bucket what it holds.
  const object = await devserver.objectAt('uploads/hello.txt');
  expect(object?.size).toBe(bytes.length);
  expect(object?.sha256).toBe(sha256(bytes));
});

test('the upload survives a failing COS request', async ({ page, devserver }) => {
  await devserver.faults.add({ origin: 'cos', method: 'PUT', action: { type: 'status', status: 500 } });
  const bytes = Buffer.from('retried bytes');
  await page.goto(devserver.app);
  await page.setInputFiles('#file', { name: 'retry.txt', mimeType: 'text/plain', buffer: bytes });
  await expect(page.locator('#status')).toHaveText(/^done/);
  const [rule] = await devserver.faults.list();
  expect(rule.fired).toBe(1);
  expect((await devserver.objectAt('uploads/retry.txt'))?.sha256).toBe(sha256(bytes));
});
