// An overcommit partition saved with open VMBus channels (its GPADL pages
// pinned, pages in its Dynamic Memory balloon) restores on a new host with
// its GPADLs pinned again, and runs on to the same output.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { readSave, restorePartition, savePartition } from '../../../runtime/persist/partition.ts';
import { setupPartition, specHostBytes } from '../../../runtime/machine/setup.ts';
import { BIN } from '../../support/enlightened.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-dm.out', 'latin1');
const RAM_SIZE = 32 << 20;

describe('VMBus on an overcommit partition, saved and restored', () => {
  it('restores the vmbus-dm guest with 768 pages ballooned: its ring pinned again, the balloon given back by the new host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-dm-save-'));
    try {
      const spec = partitionSpec('dm', join(BIN, 'vmbus-dm.elf'), { boot: 'enlightened', memory: RAM_SIZE, paging: 'nested', overcommit: { dynamicMemory: true } });
      let out = '';
      let stop: (() => void) | undefined;
      const options = {
        clock: 'icount' as const,
        onConsole: (b: Uint8Array) => {
          const before = out;
          out += Buffer.from(b).toString('latin1');
          // Between rounds: ask for the balloon, and stop once the guest waits to get it back.
          if (!before.includes('waiting for balloon\n') && out.includes('waiting for balloon\n')) m.overcommit!.setBalloonTarget(RAM_SIZE - 768 * 4096);
          if (!before.includes('waiting for unballoon\n') && out.includes('waiting for unballoon\n')) stop?.();
        },
      };
      const { machine: m } = setupPartition(spec, new Hypervisor(specHostBytes(spec)), options);
      stop = () => m.limit(m.steps());
      expect(await m.run({ maxInsns: 2_000_000_000 })).toEqual({ kind: 'insn-limit' });
      expect(m.overcommit!.map()).toMatchObject({ ballooned: 768, pinned: 8 });
      const file = join(dir, 'dm.hvs');
      savePartition(file, m, spec, () => {});

      const { machine: r } = restorePartition(readSave(file), new Hypervisor(specHostBytes(spec)), options);
      expect(r.overcommit!.map().pinned).toBe(8);
      expect(r.overcommit!.balloonStatus()).toMatchObject({ actualBytes: RAM_SIZE - 768 * 4096 });
      r.overcommit!.setBalloonTarget(RAM_SIZE);
      expect(await r.run({ maxInsns: 2_000_000_000 })).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(out).toBe(EXPECTED);
      expect(r.overcommit!.map().pinned).toBe(0);
      expect(r.vmbus!.channels.faults).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
