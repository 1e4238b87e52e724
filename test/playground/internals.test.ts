// The playground's pictures of the newer parts of the hypervisor, in
// Debian's chromium: the JIT tier compiling in the pCPU Web Workers, a
// VMBus guest's channels with their rings, and page sharing in the memory
// map. One page with --jit always (every block is translated, so the
// workers' `new WebAssembly.Module` is exercised by every guest below).
// Screenshots go to $TMPDIR/hv-playground/, as in playground.test.ts.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, createPartition, openPlayground, waitForConsole, type Playground } from '../support/playground.ts';

const SHOTS = join(tmpdir(), 'hv-playground');

describe.skipIf(!chromiumAvailable)('the playground with the JIT, VMBus and overcommit', () => {
  let pg: Playground;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pg = await openPlayground(2, { jit: 'always' });
  });
  afterAll(async () => {
    await pg?.close();
  });

  it('runs hello under --jit always, its regions compiled in the pCPU workers', async () => {
    expect(await pg.page.locator('#status').innerText()).toContain('JIT always');
    await createPartition(pg.page, { name: 'hello', what: 'guest:hello' });
    await waitForConsole(pg.page, 'hello', 'Hello from RISC-V guest!');
    await pg.page.waitForSelector('.card[data-partition=hello][data-state=finished]');
    const regions = async () => Number(await pg.page.locator('#jit-stats').getAttribute('data-regions'));
    await expect.poll(regions, { timeout: 5_000 }).toBeGreaterThan(0);
  });

  it('shows the storage channel vmbus-disk was offered', async () => {
    await createPartition(pg.page, { name: 'vd', what: 'guest:enlightened/vmbus-disk', blankDiskMiB: 1, diskIf: 'vmbus' });
    const channel = pg.page.locator('.vmbus-partition[data-partition=vd] .vmbus-channel[data-device=storage]');
    await channel.first().waitFor({ timeout: 20_000 });
  });

  it("shows disk-bench's storage channel served by the endpoint worker, and the worker's counters moving", async () => {
    await createPartition(pg.page, { name: 'db', what: 'guest:enlightened/disk-bench', blankDiskMiB: 16, diskIf: 'vmbus', append: 'reqs=20000 size=4096' });
    const storage = pg.page.locator('.vmbus-partition[data-partition=db] .vmbus-channel[data-device=storage][data-state=open]');
    await expect.poll(() => storage.getAttribute('data-served-by'), { timeout: 20_000 }).toBe('endpoint worker');
    const worker = pg.page.locator('#vmbus .vmbus-worker');
    await expect.poll(async () => Number(await worker.getAttribute('data-serves')), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(Number(await worker.getAttribute('data-lends'))).toBeGreaterThan(0);
    const path = join(SHOTS, 'vmbus-endpoint-worker.png');
    await pg.page.locator('#vmbus').screenshot({ path });
    console.log(`screenshot: ${path}`);
    await waitForConsole(pg.page, 'db', 'disk-bench: storvsc 20000 reads of 4096 bytes', 120_000);
    await pg.page.locator('.card[data-partition=db] button[data-action=destroy]').click();
  });

  it('shows the open channels of a running vmbus-ic live, with the size of their rings', async () => {
    await createPartition(pg.page, { name: 'ic', what: 'guest:enlightened/vmbus-ic', ics: true });
    const open = pg.page.locator('.vmbus-partition[data-partition=ic] .vmbus-channel[data-state=open]');
    await expect.poll(() => open.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.device)), { timeout: 20_000 })
      .toEqual(['heartbeat', 'shutdown', 'timesync', 'kvp']);
    expect(await open.first().locator('.vmbus-ring').first().getAttribute('title')).toMatch(/^in: \d+ of 12288 bytes waiting$/);
    // Integration components are control-plane traffic: the root serves them, never the endpoint worker.
    expect(await open.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.servedBy))).toEqual(['root', 'root', 'root', 'root']);
    expect(await open.first().locator('.served-by').getAttribute('title')).toBe('served by the root');

    const path = join(SHOTS, 'vmbus-served-by.png');
    await pg.page.locator('#vmbus').screenshot({ path });
    console.log(`screenshot: ${path}`);
    await pg.page.locator('.card[data-partition=ic] button[data-action=destroy]').click();
  });

  it('shows shared pages for partitions that share with each other', async () => {
    // The same guest twice with the same salt: its pages match across the two.
    for (const name of ['share-a', 'share-b']) {
      await createPartition(pg.page, { name, what: 'guest:sched/sleeper', memoryMiB: 4, paging: 'nested', overcommit: true, salt: 7 });
    }
    const shared = async () => Number(await pg.page.locator('.pages[data-partition=share-a]').getAttribute('data-shared'));
    await expect.poll(shared, { timeout: 15_000 }).toBeGreaterThan(0);
    const path = join(SHOTS, 'internals.png');
    await pg.page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  });
});
