// `hv playground [--port N] [--host ADDR]`: serves the browser playground
// (dist/playground/, built by `npm run build`) with the headers that make a
// page cross-origin isolated (COOP same-origin, COEP require-corp), which
// SharedArrayBuffer and so the host's shared memory need. Beside the page it
// serves what the page can boot: our guest ELFs (guests/bin/), Debian's
// OpenSBI and U-Boot images and the local Linux build when present, listed
// in /catalog.json. Nothing else on the machine is reachable.
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { packageRoot } from '../host/paths.ts';
import type { Catalog } from '../playground/catalog.ts';
import { parseArgs } from './args.ts';
import { UsageError } from './errors.ts';

export const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
export const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
  '.json': 'application/json', '.map': 'application/json',
};

/** The local Linux build's Image (guests/linux/build.sh --path), if built. */
function linuxImage(root: string): string | undefined {
  try {
    const dir = execFileSync('sh', [join(root, 'guests/linux/build.sh'), '--path'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const image = join(dir, 'Image');
    return existsSync(image) ? image : undefined;
  } catch {
    return undefined;
  }
}

/** URL path -> file for everything but the page: a fixed table, so no request names another file. */
function bootFiles(root: string): { files: Map<string, string>; catalog: Catalog } {
  const files = new Map<string, string>();
  const catalog: Catalog = { guests: [] };
  const bin = join(root, 'guests/bin');
  for (const dir of ['', 'enlightened', 'sched']) {
    const at = join(bin, dir);
    if (!existsSync(at)) continue;
    for (const f of readdirSync(at).sort()) {
      if (!f.endsWith('.elf')) continue;
      const url = `guests/${dir ? dir + '/' : ''}${f}`;
      files.set('/' + url, join(at, f));
      catalog.guests.push({ name: (dir ? dir + '/' : '') + f.slice(0, -4), url, enlightened: dir === 'enlightened' });
    }
  }
  const add = (url: string, file: string | undefined, key: 'opensbi' | 'uboot' | 'linux') => {
    if (!file || !existsSync(file)) return;
    files.set('/' + url, file);
    catalog[key] = url;
  };
  add('firmware/fw_jump.bin', OPENSBI, 'opensbi');
  add('firmware/u-boot.bin', UBOOT, 'uboot');
  add('linux/Image', linuxImage(root), 'linux');
  return { files, catalog };
}

export interface PlaygroundServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts the server; port 0 picks a free one. */
export async function servePlayground(port: number, host = '127.0.0.1'): Promise<PlaygroundServer> {
  const root = packageRoot();
  const site = join(root, 'dist/playground');
  if (!existsSync(join(site, 'index.html'))) throw new UsageError(`${site} is missing: run npm run build first`);
  const { files, catalog } = bootFiles(root);
  const server = createServer((req, res) => {
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-cache' };
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end(); // a malformed URL or %-escape
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    if (path === '/catalog.json') {
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.json'] }).end(JSON.stringify(catalog));
      return;
    }
    let file = files.get(path);
    if (!file) {
      const rel = normalize(path === '/' ? '/index.html' : path);
      const inSite = join(site, rel);
      if (inSite.startsWith(site + sep) && existsSync(inSite) && statSync(inSite).isFile()) file = inSite;
    }
    if (!file) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${addr.port}/`,
    server,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export async function playgroundCommand(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, { port: { value: true }, host: { value: true }, help: { value: false }, h: { value: false } });
  if (options.has('help') || options.has('h')) {
    process.stdout.write('usage: hv playground [--port N] [--host ADDR]\nServes the browser playground (default http://127.0.0.1:8321/).\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const port = Number(options.get('port')?.at(-1) ?? 8321);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got ${options.get('port')?.at(-1)}`);
  const s = await servePlayground(port, options.get('host')?.at(-1));
  process.stdout.write(`hv playground: open ${s.url} (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await s.close();
  return 0;
}
