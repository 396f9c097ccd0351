import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'tests',
  // A first upload also compiles smh-upload's WebAssembly: give a busy CI machine time.
  expect: { timeout: 20_000 },
  use: {
    browserName: 'chromium',
    // CHROMIUM: a browser of the system (e.g. Debian's /usr/bin/chromium) instead of the one
    // `npx playwright install` downloads.
    launchOptions: process.env.CHROMIUM
      ? { executablePath: process.env.CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] }
      : {},
  },
});
