// Bundles the CLI and the worker threads of a threaded host
// (runtime/host/host.ts) into dist/. Used by scripts/build.js and by the
// test suite's global setup (so that tests never run stale workers).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function bundle() {
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
}
