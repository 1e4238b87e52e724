// Memory virtualization: the same TLB-heavy guest (guests/bin/tlb.elf: 4096
// pages touched round-robin under Sv39, nearly every access a TLB miss) in
// each second-stage mode. Prints MIPS and what each TLB miss cost: nested
// paging's two-dimensional walks against shadow paging's one-dimensional
// shadow lookups plus its fills.
import { runGuest } from '../test/support/guest.ts';
import type { PagingMode } from '../runtime/machine/machine.ts';

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
