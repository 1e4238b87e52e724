#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by `npm run build` (run by npm install).
import { main } from '../dist/hv.js';

/**
 * Exits once stdout and stderr have passed on what they hold: when they are
 * sockets (a parent's child_process pipes) their writes are asynchronous,
 * and process.exit dropped the rest (1,000 partitions' last lines).
 */
function exitAfterOutput(code) {
  let open = 2;
  const done = () => {
    if (--open === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (err) => {
    process.stderr.write(`hv: internal error: ${err && err.stack ? err.stack : err}\n`);
    exitAfterOutput(70);
  },
);
