// The playground's memory pictures and its memory pressure lab, in
// Debian's chromium, on a host capped at 64 MiB: the page-state legend and
// the host-memory bar, the vmbus-dm guest (Hyper-V Dynamic Memory on
// demand-allocated RAM) ballooned from its card, the automatic balloon
// policy switched on from the lab to give the pages back, Linux ballooned
// from its card (when built); then guests swapping on a 16 MiB host.
// Screenshots of each view go to $TMPDIR/hv-playground/, as in
// playground.test.ts.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linuxImage } from '../support/linux.ts';
import { chromiumAvailable, createPartition, openPlayground, waitForConsole, type Playground } from '../support/playground.ts';

const SHOTS = join(tmpdir(), 'hv-playground');
const MIB = 1 << 20;
/** What the vmbus-dm guest can give: the free half of its 8 MiB pool, less a MiB (guests/README.md). */
const BALLOON_PAGES = 768;

describe.skipIf(!chromiumAvailable)('the playground memory pressure lab', () => {
  let pg: Playground;
  const shot = async (selector: string, name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await pg.page.locator(selector).screenshot({ path });
    console.log(`screenshot: ${path}`);
  };
  const pages = (name: string, state: string) => async () =>
    Number(await pg.page.locator(`.pages[data-partition=${name}]`).getAttribute(`data-${state}`));
  const legendCount = (state: string) => async () => Number(await pg.page.locator(`.page-legend [data-state=${state}]`).getAttribute('data-count'));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pg = await openPlayground(2, { hostMemory: '64' });
  });
  afterAll(async () => {
    await pg?.close();
  });

  it('names every page state in the legend, and the host-memory bar shows the capped pool', async () => {
    const states = await pg.page.locator('.page-legend [data-state]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.state));
    expect(states).toEqual(['private', 'pinned', 'shared', 'zero', 'unpopulated', 'ballooned', 'swapped']);
    expect(await pg.page.locator('#status').innerText()).toContain('64 MiB for partitions');
    const bar = pg.page.locator('#host-memory-bar');
    // The cap, and the room the JIT's tables take from the pool beside it (host.ts: jitHostBytes).
    await expect.poll(async () => Number(await bar.getAttribute('data-pool')), { timeout: 5_000 }).toBeGreaterThanOrEqual(64 * MIB);
    expect(Number(await bar.getAttribute('data-pool'))).toBeLessThan(66 * MIB);
  });

  it('balloons a Dynamic Memory guest from its card: its pages leave for the host', async () => {
    await createPartition(pg.page, { name: 'dm', what: 'guest:enlightened/vmbus-dm', memoryMiB: 32, paging: 'nested', overcommit: true, balloon: 'dm' });
    await waitForConsole(pg.page, 'dm', 'waiting for balloon');
    // Demand-allocated: most of its 32 MiB was never written; its ring's pages are pinned for the GPADL.
    await expect.poll(pages('dm', 'unpopulated'), { timeout: 5_000 }).toBeGreaterThan(0);
    await expect.poll(pages('dm', 'pinned'), { timeout: 5_000 }).toBeGreaterThan(0);
    // The pinned pages are its Dynamic Memory channel's ring, which the root serves.
    const channel = pg.page.locator('.vmbus-partition[data-partition=dm] .vmbus-channel[data-state=open]');
    await expect.poll(() => channel.getAttribute('data-device')).toBe('dynamic memory');
    expect(await channel.getAttribute('data-served-by')).toBe('root');
    const card = pg.page.locator('.card[data-partition=dm]');
    await card.locator('input[name=balloon-target]').fill(String(32 - (BALLOON_PAGES * 4096) / MIB));
    await card.locator('button[data-action=balloon]').click();
    await expect.poll(pages('dm', 'ballooned'), { timeout: 15_000 }).toBe(BALLOON_PAGES);
    expect(await legendCount('ballooned')()).toBe(BALLOON_PAGES);
    expect(Number(await card.locator('.balloon').getAttribute('data-actual'))).toBe(32 * MIB - BALLOON_PAGES * 4096);
    await waitForConsole(pg.page, 'dm', `the host asked for ${BALLOON_PAGES} pages`);
    await shot('#memory', 'memory-map');
    await shot('#host-memory-bar', 'host-memory-bar');
    await shot('.card[data-partition=dm]', 'balloon-card');
  });

  it('switches the automatic balloon policy on from the lab: it gives the guest its pages back, and off again', async () => {
    const lab = pg.page.locator('#lab');
    expect(await lab.getAttribute('data-policy')).toBe('off');
    await lab.locator('input[name=budget]').fill('64');
    await lab.locator('input[name=policy]').check();
    await expect.poll(() => lab.getAttribute('data-policy')).toBe('on');
    expect(await lab.innerText()).toContain('on: 64 MiB shared by the running balloons');
    await shot('#lab', 'pressure-lab');
    // The guest uses nearly all it keeps: with the buffer its want is all of its RAM, which the budget has room for.
    await waitForConsole(pg.page, 'dm', `the host gave back ${BALLOON_PAGES} pages`, 20_000);
    await waitForConsole(pg.page, 'dm', 'PASSED all 7 checks');
    await lab.locator('input[name=policy]').uncheck();
    await expect.poll(() => lab.getAttribute('data-policy')).toBe('off');
  });

  it.skipIf(!linuxImage())('starts Linux with a virtio-balloon from the lab, and balloons it to the target set on its card', async () => {
    const lab = pg.page.locator('#lab');
    await lab.locator('input[name=policy]').setChecked(false); // only the card moves its target
    await expect.poll(() => lab.getAttribute('data-policy')).toBe('off');
    await lab.locator('input[name=count]').fill('1');
    await lab.locator('select[name=lab-guest]').selectOption({ label: 'Linux: virtio-balloon, 128 MiB' });
    await lab.locator('button[data-action=lab-start]').click();
    await waitForConsole(pg.page, 'linux1', 'hv:/# ', 120_000); // a loaded 2-core machine boots it many times slower than the ~4 s of an idle one
    const card = pg.page.locator('.card[data-partition=linux1]');
    await card.locator('input[name=balloon-target]').fill('64');
    await card.locator('button[data-action=balloon]').click();
    await expect.poll(pages('linux1', 'ballooned'), { timeout: 30_000 }).toBe((64 * MIB) / 4096);
    expect(Number(await card.locator('.balloon').getAttribute('data-actual'))).toBe(64 * MIB);
    await card.locator('button[data-action=destroy]').click();
  });
});

describe.skipIf(!chromiumAvailable)('the playground with hypervisor swap', () => {
  let pg: Playground;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    pg = await openPlayground(2, { hostMemory: '4' });
  });
  afterAll(async () => {
    await pg?.close();
  });

  it('runs two guests that each check 4 MiB on a 4 MiB host with swap: every check passes, and their cards count swap-in exits', async () => {
    // Each guest's own 4 MiB cannot stay resident, so each swaps its pages
    // back in whatever the order the two run in (with a larger host, a guest
    // that ran alone could evict only the pages of one already finished).
    const names = ['sw1', 'sw2'];
    for (const name of names) {
      await createPartition(pg.page, { name, what: 'guest:swap_pattern', memoryMiB: 8, paging: 'nested', overcommit: true, balloon: 'none', swap: true });
    }
    for (const name of names) await waitForConsole(pg.page, name, 'swap_pattern: 4096 KiB checked 3 times');
    const swapExits = async (name: string) => {
      await pg.page.waitForSelector(`.card[data-partition=${name}][data-state=finished]`);
      return Number((await pg.page.locator(`.card[data-partition=${name}] .exits`).innerText()).match(/swap (\d+)/)?.[1] ?? 0);
    };
    for (const name of names) expect(await swapExits(name), `${name}'s swap-in exits`).toBeGreaterThan(0);
    // Finished, they hold their frames until destroyed: the bar counts them as guest RAM, within the pool.
    const bar = async (key: string) => Number(await pg.page.locator('#host-memory-bar').getAttribute(`data-${key}`));
    await expect.poll(() => bar('ram'), { timeout: 5_000 }).toBeGreaterThan(0);
    expect(await bar('ram')).toBeLessThanOrEqual(await bar('pool'));
    const path = join(SHOTS, 'swap.png');
    await pg.page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  });
});
