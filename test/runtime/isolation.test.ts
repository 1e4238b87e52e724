// A guest trying to reach what is not its own — memory past its RAM, hv's own
// memory at low host addresses, holes, huge addresses, a page-table loop, a
// flood of faulting exits — gets architectural faults in every paging mode,
// and the host carries on.
import { describe, expect, it } from 'vitest';
import { runGuest } from '../support/guest.ts';

describe('isolation', () => {
  it.each(['direct', 'nested', 'shadow'] as const)('every escape attempt faults under %s paging', async (paging) => {
    const { output, result } = await runGuest('guests/bin/isolation.elf', { ramSize: 64 << 20, paging });
    expect(output).not.toMatch(/FAIL/);
    expect(output).toMatch(/PASSED all 39 checks/);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  });

  it('guest stores outside RAM leave host memory untouched', async () => {
    const { machine } = await runGuest('guests/bin/isolation.elf', { ramSize: 64 << 20 });
    const host = new Uint8Array(machine.memory.buffer as ArrayBuffer);
    // The prober stored 0xdeadbeef at guest addresses that equal these host addresses.
    for (const addr of [0x0, 0x0020_0000, 0x0120_0000]) {
      const word = new DataView(host.buffer, addr, 8).getBigUint64(0, true);
      expect(word).not.toBe(0xdeadbeefn);
    }
  });
});
