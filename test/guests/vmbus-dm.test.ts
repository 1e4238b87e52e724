// Hyper-V Dynamic Memory (drivers/vmbus/dm.ts) against the enlightened
// guest that runs a balloon as Linux's hv_balloon does
// (guests/enlightened/vmbus-dm.c on guests/slib/hv_dm.c): negotiation,
// capabilities, status reports, a balloon request answered in two
// responses, unballoon requests, and the pages' way out of and back into
// the partition's RAM. Its output must be
// guests/expected/enlightened/vmbus-dm.out byte for byte on both hosts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DynamicMemoryDevice } from '../../drivers/vmbus/dm.ts';
import { Host } from '../../runtime/host/host.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { parseElf } from '../../runtime/loader/elf.ts';
import { Machine } from '../../runtime/machine/machine.ts';
import type { PartitionMemoryMap } from '../../runtime/machine/overcommit.ts';
import { BIN } from '../support/enlightened.ts';
import { watchConsole } from '../support/console-watch.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-dm.out', 'latin1');
const RAM_SIZE = 32 << 20;
const BALLOON_PAGES = 768;

describe('vmbus-dm guest', () => {
  it.each(['nested', 'shadow'] as const)('balloons %s-paged RAM out to the host and back, exactly (deterministic host)', async (paging) => {
    const dm = new DynamicMemoryDevice();
    let output = '';
    const seen = new Set<string>();
    let during: PartitionMemoryMap | undefined;
    const m: Machine = new Machine({
      ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging, overcommit: { dynamicMemory: true }, vmbus: [dm],
      // The console is flushed between rounds: a deterministic point to ask.
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        const once = (marker: string, f: () => void) => {
          if (!seen.has(marker) && output.includes(marker)) {
            seen.add(marker);
            f();
          }
        };
        once('waiting for balloon\n', () => m.overcommit!.setBalloonTarget(RAM_SIZE - BALLOON_PAGES * 4096));
        once('waiting for unballoon\n', () => {
          during = m.overcommit!.map();
          expect(m.overcommit!.balloonStatus()).toMatchObject({ targetBytes: RAM_SIZE - BALLOON_PAGES * 4096, actualBytes: RAM_SIZE - BALLOON_PAGES * 4096 });
          m.overcommit!.setBalloonTarget(RAM_SIZE);
        });
      },
    });
    m.overcommit!.attachDynamicMemory(dm);
    const entry = m.loadElf(parseElf(readFileSync(join(BIN, 'vmbus-dm.elf'))));
    m.bootEnlightened(entry, m.placeDtb());
    const result = await m.run({ maxInsns: 2_000_000_000 });
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(m.vmbus!.channels.refusals).toEqual([]);
    expect(m.vmbus!.channels.faults).toEqual([]);
    // While ballooned the pages had no frames; the ring's pages were pinned, and unpinned at close.
    expect(during!.ballooned).toBe(BALLOON_PAGES);
    expect(during!.pinned).toBe(8);
    expect(m.overcommit!.map().pinned).toBe(0);
    expect(dm).toMatchObject({ state: 'ready', version: 0x2_0000, caps: { balloon: true, hotAdd: false }, ballooned: 0 });
    // The guest's last status report: the pool's used and free pages.
    expect(dm.status).toMatchObject({ numCommitted: 2048, numAvail: 0 });
  });

  it('does the same on the threaded host, its balloon driven through HostController.balloon', async () => {
    const host = await Host.start({ pcpus: 2, memoryBytes: 128 << 20 });
    try {
      const spec = partitionSpec('vmbus-dm', join(BIN, 'vmbus-dm.elf'), {
        boot: 'enlightened', memory: RAM_SIZE, paging: 'nested', overcommit: { dynamicMemory: true },
      });
      const con = watchConsole(host);
      const printed = con.printed;
      const id = (con.id = await host.create(spec, con.sink));
      await host.start(id);
      await printed('waiting for balloon\n');
      expect(await host.balloon(id, RAM_SIZE - BALLOON_PAGES * 4096)).toMatchObject({ targetBytes: RAM_SIZE - BALLOON_PAGES * 4096 });
      await printed('waiting for unballoon\n');
      const during = (await host.stats(id)).totals.memory!;
      expect(during.pages.ballooned).toBe(BALLOON_PAGES);
      expect(during.balloon).toMatchObject({ actualBytes: RAM_SIZE - BALLOON_PAGES * 4096 });
      await host.balloon(id, RAM_SIZE);
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(con.out).toBe(EXPECTED);
      await host.destroy(id);
    } finally {
      await host.close();
    }
  });

  it('is ballooned by the automatic policy on the threaded host (HostController.balloonPolicy): to a tight budget, then back', async () => {
    const host = await Host.start({ pcpus: 2, memoryBytes: 128 << 20 });
    try {
      const spec = partitionSpec('vmbus-dm', join(BIN, 'vmbus-dm.elf'), {
        boot: 'enlightened', memory: RAM_SIZE, paging: 'nested', overcommit: { dynamicMemory: true },
      });
      const con = watchConsole(host);
      const printed = con.printed;
      const id = (con.id = await host.create(spec, con.sink));
      await host.start(id);
      await printed('waiting for balloon\n');
      // The guest says it uses all but 4 MiB of its pool (its use plus 30% is more than its RAM):
      // the policy gives it the budget, 3 MiB less than its RAM, in one step.
      const tight = { budgetBytes: RAM_SIZE - BALLOON_PAGES * 4096, stepBytes: 4 << 20, bufferPercent: 30, intervalMs: 20 };
      expect(await host.balloonPolicy(tight)).toEqual({ budgetBytes: tight.budgetBytes, stepBytes: tight.stepBytes, bufferPercent: 30 });
      await printed('waiting for unballoon\n');
      expect((await host.stats(id)).totals.memory!.pages.ballooned).toBe(BALLOON_PAGES);
      await host.balloonPolicy({ ...tight, budgetBytes: 1 << 30 });
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(await host.balloonPolicy(null)).toBeNull();
      expect(con.out).toBe(EXPECTED);
      await host.destroy(id);
    } finally {
      await host.close();
    }
  });
});
