// Locates files of the installed package (build/kernel.wasm, guests/) from
// any module, bundled (dist/) or not (runtime/...).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'kernel'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root from ' + import.meta.url);
    dir = up;
  }
  return (root = dir);
}

export function kernelWasmPath(): string {
  return join(packageRoot(), 'build', 'kernel.wasm');
}

/** A worker thread's script (bundled by scripts/build.js next to dist/hv.js). */
export function workerPath(name: 'pcpu-worker' | 'root-worker' | 'endpoint-worker' | 'jit-worker'): string {
  return join(packageRoot(), 'dist', `${name}.js`);
}
