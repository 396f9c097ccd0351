// Loopback write rate of the cos origin's PUT path (issue 10 item 6): one 256 MiB PutObject,
// then UploadPart of 8 MiB parts with 6 in flight (and 1 MiB × 3 for comparison), from node
// with in-memory Buffers. Prints MB/s and the CPU each side spent per MB. Bounded: fixed sizes,
// one server, a 120 s cap.
//
//   node devserver/bench/put-rate.mjs [program [args…]]   (default: target/debug/smh-devserver)
//   node devserver/bench/put-rate.mjs node devserver/bench/sink.mjs   (the ceiling: bytes discarded)
import { randomFillSync } from 'node:crypto';

import { MIB, putParts, startServer } from './client.mjs';

const server = await startServer(process.argv.slice(2), 120_000);
const rate = (bytes, ms) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

/// "… MB/s; CPU per MB: server a ms, client b ms" for `bytes` moved since `before`.
function report(label, bytes, ms, before) {
  const after = server.cpu();
  const mb = bytes / 1e6;
  console.log(`${label}: ${ms.toFixed(0)} ms, ${rate(bytes, ms)} MB/s; CPU per MB: server ${((after.server - before.server) / mb).toFixed(2)} ms, client ${((after.client - before.client) / mb).toFixed(2)} ms`);
}

async function putObject(size) {
  const body = randomFillSync(Buffer.allocUnsafe(size));
  const before = server.cpu();
  const t0 = performance.now();
  await server.cos('PUT', 'rate/put.bin', '', body);
  report(`PutObject ${size / MIB} MiB`, size, performance.now() - t0, before);
}

async function uploadParts(partSize, inFlight, parts) {
  const { text } = await server.cos('POST', 'rate/multi.bin', '?uploads', undefined);
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)[1];
  const bodies = Array.from({ length: inFlight }, () => randomFillSync(Buffer.allocUnsafe(partSize)));
  const before = server.cpu();
  const t0 = performance.now();
  await putParts(parts, bodies, (n, body) => server.cos('PUT', 'rate/multi.bin', `?partNumber=${n}&uploadId=${uploadId}`, body));
  report(`UploadPart ${partSize / MIB} MiB × ${inFlight} in flight, ${parts} parts`, parts * partSize, performance.now() - t0, before);
}

try {
  await putObject(256 * MIB);
  await uploadParts(8 * MIB, 6, 32);
  await uploadParts(8 * MIB, 6, 32);
  await uploadParts(1 * MIB, 3, 64);
} finally {
  await server.stop();
}
