// Shared by the node interop suites: an smh-devserver (SMH_DEVSERVER_BIN) started by the npm
// package's launcher on a fresh data directory, and hashes computed independently of the server.

import { createHash } from 'node:crypto';

import { startDevserver as launch } from '../../devserver/npm/index.js';

/** Starts the devserver; resolves to `{ready, stop()}` (`stop` ends it and removes its data). */
export async function startDevserver() {
  if (!process.env.SMH_DEVSERVER_BIN) {
    throw new Error('SMH_DEVSERVER_BIN is not set: point it at the smh-devserver binary '
      + '(e.g. target/debug/smh-devserver after `cargo build -p smh-devserver`)');
  }
  return launch({ binary: process.env.SMH_DEVSERVER_BIN, stderr: 'inherit' });
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
