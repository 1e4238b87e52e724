// Bundles the browser playground into dist/playground/: the page
// (runtime/playground/), the same host worker scripts as dist/ for Web
// Workers, the kernel, and the page's static files. The host code is the
// one in runtime/host/; only the platform is swapped at bundle time
// (runtime/platform/platform.ts): current.ts resolves to browser.ts, the
// node: built-ins the shared code imports resolve to runtime/platform/browser/,
// and save/restore, snapshots, migration and disk moves (node:zlib, node:net,
// Buffer, files) to a module that refuses them.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/playground');
const browser = join(root, 'runtime/platform/browser');

/** Module -> its browser replacement. A node: built-in not listed fails the bundle. */
const replaced = {
  'node:fs': join(browser, 'fs.ts'),
  'node:path': join(browser, 'path.ts'),
  'node:crypto': join(browser, 'crypto.ts'),
  'node:url': join(browser, 'url.ts'),
};

const browserPlatform = {
  name: 'hv-browser-platform',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (a) =>
      replaced[a.path] ? { path: replaced[a.path] } : { errors: [{ text: `${a.path} has no browser replacement (imported by ${a.importer})` }] },
    );
    build.onResolve({ filter: /platform\/current\.ts$/ }, () => ({ path: join(root, 'runtime/platform/browser.ts') }));
    // Save/restore, migration and disk moves (files, sockets): one refusing stand-in for all their modules.
    const nodeOnly = [join(root, 'runtime/persist'), join(root, 'runtime/migrate'), join(root, 'runtime/storage')];
    build.onResolve({ filter: /\/(persist|migrate|storage)\/[^/]+\.ts$/ }, (a) => {
      const target = join(a.resolveDir, a.path);
      const inside = (dir) => target.startsWith(dir + '/');
      const from = (dir) => a.importer.startsWith(dir + '/');
      return nodeOnly.some(inside) && !nodeOnly.some(from) ? { path: join(browser, 'node-only.ts') } : undefined;
    });
  },
};

export async function bundlePlayground() {
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: {
      app: join(root, 'runtime/playground/app.ts'),
      'app-style': join(root, 'runtime/playground/app.css'),
      'pcpu-worker': join(root, 'runtime/host/pcpu-worker.ts'),
      'root-worker': join(root, 'runtime/host/root-worker.ts'),
      'endpoint-worker': join(root, 'runtime/host/endpoint-worker.ts'),
    },
    outdir: out,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    sourcemap: true,
    plugins: [browserPlatform],
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'runtime/playground/index.html'), join(out, 'index.html'));
  copyFileSync(join(root, 'build/kernel.wasm'), join(out, 'kernel.wasm'));
}
