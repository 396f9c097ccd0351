// Shared by the node interop suites: start an smh-devserver (SMH_DEVSERVER_BIN) on a fresh data
// directory and wait for its READY line, and hashes computed independently of the server.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Starts the devserver; resolves to `{ready, stop()}` (`stop` kills it and removes its data). */
export async function startDevserver() {
  const bin = process.env.SMH_DEVSERVER_BIN;
  if (!bin) {
    throw new Error('SMH_DEVSERVER_BIN is not set: point it at the smh-devserver binary '
      + '(e.g. target/debug/smh-devserver after `cargo build -p smh-devserver`)');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'smh-interop-node-data-'));
  const server = spawn(bin, ['--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no READY line within 30 s')), 30000);
    server.on('exit', (code) => reject(new Error(`smh-devserver exited with ${code} before READY`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      if (line.startsWith('SMH_DEVSERVER_READY ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice('SMH_DEVSERVER_READY '.length)));
      }
    });
  });
  const stop = () => {
    server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { ready, stop };
}

// CRC-64/XZ (ECMA-182 reflected, init/xorout all ones; docs/cos-api.md §3).
const CRC_TABLE = (() => {
  const poly = 0xC96C5795D7870F42n;
  return Array.from({ length: 256 }, (_, i) => {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    return c;
  });
})();

/** Decimal CRC-64 of a Buffer, as `x-cos-hash-crc64ecma` writes it. */
export function crc64(buf) {
  let crc = 0xFFFFFFFFFFFFFFFFn;
  for (const byte of buf) crc = CRC_TABLE[Number((crc ^ BigInt(byte)) & 0xFFn)] ^ (crc >> 8n);
  return (crc ^ 0xFFFFFFFFFFFFFFFFn).toString();
}

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
