// The demo page (www/) driven as a person drives it: real files picked with the page's own file
// input, options and fault switches set through its controls, pause / resume / cancel pressed on
// the queue rows, the library list read back — then checked against what the devserver really
// holds (GET /_dev/objects, sha256 computed here). Screenshots (desktop, 390 px, dark) go to
// target/e2e/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

import { startDevserver, launchBrowser, devHooks, makeBytes, sha256, KIB, MIB } from './helpers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WWW = join(ROOT, 'www');
const SHOTS = join(ROOT, 'target', 'e2e');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let server;
let browser;
let page;
let dev;
let files;
const consoleErrors = [];
/** While the visitor has faults switched on, Chromium's own console line for each refused request
 *  ("Failed to load resource: … 500 / 403") is expected; it is kept here instead. */
let faultWindow = false;
const injectedErrors = [];
const INJECTED = /^Failed to load resource: the server responded with a status of (500|403)\b/;

// ---- files on disk -------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A real RGB PNG (a colour gradient with grain), stored uncompressed: about w × h × 3 bytes. */
function makePng(width, height) {
  const grain = makeBytes(width * height, 7);
  const raw = Buffer.alloc(height * (width * 3 + 1));
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      const g = grain[y * width + x] >> 3;
      raw[row + 1 + 3 * x] = Math.min(255, 40 + (200 * x) / width + g);
      raw[row + 2 + 3 * x] = Math.min(255, 90 + (120 * y) / height + g);
      raw[row + 3 + 3 * x] = Math.min(255, 230 - (150 * x) / width + g);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw, { level: 0 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function writeFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'smh-demo-files-'));
  const made = {
    photo: { name: 'photo.png', bytes: makePng(320, 320) }, // ≈ 300 KiB, simple upload
    archive: { name: 'archive.zip', bytes: Buffer.from(makeBytes(9 * MIB, 21)) }, // multipart
    movie: { name: 'movie.mp4', bytes: Buffer.from(makeBytes(20 * MIB, 22)) }, // multipart
  };
  for (const file of Object.values(made)) {
    file.path = join(dir, file.name);
    file.size = file.bytes.length;
    file.sha256 = sha256(file.bytes);
    writeFileSync(file.path, file.bytes);
  }
  made.dir = dir;
  return made;
}

// ---- page helpers --------------------------------------------------------------------------

const row = name => page.locator(`#queue li[data-name="${name}"]`);
const button = name => page.getByRole('button', { name, exact: true });

async function waitForState(name, states, timeout = 30_000) {
  const wanted = [].concat(states);
  await page.waitForFunction(
    ({ name, wanted }) => [...document.querySelectorAll('#queue li')].some(li => li.dataset.name === name && wanted.includes(li.dataset.state)),
    { name, wanted },
    { timeout },
  ).catch(async e => {
    const rows = await page.locator('#queue li').evaluateAll(lis => lis.map(li => `${li.dataset.name}: ${li.dataset.state} ${li.innerText.replace(/\s+/g, ' ')}`));
    throw new Error(`${name} never reached ${wanted.join('/')}: ${e.message}\nqueue:\n  ${rows.join('\n  ')}\nconsole: ${consoleErrors.join('\n')}`);
  });
}

/** The value of a row's progress bar (bytes sent in the current phase). */
const barValue = name => row(name).first().locator('progress').evaluate(bar => bar.value);

/** Waits until the page has started (found the library, loaded the SDK, listed the root). */
async function waitReady() {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30_000 }).catch(async e => {
    const state = await page.evaluate(() => ({ where: document.getElementById('where').innerText, boot: document.getElementById('boot-error').innerText, library: document.getElementById('library-status').innerText })).catch(x => x.message);
    throw new Error(`the page did not start: ${e.message}\n${JSON.stringify(state)}\nconsole: ${consoleErrors.join('\n')}`);
  });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true', await page.locator('#boot-error').innerText());
}

async function shoot(file) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, file), fullPage: true });
}

before(async () => {
  files = writeFiles();
  server = await startDevserver([], { www: WWW });
  dev = devHooks(server.ready.app);
  browser = await launchBrowser();
  page = browser.page;
  page.on('console', m => {
    if (m.type() !== 'error') return;
    if (faultWindow && INJECTED.test(m.text())) injectedErrors.push(m.text());
    else consoleErrors.push(`[console.error] ${m.text()}`);
  });
  page.on('pageerror', e => consoleErrors.push(`[pageerror] ${e.message}`));
  await page.setViewportSize(DESKTOP);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (files) rmSync(files.dir, { recursive: true, force: true });
});

test('the demo page: upload, pause, resume, cancel, faults, library, quick upload', { timeout: 120_000 }, async () => {
  // The bare URL is enough: the page finds SMH through GET /_dev/ready.
  await page.goto(`${server.ready.app}/`);
  await waitReady();
  assert.match(await page.locator('#where').innerText(), new RegExp(server.ready.libraryId));
  assert.equal(await page.locator('#entries li').count(), 0, 'a fresh library is empty');
  // No resumable uploads are claimed unless the SDK offers them.
  const canResume = await page.evaluate(async () => {
    const { SmhClient } = await import('/pkg/smh_upload.js');
    return typeof SmhClient.prototype.pendingUploads === 'function';
  });
  if (!canResume) assert.equal(await page.locator('#pending').isHidden(), true, 'no resume offered without pendingUploads()');

  // Options a developer tries: 1 MiB parts, two in flight (so pausing can be watched).
  await page.locator('#options summary').click();
  await page.getByLabel('Part size').selectOption({ label: '1 MiB' });
  await page.getByLabel('Parts in flight').fill('2');
  await page.getByLabel('Parts in flight').press('Tab');
  assert.equal(await page.locator('#options-error').innerText(), '');

  // Slow network, then three real files through the page's own picker.
  await page.getByRole('switch', { name: /Slow network/ }).check();
  await page.locator('#fault-status').getByText('1 fault rule active').waitFor();
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.photo.path, files.archive.path, files.movie.path]);

  // Pause the 20 MiB file once its parts flow; its bar must then stand still.
  await waitForState('movie.mp4', 'uploading');
  await page.waitForFunction(() => document.querySelector('#queue li[data-name="movie.mp4"] progress').value > 0, null, { timeout: 20_000 });
  await button('Pause movie.mp4').click();
  await waitForState('movie.mp4', 'paused');
  await button('Resume movie.mp4').waitFor();
  const pausedAt = await barValue('movie.mp4');
  // Cancel the 9 MiB one mid-way.
  await waitForState('archive.zip', 'uploading');
  await button('Cancel archive.zip').click();
  await waitForState('archive.zip', 'cancelled');
  await button('Upload again archive.zip').waitFor();
  await waitForState('photo.png', 'done');
  await page.waitForTimeout(1500);
  assert.equal(await barValue('movie.mp4'), pausedAt, 'a paused upload makes no progress');
  assert.equal(await row('movie.mp4').getAttribute('data-state'), 'paused');

  // Faults while it resumes: no more slowness, every 5th COS PUT fails, the token expires.
  faultWindow = true;
  await page.getByRole('switch', { name: /Slow network/ }).uncheck();
  await page.getByRole('switch', { name: /Fail 20 %/ }).check();
  await page.locator('#fault-status').getByText('1 fault rule active').waitFor();
  await page.getByRole('button', { name: 'Expire the token' }).click();
  await page.locator('#fault-status').getByText(/access token is now expired/).waitFor();
  await page.getByRole('button', { name: 'Expire upload authorisations' }).click();
  await page.locator('#fault-status').getByText(/upload authorisation is now expired/).waitFor();
  const resumeMark = await dev.logMark();
  await button('Resume movie.mp4').click();
  await waitForState('movie.mp4', 'done', 45_000);
  const afterResume = (await dev.logSince(resumeMark)).map(e => `${e.origin} ${e.op} ${e.status}${e.fault ? ` (${e.fault})` : ''}`);

  // The network panel saw it all (it reads the log every second): bytes to COS, injected
  // failures, a second token, a renewal.
  await page.waitForFunction(
    () => ['net-faults', 'net-renewals'].every(id => Number(document.getElementById(id).textContent) > 0),
    null,
    { timeout: 10_000 },
  ).catch(() => {});
  const panel = await page.evaluate(() => ({
    cos: document.getElementById('cos-bytes').textContent,
    smh: document.getElementById('smh-bytes').textContent,
    tokens: Number(document.getElementById('net-tokens').textContent),
    failed: Number(document.getElementById('net-failed').textContent),
    renewals: Number(document.getElementById('net-renewals').textContent),
  }));
  assert.ok(panel.renewals >= 1, `the expired upload was renewed: ${JSON.stringify(panel)}\nrequests after resume:\n  ${afterResume.join('\n  ')}`);
  assert.ok(panel.tokens >= 2, `a fresh token after the expiry: ${JSON.stringify(panel)}`);
  assert.ok(panel.failed > 0, `failed requests counted: ${JSON.stringify(panel)}`);
  assert.match(panel.cos, /MiB$/, `MiBs went to COS: ${JSON.stringify(panel)}`);
  await page.getByRole('button', { name: 'All faults off' }).click();
  await page.locator('#fault-status').getByText('No fault injected').waitFor();
  faultWindow = false;
  assert.ok(injectedErrors.length > 0, 'the injected failures reached the browser');

  // The library lists the completed files with their exact sizes, not the cancelled one.
  const listed = async () =>
    page.locator('#entries li').evaluateAll(lis => Object.fromEntries(lis.map(li => [li.dataset.name, { size: Number(li.dataset.size), text: li.innerText }])));
  await page.waitForFunction(() => document.querySelectorAll('#entries li').length === 2, null, { timeout: 10_000 });
  let library = await listed();
  assert.deepEqual(Object.keys(library).sort(), ['movie.mp4', 'photo.png']);
  assert.equal(library['photo.png'].size, files.photo.size);
  assert.equal(library['movie.mp4'].size, files.movie.size);
  assert.match(library['movie.mp4'].text, /20\.0 MiB/);
  assert.match(library['movie.mp4'].text, /CRC64 \d+/);
  // The thumbnail really loaded (SMH's 302 to a signed COS URL, then a PNG decoded).
  const thumb = page.locator('#entries li[data-name="photo.png"] img');
  await thumb.waitFor({ timeout: 5_000 }).catch(() => assert.fail('photo.png has no thumbnail (the image did not load)'));
  const thumbWidth = await thumb.evaluate(async img => {
    if (!img.complete) await new Promise(r => img.addEventListener('load', r, { once: true }));
    return img.naturalWidth;
  });
  assert.equal(thumbWidth, 320, 'the photo thumbnail shows the PNG');

  // The bucket holds exactly the bytes of the files on disk; the cancelled upload left nothing.
  const objects = await dev.objects();
  for (const file of [files.photo, files.movie]) {
    const object = objects.find(o => (o.smhPath ?? '').replace(/^\/+/, '') === file.name);
    assert.ok(object, `no object backs ${file.name}: ${JSON.stringify(objects)}`);
    assert.equal(object.size, file.size, `size of ${file.name}`);
    assert.equal(object.sha256, file.sha256, `bytes of ${file.name}`);
  }
  assert.equal(objects.length, 2, `only the two completed files are stored: ${JSON.stringify(objects)}`);
  const open = await dev.uploads();
  assert.deepEqual(open.smh.filter(u => u.path.includes('archive')), [], 'the cancelled upload is closed on SMH');

  // Picking the same 20 MiB again: quick upload, no byte sent, renamed beside the first.
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.movie.path]);
  await page.waitForFunction(() => [...document.querySelectorAll('#queue li[data-name="movie.mp4"]')].at(-1)?.dataset.state === 'done', null, { timeout: 20_000 });
  const second = row('movie.mp4').last();
  assert.equal(await second.locator('.instant').isVisible(), true, 'the instant badge shows');
  assert.match(await second.innerText(), /saved as \/movie \(1\)\.mp4/);
  await page.waitForFunction(() => document.querySelectorAll('#entries li').length === 3, null, { timeout: 10_000 });
  library = await listed();
  assert.equal(library['movie (1).mp4'].size, files.movie.size);

  // Screenshots: desktop, phone width (nothing wider than the screen), phone in dark mode.
  await page.evaluate(() => document.activeElement?.blur());
  await shoot('demo-desktop.png');
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= PHONE.width, `the page is ${overflow} px wide at ${PHONE.width} px`);
  await shoot('demo-390.png');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shoot('demo-390-dark.png');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(DESKTOP);

  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

test('a file name SMH refuses shows its code and a sentence, not a stack', { timeout: 30_000 }, async () => {
  await page.locator('#folder-name').fill('bad:name');
  await page.getByRole('button', { name: 'New folder' }).click();
  const error = page.locator('#library-status .error');
  await error.waitFor();
  const text = await error.innerText();
  assert.match(text, /IllegalFileName — The name contains a character/);
  assert.doesNotMatch(text, /at \w+ \(|\.js:\d+/);

  // A real folder: created, opened, and the upload target follows.
  await page.locator('#folder-name').fill('photos');
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByRole('button', { name: 'Open folder photos' }).click();
  await page.locator('#target').getByText('/photos').waitFor();
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.photo.path]);
  await page.waitForFunction(() => [...document.querySelectorAll('#queue li')].at(-1)?.dataset.state === 'done', null, { timeout: 20_000 });
  const object = await dev.objectAt('photos/photo.png');
  assert.equal(object?.sha256, files.photo.sha256, 'the photo landed in the folder');
  await page.locator('#entries li[data-name="photo.png"]').waitFor();

  // A file dropped on the drop zone lands in the open folder.
  await page.locator('#drop').evaluate(zone => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['dropped on the zone\n'], 'dropped.txt', { type: 'text/plain' }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  });
  await waitForState('dropped.txt', 'done', 20_000);
  assert.equal((await dev.objectAt('photos/dropped.txt'))?.sha256, sha256(Buffer.from('dropped on the zone\n')));

  // The upload cancelled in the first test starts again with its button and lands where it was headed.
  await button('Upload again archive.zip').click();
  await waitForState('archive.zip', 'done', 30_000);
  assert.equal((await dev.objectAt('archive.zip'))?.sha256, files.archive.sha256, 'the retried upload holds the file');
  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

test('reload mid-upload: the page offers the unfinished upload and continues it', { timeout: 60_000 }, async () => {
  const canResume = await page.evaluate(async () => {
    const { SmhClient } = await import('/pkg/smh_upload.js');
    return typeof SmhClient.prototype.pendingUploads === 'function';
  });
  assert.ok(canResume, 'the SDK offers pendingUploads()');
  const backup = { name: 'backup.tar', bytes: Buffer.from(makeBytes(12 * MIB, 23)) };
  backup.path = join(files.dir, backup.name);
  writeFileSync(backup.path, backup.bytes);

  // Options are remembered across reloads (1 MiB parts, two in flight, from the first test).
  await page.goto(`${server.ready.app}/`);
  await waitReady();
  assert.equal(await page.locator('select[name=partSize]').inputValue(), String(MIB));
  await page.getByRole('switch', { name: /Slow network/ }).check();
  await page.locator('#fault-status').getByText('1 fault rule active').waitFor();
  const before = await dev.logMark();
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([backup.path]);
  // Reload once COS has stored two parts (the bar counts bytes sent, stored ones come later).
  const deadline = Date.now() + 30_000;
  while ((await dev.logSince(before, 'cos')).filter(e => e.op === 'UploadPart' && e.status === 200).length < 2) {
    assert.ok(Date.now() < deadline, 'two parts stored within 30 s');
    await new Promise(r => setTimeout(r, 200));
  }

  await page.reload();
  await waitReady();
  const pending = page.locator('#pending-list li[data-name="backup.tar"]');
  await pending.waitFor();
  const loaded = Number(await pending.getAttribute('data-loaded'));
  assert.ok(loaded >= MIB && loaded < backup.bytes.length, `parts done before the reload: ${loaded}`);
  assert.match(await pending.innerText(), /\/backup\.tar/);
  // The fault switch shows the devserver's state after the reload; the visitor turns it off.
  assert.equal(await page.getByRole('switch', { name: /Slow network/ }).isChecked(), true);
  await page.getByRole('switch', { name: /Slow network/ }).uncheck();
  await page.locator('#fault-status').getByText('No fault injected').waitFor();

  const mark = await dev.logMark();
  await page.getByLabel('Choose backup.tar again to resume it').setInputFiles([backup.path]);
  await waitForState('backup.tar', 'done', 30_000);
  assert.equal(await page.locator('#pending').isHidden(), true, 'nothing left to resume');
  const sent = (await dev.logSince(mark, 'cos'))
    .filter(e => e.op === 'UploadPart' && e.status === 200)
    .reduce((sum, e) => sum + e.bytesIn, 0);
  assert.ok(sent <= backup.bytes.length - loaded, `after the reload only the missing parts were sent: ${sent} bytes, ${loaded} were done`);
  const object = await dev.objectAt('backup.tar');
  assert.equal(object?.sha256, sha256(backup.bytes), 'the resumed upload holds the file\'s bytes');
  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

test('without the SDK the page says what is missing', { timeout: 30_000 }, async () => {
  const lonely = await browser.context.newPage();
  try {
    await lonely.route('**/pkg/smh_upload.js', route => route.abort());
    await lonely.goto(`${server.ready.app}/`);
    await lonely.waitForFunction(() => document.body.dataset.ready === 'error', null, { timeout: 20_000 });
    const text = await lonely.locator('#boot-error').innerText();
    assert.match(text, /SdkLoadFailed — The SDK \(\/pkg\/smh_upload\.js\) did not load .*cargo xtask pkg/);
  } finally {
    await lonely.close();
  }
});
