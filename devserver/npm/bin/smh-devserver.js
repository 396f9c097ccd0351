#!/usr/bin/env node
// `npx smh-devserver [flags]`: runs the binary this package carries for the platform with the
// same flags and output, and exits as it exits. Ctrl-C and SIGTERM reach the devserver (which
// then removes its temporary data directory) and this script waits for it.
import { spawn } from 'node:child_process';

import { binaryPath } from '../index.js';

let binary;
try {
  binary = binaryPath();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // A terminal's Ctrl-C reaches the whole process group, the devserver included; a signal sent
  // to this script alone is passed on. Either way this script waits for the devserver's exit.
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`smh-devserver: could not start ${binary}: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
