// Drives the browser playground in Debian's chromium (playwright-core, no
// browser download): serves dist/playground/ as `hv playground` does and
// opens it. For test/playground/ and `npm run bench -- browser`.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { servePlayground, type PlaygroundServer } from '../../runtime/cli/playground.ts';
import { bundlePlayground } from '../../scripts/playground.js';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

export interface Playground {
  page: Page;
  close(): Promise<void>;
}

/** Builds the page, serves it and opens it with `pcpus` pCPU workers (and the page's other `query` parameters, e.g. jit); resolves once the host is up. */
export async function openPlayground(pcpus: number, query: Record<string, string> = {}): Promise<Playground> {
  await bundlePlayground();
  const server: PlaygroundServer = await servePlayground(0);
  let browser: Browser | undefined;
  try {
    // The sandbox needs user namespaces, which a container running as root may not have.
    // HV_CHROMIUM_ARGS: more flags, to compare engine settings (`--js-flags=...`).
    const args = [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), ...(process.env.HV_CHROMIUM_ARGS?.split(' ').filter(Boolean) ?? [])];
    browser = await chromium.launch({ executablePath: CHROMIUM, args });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => console.error('playground page error:', e));
    await page.goto(`${server.url}?${new URLSearchParams({ pcpus: String(pcpus), ...query })}`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 20_000 });
    const b = browser;
    return { page, close: async () => void (await b.close(), await server.close()) };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}

export interface CreateOptions {
  name: string;
  /** The form's boot choice: 'guest:hello', 'uboot', ... */
  what: string;
  vcpus?: number;
  memoryMiB?: number;
  paging?: 'direct' | 'nested' | 'shadow';
  /** A blank raw disk of this many MiB (default none), on virtio (default) or VMBus. */
  blankDiskMiB?: number;
  diskIf?: 'virtio' | 'vmbus';
  /** Offer the VMBus integration components. */
  ics?: boolean;
  /** Page sharing with the partitions of `salt` (default 0). */
  overcommit?: boolean;
  salt?: number;
  /** With overcommit: the balloon (default virtio), and hypervisor swap (default off). */
  balloon?: 'virtio' | 'dm' | 'none';
  swap?: boolean;
  /** The kernel command line (default none). */
  append?: string;
}

/** Fills the page's form and creates (and starts) a partition, as a user would. */
export async function createPartition(page: Page, o: CreateOptions): Promise<void> {
  const form = page.locator('#create');
  await form.locator('input[name=name]').fill(o.name);
  await form.locator('select[name=what]').selectOption(o.what);
  await form.locator('input[name=vcpus]').fill(String(o.vcpus ?? 1));
  await form.locator('input[name=memoryMiB]').fill(String(o.memoryMiB ?? 64));
  await form.locator('select[name=paging]').selectOption(o.paging ?? 'direct');
  await form.locator('input[name=blankDiskMiB]').fill(String(o.blankDiskMiB ?? 0));
  await form.locator('select[name=diskIf]').selectOption(o.diskIf ?? 'virtio');
  await form.locator('input[name=ics]').setChecked(o.ics ?? false);
  await form.locator('input[name=overcommit]').setChecked(o.overcommit ?? false);
  await form.locator('input[name=salt]').fill(String(o.salt ?? 0));
  await form.locator('select[name=balloon]').selectOption(o.balloon ?? 'virtio');
  await form.locator('input[name=swap]').setChecked(o.swap ?? false);
  await form.locator('input[name=append]').fill(o.append ?? '');
  await form.locator('button[type=submit]').click();
  const refused = page.locator('#form-error').filter({ hasText: /./ });
  await Promise.race([page.waitForSelector(`.card[data-partition="${o.name}"]`, { timeout: 10_000 }), refused.waitFor({ timeout: 10_000 })]);
  const error = await page.locator('#form-error').innerText();
  if (error) throw new Error(`the page refused partition ${o.name}: ${error}`);
}

/** What partition `name`'s console shows now (xterm's rows, as on screen). */
export async function consoleText(page: Page, name: string): Promise<string> {
  return page.locator(`.card[data-partition="${name}"] .xterm-rows`).innerText();
}

/** Waits until `name`'s console shows `text` (or a match of it). */
export async function waitForConsole(page: Page, name: string, text: string | RegExp, timeout = 20_000): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    const shown = await consoleText(page, name);
    if (typeof text === 'string' ? shown.includes(text) : text.test(shown)) return;
    if (Date.now() > end) throw new Error(`partition ${name} never showed ${String(text)}; its console:\n${shown}`);
    await page.waitForTimeout(100);
  }
}

/** Instructions partition `name` has retired, as the page shows them. */
export async function instructions(page: Page, name: string): Promise<number> {
  return Number(await page.locator(`.card[data-partition="${name}"]`).getAttribute('data-instructions'));
}
