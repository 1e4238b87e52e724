#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/ by `npm run build` (run by npm install).
import { main } from '../dist/hv.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`hv: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exit(70);
  },
);
