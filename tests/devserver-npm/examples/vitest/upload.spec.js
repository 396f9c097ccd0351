import { expect, inject, test } from 'vitest';
import init, { SmhClient } from 'smh-upload';

// Runs in Chromium: a real File, the real fetch/XHR, CORS between the test page and the devserver.
const devserver = inject('devserver');

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');

test('a File uploaded from the browser lands in the bucket byte for byte', async () => {
  await init();
  const client = new SmhClient({
    baseUrl: devserver.smh,
    libraryId: devserver.libraryId,
    spaceId: devserver.spaceId,
    allowedDomains: [devserver.cos],
    // Your backend's job: the devserver's app origin mints tokens like one.
    getAccessToken: async () => (await (await fetch(`${devserver.app}/token`, { method: 'POST' })).json()).accessToken,
  });
  const file = new File([crypto.getRandomValues(new Uint8Array(60_000))], 'random.bin');
  const result = await client.upload(file, 'vitest/random.bin').done();
  expect(result.size).toBe(file.size);

  // What the bucket holds, as the devserver saw it (GET /_dev/objects).
  const objects = await (await fetch(`${devserver.app}/_dev/objects`)).json();
  const object = objects.find((o) => o.smhPath === 'vitest/random.bin');
  expect(object?.sha256).toBe(hex(await crypto.subtle.digest('SHA-256', await file.arrayBuffer())));
});
