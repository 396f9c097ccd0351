import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // smh-upload finds its .wasm and Worker next to its module (`new URL(…, import.meta.url)`),
  // which Vite's pre-bundling would move.
  optimizeDeps: { exclude: ['smh-upload'] },
  test: {
    // One devserver for the run, started in Node; the tests run in the browser.
    globalSetup: ['./devserver.setup.js'],
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        // CHROMIUM: a browser of the system instead of the one `npx playwright install` downloads.
        launchOptions: process.env.CHROMIUM
          ? { executablePath: process.env.CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] }
          : {},
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
});
