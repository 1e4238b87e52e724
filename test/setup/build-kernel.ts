// Rebuilds build/kernel.wasm before the suite when any kernel source is newer,
// and dist/ always (npm install builds both; this keeps edit-test loops honest).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export default async function setup(): Promise<void> {
  // The CLI and the worker threads the tests start come from dist/: bundle
  // them afresh (esbuild takes a fraction of a second).
  const { bundle } = await import('../../scripts/bundle.js');
  await bundle();
  const root = join(import.meta.dirname, '..', '..');
  const wasm = join(root, 'build', 'kernel.wasm');
  const stale = !existsSync(wasm) || statSync(wasm).mtimeMs < Math.max(newestMtime(join(root, 'kernel')), statSync(join(root, 'asconfig.json')).mtimeMs);
  if (!stale) return;
  execFileSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), '--config', 'asconfig.json', '--target', 'release'], {
    cwd: root,
    stdio: 'inherit',
  });
}
