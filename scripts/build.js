// Builds the kernel (AssemblyScript -> build/kernel.wasm) and bundles the
// CLI and the host's worker threads (TypeScript -> dist/), and the browser
// playground (dist/playground/). Run by `npm install` (prepare) and `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.js';
import { bundlePlayground } from './playground.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'build'), { recursive: true });

const t0 = Date.now();
execFileSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), '--config', 'asconfig.json', '--target', 'release'], {
  cwd: root,
  stdio: 'inherit',
});
console.log(`kernel: build/kernel.wasm (${Date.now() - t0} ms)`);

const t1 = Date.now();
await bundle();
console.log(`cli: dist/hv.js, dist/pcpu-worker.js, dist/root-worker.js, dist/endpoint-worker.js, dist/jit-worker.js (${Date.now() - t1} ms)`);

const t2 = Date.now();
await bundlePlayground();
console.log(`playground: dist/playground/ (${Date.now() - t2} ms; serve it with npx hv playground)`);
