// Builds the kernel (AssemblyScript -> build/kernel.wasm) and bundles the
// CLI (TypeScript -> dist/hv.js). Run by `npm install` (prepare) and `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'build'), { recursive: true });

const t0 = Date.now();
execFileSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), '--config', 'asconfig.json', '--target', 'release'], {
  cwd: root,
  stdio: 'inherit',
});
console.log(`kernel: build/kernel.wasm (${Date.now() - t0} ms)`);

const t1 = Date.now();
// The CLI and the worker threads of a threaded host (runtime/host/host.ts).
await esbuild.build({
  entryPoints: {
    hv: join(root, 'runtime/cli/main.ts'),
    'pcpu-worker': join(root, 'runtime/host/pcpu-worker.ts'),
    'root-worker': join(root, 'runtime/host/root-worker.ts'),
  },
  outdir: join(root, 'dist'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  packages: 'external',
  logLevel: 'warning',
});
console.log(`cli: dist/hv.js, dist/pcpu-worker.js, dist/root-worker.js (${Date.now() - t1} ms)`);
