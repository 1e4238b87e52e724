// VMBus on an overcommit partition (kernel/mm/pin.ts, docs/memory.md): a
// GPADL's pages move into one host run and stay pinned while the guest
// holds the GPADL, so the rings keep working while the scanner merges and
// the balloon takes pages around them, and a GPADL naming pages the guest
// gave away is refused as any GPADL naming non-RAM is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { icDevices, integrationServices } from '../../../drivers/vmbus/ic-services.ts';
import { parseElf } from '../../../runtime/loader/elf.ts';
import { Machine } from '../../../runtime/machine/machine.ts';
import { BIN } from '../../support/enlightened.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');
const RAM = 0x8000_0000;
const PAGE = 4096;
const RAM_SIZE = 32 << 20;

describe.each(['nested', 'shadow'] as const)('VMBus on an overcommit partition under %s paging', (paging) => {
  it('the integration components run to the same output while the scanner merges and the balloon takes every page it may; ring pages stay pinned', async () => {
    const ics = integrationServices({ kvp: { push: { HostName: 'hv-root', Purpose: 'integration test' } } });
    let output = '';
    let asked = false;
    let refusedPinned = 0;
    let ballooned = 0;
    let maxPinned = 0;
    const m: Machine = new Machine({
      ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging, overcommit: {}, vmbus: icDevices(ics),
      // Between rounds (the console is flushed there): take every page of the top half of RAM
      // the guest does not use, and try the pinned ones too (refused).
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        const oc = m.overcommit!;
        maxPinned = Math.max(maxPinned, oc.map().pinned);
        for (let page = RAM_SIZE / PAGE / 2; page < RAM_SIZE / PAGE; page++) if (oc.balloonPage(RAM + page * PAGE)) ballooned++;
        // The GPADLs' pages: the balloon may not have them, and they stay where the rings are.
        for (const g of m.vmbus!.channels.save().gpadls.filter((g) => g.created)) {
          for (const pfn of g.pfns) {
            const gpa = parseInt(pfn, 16) * PAGE;
            const before = m.kernel.exports.partitionHostPeek(m.id, BigInt(gpa));
            expect(oc.balloonPage(gpa)).toBe(false);
            expect(m.kernel.exports.partitionHostPeek(m.id, BigInt(gpa))).toBe(before);
            refusedPinned++;
          }
        }
        if (!asked && output.includes('waiting for shutdown\n')) {
          asked = true;
          ics.shutdown.shutdown(false, (e) => expect(e).toBeNull());
        }
      },
    });
    m.hypervisor.sharePagesPerRound = 4096; // a full scan of the partition every round
    const entry = m.loadElf(parseElf(readFileSync(join(BIN, 'vmbus-ic.elf'))));
    m.bootEnlightened(entry, m.placeDtb());
    const result = await m.run({ maxInsns: 30_000_000_000 });
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(m.vmbus!.channels.refusals).toEqual([]);
    expect(m.vmbus!.channels.faults).toEqual([]);
    // Four channels, each ring GPADL pinned while open; the pages merged and ballooned around them.
    expect(maxPinned).toBeGreaterThanOrEqual(4 * 2);
    const map = m.overcommit!.map();
    expect(map.zero + map.shared + map.unpopulated).toBeGreaterThan(1000);
    expect(ballooned).toBeGreaterThan(0);
    expect(refusedPinned).toBeGreaterThan(0);
  });
});

