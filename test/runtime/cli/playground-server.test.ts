// hv playground's server: the headers that make the page cross-origin
// isolated, what it serves, and nothing outside what it lists.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servePlayground, type PlaygroundServer } from '../../../runtime/cli/playground.ts';
import { bundlePlayground } from '../../../scripts/playground.js';

describe('hv playground server', () => {
  let s: PlaygroundServer;
  beforeAll(async () => {
    if (!existsSync('dist/playground/index.html')) await bundlePlayground();
    s = await servePlayground(0);
  });
  afterAll(() => s?.close());

  it('sends COOP and COEP on every answer, so SharedArrayBuffer works in the page', async () => {
    for (const path of ['', 'app.js', 'kernel.wasm', 'catalog.json', 'guests/hello.elf', 'missing']) {
      const r = await fetch(s.url + path);
      expect(r.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      expect(r.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
    }
    expect((await fetch(s.url + 'kernel.wasm')).headers.get('content-type')).toBe('application/wasm');
  });

  it('lists our guests in catalog.json and serves their ELFs', async () => {
    const catalog = (await (await fetch(s.url + 'catalog.json')).json()) as { guests: { name: string; url: string; enlightened: boolean }[] };
    expect(catalog.guests).toContainEqual({ name: 'hello', url: 'guests/hello.elf', enlightened: false });
    expect(catalog.guests).toContainEqual({ name: 'enlightened/sbi-smp', url: 'guests/enlightened/sbi-smp.elf', enlightened: true });
    const elf = new Uint8Array(await (await fetch(s.url + 'guests/hello.elf')).arrayBuffer());
    expect([...elf.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  });

  it('serves nothing outside the site and its list: escapes and bad URLs are 404 or 400', async () => {
    const get = (path: string) => fetch(s.url.replace(/\/$/, '') + path).then((r) => r.status);
    expect(await get('/%2e%2e/%2e%2e/package.json')).toBe(404);
    expect(await get('/guests/..%2f..%2fpackage.json')).toBe(404);
    expect(await get('/%zz')).toBe(400);
    expect(await fetch(s.url, { method: 'POST' }).then((r) => r.status)).toBe(405);
  });
});
