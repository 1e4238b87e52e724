// Benchmark: hypervisor swap (kernel/mm/swap.ts, runtime/machine/swap.ts),
// part of `npm run bench -- memory`, each figure with its reference in the
// same run:
//  - swap-in latency on the host path (a device reading a swapped page:
//    translate, pread of the slot into a fresh frame, map), against a plain
//    4 KiB pread of the same file at the same slots;
//  - swap-out rate (clock, shootdown and grace period, pwrite, free);
//  - a guest's swap-in exits: swap_pattern checking 4 MiB while the host
//    evicts 64 pages every round, against the same run without swap: the
//    extra wall time per swap-in exit (exit, read, map, run again, and the
//    evictions that sent the pages out).
// The host path is measured after one warm-up cycle out and in: the first
// writes allocate the file's blocks, and cost several times more.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hypervisor } from '../runtime/host/hypervisor.ts';
import { parseElf } from '../runtime/loader/elf.ts';
import { Machine } from '../runtime/machine/machine.ts';

const RAM = 0x8000_0000;
const PAGE = 4096;

function seconds(f: () => void): number {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
}
const us = (s: number, n: number) => ((s / n) * 1e6).toFixed(2);

function swapMachine(ramSize: number, dir: string | undefined): Machine {
  const config = { ramSize, harts: 1, paging: 'nested' as const, clock: 'icount' as const, onConsole: () => {}, overcommit: dir ? { swap: { dir, lowWatermark: 0 } } : {} };
  const m = new Machine(config, new Hypervisor(Machine.hostBytes(config)));
  m.hypervisor.sharePagesPerRound = 0;
  return m;
}

export async function benchSwap(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hv-bench-swap-'));
  try {
    // Host path: 16 MiB of distinct pages out, then read back by the host.
    const N = 4096;
    const m = swapMachine(N * PAGE, dir);
    const page = new Uint8Array(PAGE);
    for (let i = 0; i < N; i++) {
      new DataView(page.buffer).setUint32(0, i, true);
      m.guestMemory.write(RAM + i * PAGE, page);
    }
    const oc = m.overcommit!;
    // One cycle out and in first: the JIT of both paths warm, the file's blocks allocated.
    oc.swapOut(N);
    for (let i = 0; i < N; i++) m.guestMemory.read(RAM + i * PAGE, 8);
    let out = 0;
    const outS = seconds(() => (out = oc.swapOut(N)));
    if (out !== N) throw new Error(`swapped out ${out} of ${N} pages`);
    // The reference before and after the swap-ins: the same slots, the same page cache.
    const file = oc.swap!.file;
    const buf = new Uint8Array(PAGE);
    const pread = () => seconds(() => {
      for (let slot = 0; slot < N; slot++) file.read(slot, buf);
    });
    const preadBefore = pread();
    const inS = seconds(() => {
      for (let i = 0; i < N; i++) m.guestMemory.read(RAM + i * PAGE, 8);
    });
    if (oc.map().swapped !== 0) throw new Error(`${oc.map().swapped} pages still out`);
    const preadS = Math.min(preadBefore, pread());
    console.log(
      `  swap-in (host)    ${us(inS, N)} us a page (translate, pread into a fresh frame, map); a plain 4 KiB pread of the same slots: ${us(preadS, N)} us ` +
        `(${(inS / preadS).toFixed(1)}x)`,
    );
    console.log(`  swap-out          ${((N / outS) / 1e3).toFixed(0)} K pages/s (${us(outS, N)} us a page: clock, shootdown, grace period, pwrite, free)`);
    m.releaseMemory();

    // Guest path: the swap-in exit.
    const elf = parseElf(readFileSync('guests/bin/swap_pattern.elf'));
    const run = async (swap: boolean) => {
      const g = swapMachine(8 << 20, swap ? dir : undefined);
      g.boot(g.loadElf(elf), g.placeDtb());
      if (swap) {
        const before = g.beforeRound.bind(g);
        g.beforeRound = () => {
          before();
          g.overcommit!.swap!.swapOut(64, 1);
        };
      }
      const t0 = performance.now();
      const result = await g.run({ maxInsns: 200_000_000, slice: 20_000 });
      const s = (performance.now() - t0) / 1000;
      if (result.kind !== 'exit' || result.code !== 0) throw new Error(`swap_pattern: ${JSON.stringify(result)}`);
      const stats = g.overcommit!.stats().swap;
      g.releaseMemory();
      return { s, stats };
    };
    const plain = await run(false);
    const swapped = await run(true);
    const ins = swapped.stats!.swappedIn;
    console.log(
      `  swap-in (vCPU)    ${us(swapped.s - plain.s, ins)} us more wall time per swap-in exit, the evictions included (${ins} exits, ${swapped.stats!.swappedOut} pages out; ` +
        `${(swapped.s).toFixed(2)} s against ${plain.s.toFixed(2)} s without swap); the root's part: ${((swapped.stats!.swapInNsTotal / ins) / 1000).toFixed(2)} us`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
