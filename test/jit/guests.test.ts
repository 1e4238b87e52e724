// Our guests with the JIT forced on (--jit always: every block translated at
// its first taken entry) give the interpreter's output and retire exactly
// the same instructions, in every paging mode.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../support/guest.ts';

const GUESTS = ['hello.elf', 'rv64i.elf', 'rv64m.elf', 'rv64c.elf', 'fp-rounding.elf', 'traps.elf', 'zicsr.elf', 'privilege.elf', 'mmu.elf', 'tlb.elf', 'asid.elf'];
const cases = GUESTS.flatMap((g) => (['direct', 'nested', 'shadow'] as const).map((paging) => [g, paging] as const));

describe('guests under the JIT', () => {
  it.each(cases)('%s under %s paging prints the same and retires the same instructions with --jit always', async (name, paging) => {
    const off = await runGuest(join('guests/bin', name), { paging });
    const on = await runGuest(join('guests/bin', name), { paging, jit: 'always' });
    expect(on.output).toBe(off.output);
    expect(on.result).toEqual(off.result);
    expect(on.machine.instructions()).toBe(off.machine.instructions());
    const jit = on.machine.hypervisor.kernel.jit.counters();
    expect(jit.regionsCompiled).toBeGreaterThan(0);
    expect(jit.instructions).toBeGreaterThan(0);
  });
});

describe('--jit on (translations compiled on the compile thread, arriving whenever it finishes)', () => {
  it('the CPU-bound guest cut at --max-insns prints the same and stops at the same instruction as the interpreter, with most of it translated', async () => {
    const maxInsns = 100_000_000;
    const off = await runGuest('guests/bin/cpu.elf', { maxInsns, jit: 'off' });
    const on = await runGuest('guests/bin/cpu.elf', { maxInsns, jit: 'on' });
    expect(on.output).toBe(off.output);
    expect(on.result).toEqual(off.result);
    expect(on.machine.instructions()).toBe(maxInsns);
    expect(off.machine.instructions()).toBe(maxInsns);
    const jit = on.machine.hypervisor.kernel.jit.counters();
    expect(jit.regionsCompiled).toBeGreaterThan(0);
    expect(jit.instructions).toBeGreaterThan(maxInsns / 2);
  }, 60_000);
});
