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
      'endpoint-worker': join(root, 'runtime/host/endpoint-worker.ts'),
      'jit-worker': join(root, 'runtime/jit/compile-worker.ts'),
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

/**
 * `npm run bench` and `npm run fuzz`: bundles the host (dist/), then the
 * TypeScript program `entry` (relative to the repo) into build/NAME.js,
 * runs it with `args` (and `nodeFlags`), and exits with its status.
 */
export async function bundleAndRun(entry, name, args, nodeFlags = []) {
  await bundle(); // the CLI and the host's worker threads, which the program may start
  const outfile = await bundleFile(entry, `${name}.js`);
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [...nodeFlags, outfile, ...args], { stdio: 'inherit', cwd: root });
  process.exit(r.status ?? 1);
}

/**
 * Bundles one TypeScript program (`entry`, relative to the repo) into
 * build/OUT for Node (which runs no TypeScript itself); returns its path.
 */
export async function bundleFile(entry, out) {
  const outfile = join(root, 'build', out);
  await esbuild.build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}
