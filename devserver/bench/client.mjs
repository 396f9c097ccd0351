// Shared by the devserver's bench scripts: start a server (the devserver, or sink.mjs) and read
// its READY line, sign COS requests with the owner keys it prints (docs/cos-api.md §1.1, empty header
// and parameter lists), send requests with node:http (one write of a whole Buffer: far cheaper
// per byte than fetch, so the client takes less of the 2 cores from the server measured), and
// the CPU each side used.
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';

import { startDevserver } from '../npm/index.js';

export const MIB = 1024 * 1024;

/** Starts `argv` (default: the debug devserver; e.g. `node sink.mjs`) with the npm package's
 *  launcher, gives up after `capMs`; resolves to `{ready, request, cos, cpu, stop}`. */
export async function startServer(argv, capMs) {
  const [binary, ...args] = argv.length ? argv : ['target/debug/smh-devserver'];
  const server = await startDevserver({ binary, args, stderr: 'inherit' });
  const { ready } = server;
  const cap = setTimeout(() => {
    console.error(`over ${capMs / 1000} s, giving up`);
    server.kill();
    process.exit(1);
  }, capMs);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  /** `method url` with `headers` and an optional Buffer body; resolves to `{status, text}`. */
  const request = (method, url, headers, body) => new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { 'content-length': body?.length ?? 0, ...headers }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });

  const hex = (alg, key, msg) => (key ? createHmac(alg, key) : createHash(alg)).update(msg).digest('hex');
  const authorization = (method, key) => {
    const now = Math.floor(Date.now() / 1000);
    const keyTime = `${now - 60};${now + 900}`;
    const signKey = hex('sha1', ready.secretKey, keyTime);
    const sig = hex('sha1', signKey, `sha1\n${keyTime}\n${hex('sha1', null, `${method.toLowerCase()}\n/${key}\n\n\n`)}\n`);
    return `q-sign-algorithm=sha1&q-ak=${ready.secretId}&q-sign-time=${keyTime}&q-key-time=${keyTime}&q-header-list=&q-url-param-list=&q-signature=${sig}`;
  };

  /** A COS request signed with the owner keys; rejects unless 200. */
  const cos = async (method, key, query, body) => {
    const r = await request(method, `http://${ready.cos}/${key}${query}`, { authorization: authorization(method, key) }, body);
    if (r.status !== 200) throw new Error(`${method} ${key}${query}: ${r.status} ${r.text}`);
    return r;
  };

  /** CPU milliseconds used so far by the server (Linux /proc; 0 elsewhere) and by this client. */
  const cpu = () => {
    let serverMs = 0;
    try {
      const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      serverMs = (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
    } catch { /* not Linux */ }
    const client = process.cpuUsage();
    return { server: serverMs, client: (client.user + client.system) / 1000 };
  };

  const stop = async () => {
    clearTimeout(cap);
    agent.destroy();
    await server.stop();
  };
  return { ready, request, cos, cpu, stop };
}

/** PUTs `parts` parts (bodies reused round-robin from `bodies`), `bodies.length` in flight;
 *  `put(n, body)` sends part n (1-based). */
export async function putParts(parts, bodies, put) {
  let next = 1;
  await Promise.all(bodies.map(async (body) => {
    while (next <= parts) await put(next++, body);
  }));
}
