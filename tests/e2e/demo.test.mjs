// The demo page (www/) driven as a person drives it: real files picked with the page's own file
// input, options and fault switches set through its controls (and the keyboard), pause / resume /
// cancel pressed on the queue rows, the library list read back — then checked against what the
// devserver really holds (GET /_dev/objects, sha256 computed here). Each test has its own
// devserver and browser profile, so none depends on another's leftovers. Screenshots (desktop,
// 390 px, dark) go to target/e2e/.

import { test, before, after, beforeEach, afterEach } from 'node:test';
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
/** The SDK's default of `concurrency` (pkg-template/README.md). */
const SDK_CONCURRENCY = 6;

// Set up afresh for each test (beforeEach): its devserver, browser profile and page.
let server;
let browser;
let page;
let dev;
let files;
let consoleErrors = [];
/** While the visitor has faults switched on, Chromium's own console line for each refused request
 *  ("Failed to load resource: … 500 / 403") is expected; it is kept here instead. */
let faultWindow = false;
let injectedErrors = [];
/** URLs the page's own code (fetch, images) requested with the access token in them. */
let tokenUrls = [];
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

before(() => {
  files = writeFiles();
});

after(() => {
  if (files) rmSync(files.dir, { recursive: true, force: true });
});

beforeEach(async () => {
  consoleErrors = [];
  injectedErrors = [];
  tokenUrls = [];
  faultWindow = false;
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
  page.on('request', r => {
    if (['fetch', 'image'].includes(r.resourceType()) && /[?&]access_token=/.test(r.url())) tokenUrls.push(r.url());
  });
  await page.setViewportSize(DESKTOP);
});

afterEach(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens the demo on this test's devserver and waits until it is ready. */
async function openDemo(query = '') {
  await page.goto(`${server.ready.app}/${query}`);
  await waitReady();
}

/** Sets an option of the (opened) Options panel the way a visitor does: type, then Tab away. */
async function setOption(label, value) {
  if (!(await page.locator('#options').evaluate(d => d.open))) await page.locator('#options summary').click();
  const field = page.getByLabel(label);
  if ((await field.evaluate(f => f.tagName)) === 'SELECT') await field.selectOption({ label: value });
  else {
    await field.fill(value);
    await field.press('Tab');
  }
}

async function slowNetwork(on) {
  const toggle = page.getByRole('switch', { name: /Slow network/ });
  if (on) await toggle.check();
  else await toggle.uncheck();
  await page.locator('#fault-status').getByText(on ? '1 fault rule active' : 'No fault injected').waitFor();
}

/** Counts the COS part PUTs in flight from the browser's side; `max` is the most at once. */
function watchPartsInFlight() {
  const counter = { now: 0, max: 0 };
  const isPart = request => request.method() === 'PUT' && request.url().includes('partNumber=');
  page.on('request', request => {
    if (!isPart(request)) return;
    counter.now += 1;
    counter.max = Math.max(counter.max, counter.now);
  });
  const ended = request => {
    if (isPart(request)) counter.now -= 1;
  };
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
  return counter;
}

/** The accessible name of the element with keyboard focus (`BODY` when focus was lost). */
const focusedName = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') || document.activeElement?.tagName);

test('the demo page: upload, pause, resume, cancel, faults, library, quick upload', { timeout: 120_000 }, async () => {
  // The bare URL is enough: the page finds SMH through GET /_dev/ready.
  await openDemo();
  assert.match(await page.locator('#where').innerText(), new RegExp(server.ready.libraryId));
  assert.equal(await page.locator('#entries li').count(), 0, 'a fresh library is empty');
  assert.equal(await page.locator('#pending').isHidden(), true, 'no unfinished upload is offered in a fresh profile');

  // Options a developer tries: 1 MiB parts, two in flight (so pausing can be watched).
  await setOption('Part size', '1 MiB');
  await setOption('Parts in flight', '2');
  assert.equal(await page.locator('#options-error').innerText(), '');

  // Slow network, then three real files through the page's own picker.
  await slowNetwork(true);
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.photo.path, files.archive.path, files.movie.path]);

  // Pause the 20 MiB file from the keyboard once its parts flow; its bar must then stand still,
  // and the keyboard focus moves to the Resume button that replaced Pause.
  await waitForState('movie.mp4', 'uploading');
  await page.waitForFunction(() => document.querySelector('#queue li[data-name="movie.mp4"] progress').value > 0, null, { timeout: 20_000 });
  await button('Pause movie.mp4').focus();
  await page.keyboard.press('Enter');
  await waitForState('movie.mp4', 'paused');
  await button('Resume movie.mp4').waitFor();
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Resume movie.mp4', null, { timeout: 5_000 })
    .catch(async () => assert.fail(`focus after Pause: ${await focusedName()}`));
  const pausedAt = await barValue('movie.mp4');
  // Cancel the 9 MiB one mid-way, from the keyboard too: focus goes to "Upload again".
  await waitForState('archive.zip', 'uploading');
  await button('Cancel archive.zip').focus();
  await page.keyboard.press('Space');
  await waitForState('archive.zip', 'cancelled');
  await button('Upload again archive.zip').waitFor();
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Upload again archive.zip', null, { timeout: 5_000 })
    .catch(async () => assert.fail(`focus after Cancel: ${await focusedName()}`));
  await waitForState('photo.png', 'done');
  await page.waitForTimeout(1500);
  assert.equal(await barValue('movie.mp4'), pausedAt, 'a paused upload makes no progress');
  assert.equal(await row('movie.mp4').getAttribute('data-state'), 'paused');

  // Faults while it resumes: no more slowness, every 5th COS PUT fails, the token expires.
  faultWindow = true;
  await page.getByRole('switch', { name: /Slow network/ }).uncheck();
  await page.locator('#fault-status').getByText('No fault injected').waitFor();
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
  // The thumbnail really loaded (a signed COS URL from SMH's file info, then a PNG decoded),
  // and no URL the page itself asked for carries the access token.
  const thumb = page.locator('#entries li[data-name="photo.png"] img');
  await thumb.waitFor({ timeout: 5_000 }).catch(() => assert.fail('photo.png has no thumbnail (the image did not load)'));
  await page.waitForFunction(() => document.querySelector('#entries li[data-name="photo.png"] img')?.getAttribute('src'), null, { timeout: 10_000 });
  const thumbWidth = await thumb.evaluate(async img => {
    if (!img.complete) await new Promise(r => img.addEventListener('load', r, { once: true }));
    return img.naturalWidth;
  });
  assert.equal(thumbWidth, 320, 'the photo thumbnail shows the PNG');
  assert.doesNotMatch(await thumb.getAttribute('src'), /access_token/);
  assert.deepEqual(tokenUrls, [], 'the page put the access token in no URL it requested (fetch, images)');

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

  // Deleting from the keyboard (press, then confirm) leaves the focus in the library list.
  await page.getByRole('button', { name: 'Delete movie (1).mp4', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Confirm: delete movie (1).mp4' }).waitFor();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#entries li').length === 2, null, { timeout: 10_000 });
  await page.waitForFunction(() => document.activeElement?.closest('#library'), null, { timeout: 5_000 })
    .catch(async () => assert.fail(`focus after Delete: ${await focusedName()}`));

  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

test('a file name SMH refuses shows its code and a sentence, not a stack', { timeout: 60_000 }, async () => {
  await openDemo();
  // An upload cancelled in the root (slow network, so it is still running when cancelled).
  await slowNetwork(true);
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.archive.path]);
  await waitForState('archive.zip', 'uploading');
  await button('Cancel archive.zip').click();
  await waitForState('archive.zip', 'cancelled');
  await slowNetwork(false);

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

  // The upload cancelled in the root starts again with its button and lands where it was headed.
  await button('Upload again archive.zip').click();
  await waitForState('archive.zip', 'done', 30_000);
  assert.equal((await dev.objectAt('archive.zip'))?.sha256, files.archive.sha256, 'the retried upload holds the file');
  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

/** Picks `file` in the open folder and reloads the page once COS stored two of its parts (slow
 *  network, 1 MiB parts, two in flight): the page then offers it as unfinished. */
async function leaveUnfinished(file) {
  await setOption('Part size', '1 MiB');
  await setOption('Parts in flight', '2');
  await slowNetwork(true);
  const before = await dev.logMark();
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([file.path]);
  // Reload once COS has stored two parts (the bar counts bytes sent, stored ones come later).
  const deadline = Date.now() + 30_000;
  while ((await dev.logSince(before, 'cos')).filter(e => e.op === 'UploadPart' && e.status === 200).length < 2) {
    assert.ok(Date.now() < deadline, 'two parts stored within 30 s');
    await new Promise(r => setTimeout(r, 200));
  }
  await page.reload();
  await waitReady();
}

/** A file of `size` bytes (content from `seed`) in a folder of its own. */
function writeFile(name, size, seed) {
  const file = { name, bytes: Buffer.from(makeBytes(size, seed)) };
  file.path = join(mkdtempSync(join(files.dir, 'more-')), name);
  writeFileSync(file.path, file.bytes);
  return file;
}

const writeBackup = (name, seed) => writeFile(name, 12 * MIB, seed);

test('reload mid-upload: the page offers the unfinished upload and continues it', { timeout: 60_000 }, async () => {
  const backup = writeBackup('backup.tar', 23);
  await openDemo();
  await leaveUnfinished(backup);

  // Options are remembered across reloads.
  assert.equal(await page.locator('select[name=partSize]').inputValue(), String(MIB));
  assert.equal(await page.locator('input[name=concurrency]').inputValue(), '2');
  const pending = page.locator('#pending-list li[data-name="backup.tar"]');
  await pending.waitFor();
  const loaded = Number(await pending.getAttribute('data-loaded'));
  assert.ok(loaded >= MIB && loaded < backup.bytes.length, `parts done before the reload: ${loaded}`);
  assert.match(await pending.innerText(), /\/backup\.tar/);
  // The fault switch shows the devserver's state after the reload; the visitor turns it off.
  assert.equal(await page.getByRole('switch', { name: /Slow network/ }).isChecked(), true);
  await slowNetwork(false);

  const mark = await dev.logMark();
  const picker = page.getByLabel('Choose backup.tar again to resume it');
  await picker.focus();
  await picker.setInputFiles([backup.path]);
  // The picker's row is gone; the keyboard focus followed the upload to its queue row.
  assert.match(await focusedName(), /backup\.tar$/, 'focus after choosing the file');
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

test('the same file picked in another folder is a new upload there; Discard keeps the focus', { timeout: 60_000 }, async () => {
  const backup = writeBackup('backup.tar', 24);
  await openDemo();
  await leaveUnfinished(backup);
  await page.locator('#pending-list li[data-name="backup.tar"]').waitFor();
  await slowNetwork(false);

  // In folder "other", the same file (same name and size) goes to /other/backup.tar; the
  // unfinished /backup.tar stays offered.
  await page.locator('#folder-name').fill('other');
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByRole('button', { name: 'Open folder other' }).click();
  await page.locator('#target').getByText('/other').waitFor();
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([backup.path]);
  await waitForState('backup.tar', 'done', 30_000);
  assert.equal((await dev.objectAt('other/backup.tar'))?.sha256, sha256(backup.bytes), 'uploaded into the open folder');
  assert.equal(await dev.objectAt('backup.tar'), undefined, 'the unfinished upload at the root was not continued');
  const still = page.locator('#pending-list li[data-name="backup.tar"]');
  assert.equal(await still.getAttribute('data-path'), 'backup.tar', 'the root upload is still offered');

  // Discarded from the keyboard: the focus stays on the page's controls, not on BODY.
  await page.getByRole('button', { name: 'Discard backup.tar' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#pending').waitFor({ state: 'hidden' });
  assert.notEqual(await focusedName(), 'BODY', 'focus after Discard');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'files', 'the file picker has the focus');
  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

test('invalid options: every picked file gets a row that fails with the SDK\'s message; fixed, they upload', { timeout: 60_000 }, async () => {
  await openDemo();
  await setOption('Parts in flight', '40');
  const optionsError = await page.locator('#options-error').innerText();
  assert.match(optionsError, /^InvalidInput — .*concurrency/, 'the SDK\'s own message names the option');

  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.photo.path, files.archive.path]);
  await waitForState('photo.png', 'failed');
  await waitForState('archive.zip', 'failed');
  assert.equal(await page.locator('#queue li').count(), 2, 'one row per file, no ghost row');
  for (const name of ['photo.png', 'archive.zip']) {
    assert.match(await row(name).locator('.error').innerText(), /InvalidInput — .*concurrency/, `${name} shows the SDK's message`);
  }

  await setOption('Parts in flight', '3');
  assert.equal(await page.locator('#options-error').innerText(), '');
  await button('Retry photo.png').click();
  await button('Retry archive.zip').click();
  await waitForState('photo.png', 'done', 30_000);
  await waitForState('archive.zip', 'done', 30_000);
  assert.equal((await dev.objectAt('archive.zip'))?.sha256, files.archive.sha256);
  assert.deepEqual(consoleErrors, [], 'no uncaught error');
});

test('parts in flight: the SDK\'s default unless set, and one limit for uploads with the same settings', { timeout: 90_000 }, async () => {
  await openDemo();
  assert.equal(await page.locator('input[name=concurrency]').inputValue(), '', 'the field is left to the SDK');
  await setOption('Part size', '1 MiB');
  await slowNetwork(true);
  const inFlight = watchPartsInFlight();
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.archive.path]);
  await waitForState('archive.zip', 'done', 40_000);
  assert.equal(inFlight.max, SDK_CONCURRENCY, 'the SDK\'s default number of parts went out at once');

  // Two in flight; an invalid value in between (refused), then two again: the uploads started
  // before and after share one client, so never more than two parts are in flight.
  // Above the SDK's 8 MiB multipart threshold: 1 MiB parts.
  const [one, two] = [writeFile('one.bin', 10 * MIB, 31), writeFile('two.bin', 10 * MIB, 32)];
  await setOption('Parts in flight', '2');
  inFlight.max = 0;
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([one.path]);
  await waitForState('one.bin', 'uploading');
  await setOption('Parts in flight', '40');
  assert.match(await page.locator('#options-error').innerText(), /InvalidInput/);
  await setOption('Parts in flight', '2');
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([two.path]);
  await waitForState('two.bin', 'uploading');
  assert.equal(await row('one.bin').getAttribute('data-state'), 'uploading', 'both uploads run at once');
  await waitForState('one.bin', 'done', 60_000);
  await waitForState('two.bin', 'done', 60_000);
  assert.equal(inFlight.max, 2, 'two parts in flight at most across both uploads');
  assert.deepEqual(consoleErrors, [], 'the page logged no error');
});

test('a warning is announced once, not at every progress frame', { timeout: 60_000 }, async () => {
  await openDemo();
  // The bucket's CORS hides the CRC-64 header from the page: the SDK warns CrcNotChecked.
  await page.route(`http://${server.ready.cos}/**`, async route => {
    if (route.request().method() !== 'PUT') return route.continue();
    const response = await route.fetch();
    const headers = response.headers();
    headers['access-control-expose-headers'] = (headers['access-control-expose-headers'] || '')
      .split(',').map(h => h.trim()).filter(h => h && h.toLowerCase() !== 'x-cos-hash-crc64ecma').join(', ');
    await route.fulfill({ response, headers });
  });
  await setOption('Part size', '1 MiB');
  await setOption('Parts in flight', '1');
  await page.evaluate(() => {
    window.addedNotes = 0;
    new MutationObserver(records => {
      for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1 && n.closest('.message')) window.addedNotes += 1;
    }).observe(document.getElementById('queue'), { childList: true, subtree: true });
  });
  await page.getByLabel('Choose files', { exact: true }).setInputFiles([files.archive.path]);
  await waitForState('archive.zip', 'done', 40_000);
  assert.match(await row('archive.zip').locator('.message').innerText(), /CrcNotChecked/);
  assert.equal(await page.evaluate(() => window.addedNotes), 1, 'the warning was put in the row once');
});

test('a link naming another SMH host is not followed (the token would go there)', { timeout: 30_000 }, async () => {
  const elsewhere = [];
  page.on('request', r => {
    if (new URL(r.url()).hostname === '127.0.0.2') elsewhere.push(r.url());
  });
  // A page without the devserver's /_dev/ready, opened with SMH named in its URL.
  await page.route('**/_dev/ready', route => route.fulfill({ status: 404, body: '' }));
  await page.goto(`${server.ready.app}/?smh=${encodeURIComponent('http://127.0.0.2:9')}&libraryId=${server.ready.libraryId}`);
  // Until the page has started or given up, or has sent something to that host.
  const deadline = Date.now() + 20_000;
  while (!elsewhere.length && !(await page.evaluate(() => document.body.dataset.ready))) {
    assert.ok(Date.now() < deadline, 'the page neither started nor gave up within 20 s');
    await new Promise(r => setTimeout(r, 100));
  }
  assert.deepEqual(elsewhere, [], 'nothing was sent to the host in the link');
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'error');
  assert.match(await page.locator('#boot-error').innerText(), /NoLibrary/);
});

test('without the SDK the page says what is missing', { timeout: 30_000 }, async () => {
  await page.route('**/pkg/smh_upload.js', route => route.abort());
  await page.goto(`${server.ready.app}/`);
  await page.waitForFunction(() => document.body.dataset.ready === 'error', null, { timeout: 20_000 });
  const text = await page.locator('#boot-error').innerText();
  assert.match(text, /SdkLoadFailed — The SDK \(\/pkg\/smh_upload\.js\) did not load .*cargo xtask pkg/);
});
