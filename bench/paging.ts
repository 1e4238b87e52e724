// Memory virtualization: the same TLB-heavy guest (guests/bin/tlb.elf: 4096
// pages touched round-robin under Sv39, nearly every access a TLB miss) in
// each second-stage mode. Prints MIPS and what each TLB miss cost: nested
// paging's two-dimensional walks against shadow paging's one-dimensional
// shadow lookups plus its fills.
import { runGuest } from '../test/support/guest.ts';
import type { PagingMode } from '../runtime/machine/machine.ts';
import { bestOf, qemuAvailable, timeQemu } from './qemu.ts';

const GUEST = 'guests/bin/tlb.elf';

export async function benchPaging(): Promise<void> {
  const results: Record<string, number> = {};
  for (const paging of ['direct', 'nested', 'shadow'] as PagingMode[]) {
    let best = 0;
    let line = '';
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const { machine, output } = await runGuest(GUEST, { paging, clock: 'realtime' });
      const seconds = (performance.now() - t0) / 1000;
      const s = machine.stats();
      const mips = s.instructions / seconds / 1e6;
      if (mips <= best) continue;
      best = mips;
      const refsPerMiss = (s.walkRefs + s.gstageRefs) / Math.max(1, s.tlbMisses);
      line =
        `paging: ${paging.padEnd(6)} ${mips.toFixed(1).padStart(6)} MIPS  TLB misses ${s.tlbMisses}  ` +
        `guest walks ${s.pageWalks} (${s.walkRefs} PTE reads)  G-stage walks ${s.gstageWalks} (${s.gstageRefs} PTE reads)  ` +
        `shadow fills ${s.shadowFills}  PTE reads per miss ${refsPerMiss.toFixed(2)}  [${output.trim()}]`;
    }
    results[paging] = best;
    console.log(line);
  }
  console.log(
    `paging: shadow/nested speed = ${(results.shadow! / results.nested!).toFixed(2)}, ` +
      `nested/direct = ${(results.nested! / results.direct!).toFixed(2)}`,
  );
}

const CTXSW = 'guests/bin/ctxsw.elf';

/**
 * Address-space switches without fences and page-granular fences
 * (guests/bench/ctxsw: 8 ASIDs, 32 000 satp writes, one remap plus
 * sfence.vma va, asid per switch), in each mode, against QEMU on the same ELF.
 */
export async function benchContextSwitch(): Promise<void> {
  let direct = 0;
  for (const paging of ['direct', 'nested', 'shadow'] as PagingMode[]) {
    let best = { seconds: Infinity, line: '' };
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const { machine } = await runGuest(CTXSW, { paging, clock: 'realtime' });
      const seconds = (performance.now() - t0) / 1000;
      if (seconds >= best.seconds) continue;
      const s = machine.stats();
      best = {
        seconds,
        line:
          `ctxsw: ${paging.padEnd(6)} ${(s.instructions / seconds / 1e6).toFixed(1).padStart(6)} MIPS  ${seconds.toFixed(3)} s  ` +
          `TLB flushes ${s.tlbFlushes} whole, ${s.tlbInvals} precise  misses ${s.tlbMisses}  walks ${s.pageWalks}  ` +
          `G-stage PTE reads ${s.gstageRefs}  shadow fills ${s.shadowFills}`,
      };
    }
    if (paging === 'direct') direct = best.seconds;
    console.log(best.line);
  }
  if (!qemuAvailable()) return;
  const base = bestOf(3, () => timeQemu(['-bios', 'none', '-kernel', 'guests/bin/hello.elf']));
  const q = bestOf(3, () => timeQemu(['-bios', 'none', '-kernel', CTXSW]));
  const qs = Math.max(q.seconds - base.seconds, 1e-3);
  console.log(`ctxsw: qemu-system-riscv64 ${qs.toFixed(3)} s; hv direct/qemu time = ${(direct / qs).toFixed(1)}`);
}
