// The browser playground in a real browser (Debian's chromium): the same
// host code in Web Workers boots guests, takes typed input, pauses, and its
// pictures show what the scheduler did. Screenshots for a person to look at
// go to $TMPDIR/hv-playground/ (printed below).
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENSBI, UBOOT } from '../../runtime/cli/playground.ts';
import {
  chromiumAvailable, createPartition, instructions, openPlayground, waitForConsole, type Playground,
} from '../support/playground.ts';

const SHOTS = join(tmpdir(), 'hv-playground');

if (!chromiumAvailable) console.log('test/playground: skipped, /usr/bin/chromium is not installed (apt-get install chromium)');

describe.skipIf(!chromiumAvailable)('the browser playground', () => {
  let pg: Playground;
  const shot = async (name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await pg.page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pg = await openPlayground(2);
  });
  afterAll(async () => {
    await pg?.close();
  });

  it('loads cross-origin isolated, with the host in Web Workers', async () => {
    expect(await pg.page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await pg.page.locator('#status').innerText()).toContain('2 pCPUs');
  });

  it('boots hello and shows what it prints', async () => {
    await createPartition(pg.page, { name: 'hello', what: 'guest:hello' });
    await waitForConsole(pg.page, 'hello', 'Hello from RISC-V guest!');
    await pg.page.waitForSelector('.card[data-partition=hello][data-state=finished]');
  });

  it('boots an SMP guest: four harts exchange IPIs and pass every check', async () => {
    await createPartition(pg.page, { name: 'smp', what: 'guest:smp_ipi', vcpus: 4, paging: 'nested' });
    await waitForConsole(pg.page, 'smp', 'PASSED all 54 checks');
    await shot('smp');
  });

  it.skipIf(!existsSync(OPENSBI) || !existsSync(UBOOT))('takes input typed into the console: U-Boot answers at its prompt', async () => {
    await createPartition(pg.page, { name: 'uboot', what: 'uboot', memoryMiB: 256 });
    await waitForConsole(pg.page, 'uboot', '=>', 30_000);
    await pg.page.locator('.card[data-partition=uboot] .xterm').click();
    await pg.page.keyboard.type('echo typed-in-chromium');
    await pg.page.keyboard.press('Enter');
    // The command line echoed, then U-Boot's answer on a line of its own.
    await waitForConsole(pg.page, 'uboot', /=> echo typed-in-chromium\s*\ntyped-in-chromium\s*\n/, 10_000);
    await shot('uboot');
    await pg.page.locator('.card[data-partition=uboot] button[data-action=destroy]').click();
  });

  it('shows two pCPUs busy with two guests, and pause stops the instruction counter', async () => {
    await createPartition(pg.page, { name: 'cpu-a', what: 'guest:cpu' });
    await createPartition(pg.page, { name: 'cpu-b', what: 'guest:cpu' });
    const rows = pg.page.locator('.tl-row');
    await expect.poll(async () => {
      const seen = await rows.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.partitions ?? ''));
      return seen.every((s) => s.length > 0) && ['cpu-a', 'cpu-b'].every((n) => seen.some((s) => s.split(',').includes(n)));
    }, { timeout: 10_000 }).toBe(true);
    await shot('two-guests');

    await pg.page.locator('.card[data-partition=cpu-a] button[data-action=pause]').click();
    await pg.page.waitForSelector('.card[data-partition=cpu-a][data-state=paused]');
    await pg.page.waitForTimeout(300); // the page samples every 100 ms
    const paused = await instructions(pg.page, 'cpu-a');
    const other = await instructions(pg.page, 'cpu-b');
    await pg.page.waitForTimeout(500);
    expect(await instructions(pg.page, 'cpu-a')).toBe(paused);
    expect(await instructions(pg.page, 'cpu-b')).toBeGreaterThan(other);
    await pg.page.locator('.card[data-partition=cpu-a] button[data-action=resume]').click();
    await expect.poll(() => instructions(pg.page, 'cpu-a'), { timeout: 5_000 }).toBeGreaterThan(paused);
    await shot('paused-and-resumed');
  });
});
