// `npm run bench -- browser`: guest speed in Chromium (the playground's
// Web Workers) against Node (worker_threads) in the same run: the same host
// code, the same kernel.wasm, the CPU-bound guest of `bench cpu` on one pCPU
// thread each. MIPS are the root's own figures (instructions over the time
// from start to finish on its thread), so the page's start-up is not counted.
import { Host } from '../runtime/host/host.ts';
import { partitionSpec } from '../runtime/host/spec.ts';
import { chromiumAvailable, createPartition, openPlayground } from '../test/support/playground.ts';
import { CPU_GUEST } from './cpu.ts';

const RUNS = 2;

async function nodeMips(): Promise<number> {
  const host = await Host.start({ pcpus: 1, memoryBytes: 128 << 20 });
  try {
    let best = 0;
    for (let i = 0; i < RUNS; i++) {
      const id = await host.create(partitionSpec(`cpu${i}`, CPU_GUEST, { memory: 64 << 20 }));
      await host.start(id);
      await host.wait(id);
      best = Math.max(best, (await host.stats(id)).totals.mips);
      await host.destroy(id);
    }
    return best;
  } finally {
    await host.close();
  }
}

async function browserMips(): Promise<number> {
  const pg = await openPlayground(1);
  try {
    let best = 0;
    for (let i = 0; i < RUNS; i++) {
      await createPartition(pg.page, { name: `cpu${i}`, what: 'guest:cpu' });
      const card = pg.page.locator(`.card[data-partition=cpu${i}][data-mips]`);
      await card.waitFor({ timeout: 120_000 });
      best = Math.max(best, Number(await card.getAttribute('data-mips')));
      await pg.page.locator(`.card[data-partition=cpu${i}] button[data-action=destroy]`).click();
    }
    return best;
  } finally {
    await pg.close();
  }
}

export async function benchBrowser(): Promise<void> {
  if (!chromiumAvailable) {
    console.log('browser: /usr/bin/chromium not installed: no figure');
    return;
  }
  const node = await nodeMips();
  const chromium = await browserMips();
  console.log(
    `browser: ${CPU_GUEST} on 1 pCPU thread, best of ${RUNS}: Chromium ${chromium.toFixed(1)} MIPS, Node ${node.toFixed(1)} MIPS; ` +
      `chromium/node = ${(chromium / node).toFixed(3)} (target >= 0.8)`,
  );
}
