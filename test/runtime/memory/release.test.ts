// A partition's host frames all go back to the pool when it is destroyed or
// when its creation fails: its RAM, and its paging structures (G-stage
// tables, shadow paging's page-table bitmap, its vCPUs' shadow tables). A
// host that creates and destroys partitions (reverts, clones, migrations,
// the playground) must not shrink, and a creation refused for memory is a
// HostMemoryError that leaves the pool as it was.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { HostMemoryError } from '../../../runtime/host/memory-pressure.ts';
import { Machine, type PagingMode } from '../../../runtime/machine/machine.ts';
import { parseElf } from '../../../runtime/loader/elf.ts';

const MiB = 1 << 20;

// guests/tests/mmu.c: S-mode with Sv39 paging on, so a shadow partition's vCPU builds shadow tables.
const MMU = parseElf(new Uint8Array(readFileSync('guests/bin/mmu.elf')));

function create(hv: Hypervisor, paging: PagingMode, ramSize: number, overcommit: boolean): Machine {
  return new Machine({ ramSize, harts: 2, clock: 'icount', paging, ...(overcommit ? { overcommit: {} } : {}), onConsole: () => {} }, hv);
}

describe('partition release', () => {
  for (const paging of ['direct', 'nested', 'shadow'] as const) {
    for (const overcommit of paging === 'direct' ? [false] : [false, true]) {
      it(`gives every frame back when a ${paging}${overcommit ? ' overcommit' : ''} partition that ran is destroyed, 20 times over`, async () => {
        const hv = new Hypervisor(64 * MiB);
        let before = hv.kernel.exports.framesUsed();
        for (let i = 0; i < 20; i++) {
          const m = create(hv, paging, 4 * MiB, overcommit);
          m.boot(m.loadElf(MMU), 0);
          await hv.run();
          expect(m.result).toMatchObject({ kind: 'exit', code: 0 });
          hv.unregister(m.id);
          m.releaseMemory();
          hv.kernel.exports.shareReclaim();
          // Page sharing's host-wide tables (metadata, hash table, zero frame) come with the first overcommit partition and stay.
          if (overcommit && i === 0) before = hv.kernel.exports.framesUsed();
          expect(hv.kernel.exports.framesUsed(), `after partition ${i}`).toBe(before);
        }
      });
    }
  }

  it('refuses a partition the pool cannot hold with a HostMemoryError and takes nothing from the pool', () => {
    const hv = new Hypervisor(8 * MiB);
    // Running guests have taken all but two frames.
    const free = hv.kernel.exports.framesAvailable();
    const hog = hv.kernel.exports.framesAllocContiguous(free - 2, 4096) >>> 0;
    expect(hog).not.toBe(0);
    const used = hv.kernel.exports.framesUsed();
    expect(() => create(hv, 'nested', 1 * MiB, true)).toThrow(HostMemoryError);
    expect(hv.kernel.exports.framesUsed()).toBe(used);
    hv.kernel.exports.framesFree(hog, free - 2);
    expect(() => create(hv, 'nested', 1 * MiB, true)).not.toThrow();
  });
});
