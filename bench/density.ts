// Benchmark: density (issue 11), 1,000 ticker partitions on one threaded
// host with two pCPU threads (test/support/density.ts). Prints the time to
// create and start them and until each has ticked, and, after a full scan
// of page sharing, the host memory per partition beyond its guest RAM
// against the 256 KiB target and against its guest RAM; then where that
// overhead goes, piece by piece, from partitions built in this thread (the
// same Machines the root partition builds).
import { Host } from '../runtime/host/host.ts';
import { Hypervisor } from '../runtime/host/hypervisor.ts';
import { overcommitOverhead } from '../runtime/machine/overcommit.ts';
import { setupPartition, specHostBytes } from '../runtime/machine/setup.ts';
import { allTicked, densityFigures, OVERHEAD_TARGET, startTickers, tickerPool, tickerSpec } from '../test/support/density.ts';

const COUNT = 1000;
const RAM = 256 << 10;
const PCPUS = 2;

const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function benchDensity(): Promise<void> {
  console.log(`density: ${COUNT} partitions (ticker, ${RAM >> 10} KiB of RAM, nested, one salt group) on ${PCPUS} pCPU threads`);
  await threaded();
  breakdown();
}

async function threaded(): Promise<void> {
  const t0 = performance.now();
  const host = await Host.start({ pcpus: PCPUS, memoryBytes: tickerPool(COUNT, RAM) });
  try {
    const up = performance.now() - t0;
    const run = await startTickers(host, COUNT, RAM);
    const started = performance.now();
    await allTicked(run.out, 1);
    const first = performance.now() - started;
    await allTicked(run.out, 5);
    const fifth = performance.now() - started;
    console.log(
      `  start             host ${s(up)}, ${COUNT} creates ${s(run.createMs)} (${(run.createMs / COUNT).toFixed(2)} ms each), starts ${s(run.startMs)}`,
    );
    console.log(`  progress          every one ticked once ${s(first)} after the starts, five times ${s(fifth)} (a tick is 100 ms of its clock: 0.50 s at best)`);
    // Steady state: 10,000 wake-ups and UART exits a second; the process's CPU time covers every thread.
    const cpu0 = process.cpuUsage();
    const ticks0 = run.out.reduce((n, o) => n + o.length, 0);
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    const wall = performance.now() - w0;
    const cpu = process.cpuUsage(cpu0);
    const ticked = run.out.reduce((n, o) => n + o.length, 0) - ticks0;
    console.log(
      `  steady state      ${((ticked / wall) * 1000).toFixed(0)} ticks/s (${((100 * ticked) / ((wall / 1000) * 10 * COUNT)).toFixed(0)}% of 10 a second each), ` +
        `each a wake-up and a VM exit; the host process used ${((cpu.user + cpu.system) / 1000 / wall * 100).toFixed(0)}% of one core (all threads)`,
    );
    // Sharing: the root scans 100 pages every 20 ms; wait for a pass over all of them after the starts.
    const scans = (await host.hostMemory()).sharing.fullScans;
    while ((await host.hostMemory()).sharing.fullScans < scans + 2) await new Promise((r) => setTimeout(r, 200));
    const scanned = performance.now() - started;
    const after = await host.hostMemory();
    const f = densityFigures(run.before, after, COUNT);
    console.log(
      `  per partition     ${kib(f.overhead)} beyond its guest RAM (target <= ${kib(OVERHEAD_TARGET)}: ${((100 * f.overhead) / OVERHEAD_TARGET).toFixed(0)}%); ` +
        `its RAM in ${kib(f.ram)} of frames after sharing (of ${kib(RAM)}); ${kib(f.total)} in all, ${((100 * f.total) / RAM).toFixed(0)}% of its guest RAM (${s(scanned)}: two full scans)`,
    );
    console.log(
      `  host              ${(after.usedBytes / 2 ** 20).toFixed(1)} MiB of frames in use for ${((COUNT * RAM) / 2 ** 20).toFixed(0)} MiB of guest RAM; ` +
        `root thread heap ${kib((after.rootHeapBytes - run.before.rootHeapBytes) / COUNT)} per partition; sharing saved ${(after.sharing.bytesSaved / 2 ** 20).toFixed(1)} MiB`,
    );
  } finally {
    await host.close();
  }
}

/** Where the overhead goes: partitions built on this thread, each piece measured as the difference it makes. */
function breakdown(): void {
  const N = 200;
  const measure = (spec: (i: number) => ReturnType<typeof tickerSpec>) => {
    const hv = new Hypervisor(N * specHostBytes(spec(0)) + (16 << 20));
    const gc = globalThis.gc;
    gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const frames0 = hv.kernel.exports.framesUsed();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) setupPartition(spec(i), hv, { onConsole: () => {}, exits: true });
    const ms = (performance.now() - t0) / N;
    gc?.();
    return { frames: ((hv.kernel.exports.framesUsed() - frames0) * 4096) / N, heap: (process.memoryUsage().heapUsed - heap0) / N, ms, layout: hv.kernel.layout };
  };
  const direct = measure((i) => ({ ...tickerSpec(i, RAM), paging: 'direct', overcommit: undefined }));
  const nested = measure((i) => ({ ...tickerSpec(i, RAM), overcommit: undefined }));
  const shadow = measure((i) => ({ ...tickerSpec(i, RAM), paging: 'shadow', overcommit: undefined }));
  const shared = measure((i) => tickerSpec(i, RAM));
  const { vcpuSize, partSize } = direct.layout;
  console.log(
    `  breakdown         vCPU block ${kib(vcpuSize)}, descriptor ${kib(partSize)}; G-stage tables ${kib(nested.frames - direct.frames)} ` +
      `(shadow paging instead: ${kib(shadow.frames - direct.frames)} at creation, its tables as the guest maps pages); ` +
      `page-sharing metadata ${kib(overcommitOverhead(tickerPool(COUNT, RAM)) / COUNT)} (16 bytes per pool frame, host-wide); ` +
      `JS objects (Machine, board, devices) ${kib(shared.heap)}${globalThis.gc ? '' : ' [without --expose-gc: approximate]'}; ` +
      `create ${direct.ms.toFixed(2)} ms direct, ${nested.ms.toFixed(2)} ms nested, ${shared.ms.toFixed(2)} ms nested with sharing (this thread, ${N} of each)`,
  );
}
