// Loopback write rate of the cos origin's PUT path (issue 10 item 6): one 256 MiB PutObject,
// then UploadPart of 8 MiB parts with 6 in flight (and 1 MiB × 3 for comparison), from node
// with in-memory Buffers. Prints MB/s and the CPU each side spent per MB. Bounded: fixed sizes, one devserver, a 120 s cap per run.
//
//   node devserver/bench/put-rate.mjs [program [args…]]   (default: target/debug/smh-devserver)
//
// Signs with the READY line's owner keys (cos-api.md §1.1, empty header and parameter lists).
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';

const MIB = 1024 * 1024;
const bin = process.argv[2] ?? 'target/debug/smh-devserver';

const server = spawn(bin, process.argv.slice(3), { stdio: ['ignore', 'pipe', 'inherit'] });
const cap = setTimeout(() => { console.error('put-rate: over 120 s, giving up'); server.kill('SIGKILL'); process.exit(1); }, 120_000);
let ready;
for await (const line of createInterface({ input: server.stdout })) {
  if (line.startsWith('SMH_DEVSERVER_READY ')) { ready = JSON.parse(line.slice(20)); break; }
}

const hex = (alg, key, msg) => (key ? createHmac(alg, key) : createHash(alg)).update(msg).digest('hex');
function authorization(method, key) {
  const now = Math.floor(Date.now() / 1000);
  const keyTime = `${now - 60};${now + 900}`;
  const httpString = `${method.toLowerCase()}\n/${key}\n\n\n`;
  const signKey = hex('sha1', ready.secretKey, keyTime);
  const sig = hex('sha1', signKey, `sha1\n${keyTime}\n${hex('sha1', null, httpString)}\n`);
  return `q-sign-algorithm=sha1&q-ak=${ready.secretId}&q-sign-time=${keyTime}&q-key-time=${keyTime}&q-header-list=&q-url-param-list=&q-signature=${sig}`;
}
// node:http with one write of the whole Buffer: far cheaper per byte than fetch (undici),
// so the client's CPU takes less of the 2 cores from the server being measured.
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
function cos(method, key, query, body) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: authorization(method, key), 'content-length': body?.length ?? 0 };
    const req = request(`http://${ready.cos}/${key}${query}`, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve({ res, text })
        : reject(new Error(`${method} ${key}${query}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const rate = (bytes, ms) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

/// CPU milliseconds used so far by the devserver (Linux /proc; 0 elsewhere) and by this client.
function cpu() {
  let serverMs = 0;
  try {
    const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    serverMs = (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
  } catch { /* not Linux */ }
  const client = process.cpuUsage();
  return { server: serverMs, client: (client.user + client.system) / 1000 };
}

/// "… MB/s; CPU per MB: server a ms, client b ms" for `bytes` moved since `before`.
function report(label, bytes, ms, before) {
  const after = cpu();
  const mb = bytes / 1e6;
  console.log(`${label}: ${ms.toFixed(0)} ms, ${rate(bytes, ms)} MB/s; CPU per MB: server ${((after.server - before.server) / mb).toFixed(2)} ms, client ${((after.client - before.client) / mb).toFixed(2)} ms`);
}

async function putObject(size) {
  const body = randomFillSync(Buffer.allocUnsafe(size));
  const before = cpu();
  const t0 = performance.now();
  await cos('PUT', 'rate/put.bin', '', body);
  report(`PutObject ${size / MIB} MiB`, size, performance.now() - t0, before);
}

async function uploadParts(partSize, inFlight, parts) {
  const { text } = await cos('POST', 'rate/multi.bin', '?uploads', undefined);
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)[1];
  const bodies = Array.from({ length: inFlight }, () => randomFillSync(Buffer.allocUnsafe(partSize)));
  let next = 1;
  const before = cpu();
  const t0 = performance.now();
  await Promise.all(bodies.map(async (body) => {
    while (next <= parts) {
      const n = next++;
      await cos('PUT', 'rate/multi.bin', `?partNumber=${n}&uploadId=${uploadId}`, body);
    }
  }));
  report(`UploadPart ${partSize / MIB} MiB × ${inFlight} in flight, ${parts} parts`, parts * partSize, performance.now() - t0, before);
}

try {
  await putObject(256 * MIB);
  await uploadParts(8 * MIB, 6, 32);
  await uploadParts(8 * MIB, 6, 32);
  await uploadParts(1 * MIB, 3, 64);
} finally {
  clearTimeout(cap);
  agent.destroy();
  server.kill();
  await once(server, 'exit');
}
