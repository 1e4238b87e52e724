// Self-modifying code under the JIT (guests/tests/smc.c): a loop rewriting
// its own next instruction, code generated into a buffer and run after
// fence.i, and code written by a virtio-blk read run with and without
// fence.i print what QEMU printed, with the JIT off, on and forced, in every
// paging mode. The read without fence.i is run only if the device's write
// drops the translation of the old code (drivers/emulated/dirty.ts). With
// --jit on, whether a translation arrives before the guest ends depends on
// the compile thread (runtime/jit/compile-thread.ts), so only the output is
// asserted there; --jit always translates at once and must see the drops.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryFile } from '../../drivers/block/file.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { runGuest } from '../support/guest.ts';

const expected = readFileSync('guests/expected/smc.out', 'latin1');
const cases = (['direct', 'nested', 'shadow'] as const).flatMap((paging) => (['off', 'on', 'always'] as const).map((jit) => [paging, jit] as const));

describe('self-modifying code', () => {
  it.each(cases)('under %s paging with --jit %s prints what QEMU printed', async (paging, jit) => {
    const disk = new RawDevice(new MemoryFile(new Uint8Array(64 << 10)));
    const run = await runGuest('guests/bin/smc.elf', { paging, jit, drives: [disk] });
    expect(run.output).toBe(expected);
    if (jit === 'always') expect(run.machine.hypervisor.kernel.jit.counters().invalidations).toBeGreaterThan(0);
  });
});
