#!/usr/bin/env -S node --initial-old-space-size=64
import { main } from './main.js';

// A command that has finished (services included: main resolves once they have stopped) ends the
// process, even when a client left a socket or a timer behind: a failed start must never hang.
const EXIT_GRACE_MS = 5000;

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
});
