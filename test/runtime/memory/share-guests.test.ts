// Our self-checking guests (their page tables, TLB and ASID games, atomics,
// traps, IPIs between 4 harts) print the same, to the instruction, with
// page sharing on and a full scan after every round (the guests then break
// sharing of the zero pages they write), as without it: merging and
// copy-on-write are invisible to a guest, in both modes that share.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseElf } from '../../../runtime/loader/elf.ts';
import { Machine, type PagingMode } from '../../../runtime/machine/machine.ts';
import { sharingCounters } from '../../../runtime/machine/overcommit.ts';
import { runGuest } from '../../support/guest.ts';

const GUESTS = [
  ['mmu.elf', 1], ['asid.elf', 1], ['tlb.elf', 1], ['rv64a.elf', 1], ['traps.elf', 1], ['smp_ipi.elf', 4],
] as const;
const RAM_SIZE = 8 << 20;

async function sharedRun(name: string, harts: number, paging: PagingMode) {
  let output = '';
  const m = new Machine({ ramSize: RAM_SIZE, harts, clock: 'icount', paging, overcommit: {}, onConsole: (b) => (output += Buffer.from(b).toString('latin1')) });
  m.hypervisor.sharePagesPerRound = RAM_SIZE / 4096; // a full scan after every round
  const entry = m.loadElf(parseElf(readFileSync(`guests/bin/${name}`)));
  m.boot(entry, m.placeDtb());
  // Short slices scan often; a multi-hart guest's interleaving (and so its
  // instruction count) depends on the slice, so it keeps the default.
  const result = await m.run({ maxInsns: 200_000_000, slice: harts === 1 ? 5_000 : undefined });
  return { output, result, m };
}

describe.each(['nested', 'shadow'] as const)('guests under %s paging with page sharing', (paging) => {
  it.each(GUESTS)('%s (%i harts) prints the same while the scanner merges its pages and it breaks them', async (name, harts) => {
    const plain = await runGuest(`guests/bin/${name}`, { paging, ramSize: RAM_SIZE, harts });
    const shared = await sharedRun(name, harts, paging);
    expect(shared.output).toBe(plain.output);
    expect(shared.result).toEqual(plain.result);
    expect(shared.m.instructions()).toBe(plain.machine.instructions());
    const c = sharingCounters(shared.m.kernel);
    // Most of 8 MiB is zero: never written (unpopulated), or merged into the zero frame.
    expect(c.zeroPages + shared.m.overcommit!.map().unpopulated).toBeGreaterThan(1000);
    expect(c.fullScans).toBeGreaterThan(0);
    expect(c.cowBreaks).toBe(shared.m.overcommit!.map().cowBreaks);
  });
});
