// `npm run fuzz -- --minutes N [--seed S]`: bundles test/fuzz/main.ts and runs it.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundle } from './bundle.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await bundle(); // the CLI and the host's worker threads (dist/), which the cases start
await esbuild.build({
  entryPoints: [join(root, 'test/fuzz/main.ts')],
  outfile: join(root, 'build/fuzz.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, [join(root, 'build/fuzz.js'), ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
