// `npm run bench -- browser`: guest speed in Chromium (the playground's
// Web Workers) against Node (worker_threads) in the same run: the same host
// code, the same kernel.wasm, the CPU-bound guest of `bench cpu` on one pCPU
// thread each. Two figures per run:
//  - MIPS: the root's own (instructions over the time from start to finish
//    on its thread), so the page's start-up is not counted; on a loaded
//    machine this mostly measures the load;
//  - MIPS per CPU second of the thread that ran the guest (the busiest
//    thread, thread-cpu.ts): what the engine does with the kernel, whatever
//    else the machine runs. Beside it, the CPU seconds all the run's other
//    threads took (the root, Chromium's main thread, compositor, GPU process).
// The page runs the guest with its live pictures off (nothing drawn, the
// root not asked for figures) and on, so their cost shows apart from the
// engine's. Rounds alternate Node, page without and with pictures; best of
// RUNS each, so a loaded machine weighs on all three alike.
import { Host } from '../runtime/host/host.ts';
import { partitionSpec } from '../runtime/host/spec.ts';
import { chromiumAvailable, createPartition, openPlayground, type Playground } from '../test/support/playground.ts';
import { CPU_GUEST } from './cpu.ts';
import { cpuBetween, threadTimes } from './thread-cpu.ts';
import { kernelModule } from '../runtime/host/kernel.ts';
import { hashBench } from './wasm-hash.ts';

const RUNS = 3;

interface Run {
  instructions: number;
  /** The root's figure (wall clock). */
  mips: number;
}

interface Figures {
  mips: number;
  /** Instructions per microsecond of the busiest thread's CPU time. */
  cpuMips: number;
  /** CPU seconds of every other thread over the run, per second of the busiest one. */
  others: number;
  /** The busiest of them in the last run: "comm seconds-per-second". */
  top: string;
}

async function measured(run: () => Promise<Run>): Promise<Figures> {
  const before = threadTimes();
  const r = await run();
  const [busiest, ...rest] = cpuBetween(before, threadTimes());
  const others = rest.reduce((s, t) => s + t.seconds, 0);
  const top = rest.slice(0, 4).map((t) => `${t.thread.split(' ')[1]} ${(t.seconds / busiest!.seconds).toFixed(2)}`).join(', ');
  return { mips: r.mips, cpuMips: r.instructions / busiest!.seconds / 1e6, others: others / busiest!.seconds, top };
}

async function nodeRun(host: Host, name: string): Promise<Run> {
  const id = await host.create(partitionSpec(name, CPU_GUEST, { memory: 64 << 20 }));
  await host.start(id);
  await host.wait(id);
  const { mips, instructions } = (await host.stats(id)).totals;
  await host.destroy(id);
  return { mips, instructions };
}

async function browserRun(pg: Playground, name: string, pictures: boolean): Promise<Run> {
  await pg.page.locator('#live').setChecked(pictures);
  await createPartition(pg.page, { name, what: 'guest:cpu' });
  // Polled every 500 ms: a locator's wait polls on animation frames, which
  // makes the page draw 60 frames a second and would be counted against it.
  const card = `.card[data-partition=${name}][data-mips]`;
  await pg.page.waitForFunction((sel) => document.querySelector(sel) !== null, card, { polling: 500, timeout: 120_000 });
  const el = pg.page.locator(card);
  const run = { mips: Number(await el.getAttribute('data-mips')), instructions: Number(await el.getAttribute('data-instructions')) };
  await pg.page.locator(`.card[data-partition=${name}] button[data-action=destroy]`).click();
  await pg.page.locator('#live').setChecked(false); // nothing drawn while Node runs
  return run;
}

function best(a: Figures | undefined, b: Figures): Figures {
  return a ? { mips: Math.max(a.mips, b.mips), cpuMips: Math.max(a.cpuMips, b.cpuMips), others: Math.min(a.others, b.others), top: b.top } : b;
}

const HASH_MIB = 16;
const HASH_PASSES = 20;

/** hashBench in a page's worker, on the kernel.wasm the page is served with. */
async function pageHash(pg: Playground): Promise<number> {
  return pg.page.evaluate(
    async ([src, mib, passes]) => {
      const body = `const hashBench = ${src as string};
        onmessage = async (e) => postMessage(hashBench(await WebAssembly.compileStreaming(fetch(e.data.url)), ${mib}, ${passes}));`;
      const w = new Worker(URL.createObjectURL(new Blob([body], { type: 'text/javascript' })));
      const gbs = await new Promise<number>((resolve) => {
        w.onmessage = (e) => resolve(e.data as number);
        w.postMessage({ url: new URL('kernel.wasm', location.href).href });
      });
      w.terminate();
      return gbs;
    },
    [hashBench.toString(), HASH_MIB, HASH_PASSES] as const,
  );
}

export async function benchBrowser(): Promise<void> {
  if (!chromiumAvailable) {
    console.log('browser: /usr/bin/chromium not installed: no figure');
    return;
  }
  const host = await Host.start({ pcpus: 1, memoryBytes: 128 << 20 });
  const pg = await openPlayground(1);
  let node: Figures | undefined, off: Figures | undefined, on: Figures | undefined;
  let hashNode = 0, hashPage = 0;
  try {
    for (let i = 0; i < RUNS; i++) {
      node = best(node, await measured(() => nodeRun(host, `cpu${i}`)));
      off = best(off, await measured(() => browserRun(pg, `plain${i}`, false)));
      on = best(on, await measured(() => browserRun(pg, `live${i}`, true)));
      hashNode = Math.max(hashNode, hashBench(kernelModule(), HASH_MIB, HASH_PASSES));
      hashPage = Math.max(hashPage, await pageHash(pg));
    }
  } finally {
    await pg.close();
    await host.close();
  }
  const line = (what: string, f: Figures) =>
    `browser: ${what.padEnd(24)} ${f.mips.toFixed(1).padStart(6)} MIPS (${(f.mips / node!.mips).toFixed(3)} of Node), ` +
    `${f.cpuMips.toFixed(1).padStart(6)} per CPU second of its thread (${(f.cpuMips / node!.cpuMips).toFixed(3)}), ` +
    `other threads ${f.others.toFixed(2)} s per s (last run: ${f.top})`;
  console.log(`browser: ${CPU_GUEST} on 1 pCPU thread, best of ${RUNS} (target: Chromium >= 0.8 of Node)`);
  console.log(line('Node', node!));
  console.log(line('Chromium, pictures off', off!));
  console.log(line('Chromium, pictures on', on!));
  console.log(
    `browser: kernel.wasm hashFrames over ${HASH_MIB} MiB (pure wasm; the bench's main thread, a worker in the page): Node ${hashNode.toFixed(2)} GB/s, ` +
      `Chromium ${hashPage.toFixed(2)} GB/s (${(hashPage / hashNode).toFixed(3)} of Node)`,
  );
}
