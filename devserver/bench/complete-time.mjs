// How long the devserver takes to finish a multipart upload once its parts are in (issue 10:
// the bench's upload totals include it): COS CompleteMultipartUpload and SMH confirm of 256 MiB
// and 1 GiB uploads (8 MiB parts, 6 in flight, from in-memory Buffers), plus how long after the
// confirm SMH's quick-upload index has the file (a quick-upload begin waits for it). Bounded:
// fixed sizes, one devserver, a 300 s cap.
//
//   node devserver/bench/complete-time.mjs [program [args…]]   (default: target/debug/smh-devserver)
import { createHash, randomFillSync } from 'node:crypto';

import { MIB, putParts, startServer } from './client.mjs';

const server = await startServer(process.argv.slice(2), 300_000);
const { ready } = server;
const PART = 8 * MIB;
const bodies = Array.from({ length: 6 }, () => randomFillSync(Buffer.allocUnsafe(PART)));
const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(2);

async function cosUpload(size) {
  const key = `complete/cos-${size}.bin`;
  const { text } = await server.cos('POST', key, '?uploads', undefined);
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)[1];
  const etags = [];
  const t0 = performance.now();
  await putParts(size / PART, bodies, async (n, body) => {
    etags[n - 1] = (await server.cos('PUT', key, `?partNumber=${n}&uploadId=${uploadId}`, body)).headers.etag;
  });
  const sent = seconds(t0);
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const t1 = performance.now();
  await server.cos('POST', key, `?uploadId=${uploadId}`, Buffer.from(xml));
  console.log(`COS ${size / MIB} MiB: parts sent in ${sent} s, CompleteMultipartUpload ${seconds(t1)} s`);
  await server.request('DELETE', `http://${ready.cos}/${key}`, {});
}

async function smhUpload(size, token) {
  const file = (tail, query) => `${ready.smh}/api/v1/file/${ready.libraryId}/${encodeURIComponent(ready.spaceId)}/${tail}?access_token=${token}&${query}`;
  const json = { 'content-type': 'application/json' };
  const path = `smh-${size}.bin`;
  const begin = await server.request('POST', file(path, `multipart&filesize=${size}&conflict_resolution_strategy=overwrite`), json, Buffer.from('{}'));
  if (begin.status !== 201) throw new Error(`begin: ${begin.status} ${begin.text}`);
  const auth = JSON.parse(begin.text);
  const t0 = performance.now();
  await putParts(size / PART, bodies, async (n, body) => {
    const r = await server.request('PUT', `http://${auth.domain}${auth.path}?partNumber=${n}&uploadId=${auth.uploadId}`, auth.headers, body);
    if (r.status !== 200) throw new Error(`part ${n}: ${r.status} ${r.text}`);
  });
  const sent = seconds(t0);
  const t1 = performance.now();
  const confirm = await server.request('POST', file(auth.confirmKey, 'confirm'), json, Buffer.from('{}'));
  if (confirm.status !== 200) throw new Error(`confirm: ${confirm.status} ${confirm.text}`);
  const confirmed = seconds(t1);
  // The same content's quick-upload begin: 202 once the index has the file.
  const beginningHash = createHash('sha256').update(bodies[0].subarray(0, MIB)).digest('hex');
  const quick = await server.request('POST', file(`quick-${path}`, 'multipart'), json, Buffer.from(JSON.stringify({ size: String(size), beginningHash })));
  console.log(`SMH ${size / MIB} MiB: parts sent in ${sent} s, confirm ${confirmed} s, quick-upload index has it ${seconds(t1)} s after the confirm began (begin answered ${quick.status})`);
}

try {
  const tokenReply = await server.request('POST', `${ready.app}/token`, { 'content-type': 'application/json' }, Buffer.from('{}'));
  const token = JSON.parse(tokenReply.text).accessToken;
  for (const size of [256 * MIB, 1024 * MIB]) {
    await cosUpload(size);
    await smhUpload(size, token);
  }
} finally {
  await server.stop();
}
