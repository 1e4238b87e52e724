// The enlightened VMBus guest (guests/enlightened/vmbus-disk.c, on the C
// client guests/slib/vmbus*.c and storvsc.c) against the root's channel
// manager and synthetic storage (drivers/vmbus/storvsc.ts) over a raw image,
// on both hosts: its console output must be guests/expected/enlightened/
// vmbus-disk.out byte for byte, and the disk must hold what it wrote.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawDevice } from '../../drivers/block/raw.ts';
import { StorvscDevice, storvscInstanceId } from '../../drivers/vmbus/storvsc.ts';
import { Host } from '../../runtime/host/host.ts';
import { checkPartition, partitionSpec, SpecError } from '../../runtime/host/spec.ts';
import { parseDrive } from '../../runtime/cli/drive.ts';
import { UsageError } from '../../runtime/cli/errors.ts';
import { BIN, runEnlightened } from '../support/enlightened.ts';

const dir = mkdtempSync(join(tmpdir(), 'hv-vmbus-disk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1 << 20;
/** A 1 MiB raw image whose sector 0 starts with a line of text (what the guest prints of it). */
function diskImage(name: string): string {
  const path = join(dir, name);
  const bytes = new Uint8Array(MiB);
  bytes.set(Buffer.from('VMBUS-DISK-TEST: sector 0\n', 'latin1'));
  writeFileSync(path, bytes);
  return path;
}

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-disk.out', 'latin1');

/** The guest writes its pattern (an LCG from seed 42, then 3 sectors from seed 7 at +10) over the disk's last 64 KiB. */
function expectGuestData(path: string): void {
  const disk = readFileSync(path);
  const lcg = (n: number, seed: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      out[i] = (seed >>> 16) & 0xff;
    }
    return out;
  };
  const want = lcg(64 << 10, 42);
  want.set(lcg(1536, 7), 10 * 512);
  expect(Buffer.compare(disk.subarray(MiB - (64 << 10)), want)).toBe(0);
  expect(disk.subarray(0, 25).toString('latin1')).toBe('VMBUS-DISK-TEST: sector 0');
}

describe('vmbus-disk guest', () => {
  it.each(['direct', 'nested'] as const)('negotiates, opens the storage channel, reads and writes its disk (deterministic host, %s paging)', async (paging) => {
    const path = diskImage(`det-${paging}.img`);
    const disk = RawDevice.open(path);
    const dev = new StorvscDevice(disk, { instanceId: storvscInstanceId(0) });
    const { output, result, machine } = await runEnlightened('vmbus-disk', { vmbus: [dev], paging });
    disk.close();
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expectGuestData(path);
    expect(machine.vmbus!.channels.refusals).toEqual([]);
    expect(machine.vmbus!.channels.faults).toEqual([]);
    // No emulated device was touched: a request is ring writes plus one signal each way.
    expect(machine.stats().mmioExits).toBe(0);
    expect(dev.scsi.stats).toMatchObject({ reads: 3, writes: 2, flushes: 1, errors: 2 });
  });

  it('runs the same on the threaded host, the disk given as -drive ...,if=vmbus would give it', async () => {
    const path = diskImage('threaded.img');
    const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    try {
      const spec = partitionSpec('vmbus-disk', join(BIN, 'vmbus-disk.elf'), { boot: 'enlightened', memory: 32 << 20, disks: [{ path, if: 'vmbus' }] });
      let out = '';
      const id = await host.create(spec, (b) => (out += Buffer.from(b).toString('latin1')));
      await host.start(id);
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(out).toBe(EXPECTED);
      // The endpoint worker served the channel (lent at OPENCHANNEL), not the root's thread.
      const served = await host.endpointStats();
      expect(served.lends).toBe(1);
      expect(served.serves).toBeGreaterThan(0);
      await host.destroy(id);
    } finally {
      await host.close();
    }
    expectGuestData(path);
  });

  it('serves the guest\u2019s disk requests on the threaded host without a VM exit: 400 reads cost no more exits than none', async () => {
    const path = join(dir, 'bench.img');
    writeFileSync(path, new Uint8Array(2 * MiB));
    const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    /** VM exits of a disk-bench run of `reqs` 4 KiB reads (guests/enlightened/disk-bench.c), and what it printed. */
    const exits = async (reqs: number) => {
      const spec = partitionSpec('disk-bench', join(BIN, 'disk-bench.elf'), {
        boot: 'enlightened', memory: 32 << 20, append: `reqs=${reqs} size=4096`, disks: [{ path, readonly: true, if: 'vmbus' }],
      });
      let out = '';
      const id = await host.create(spec, (b) => (out += Buffer.from(b).toString('latin1')));
      await host.start(id);
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(out).toMatch(new RegExp(`disk-bench: \\S+ ${reqs} reads of 4096 bytes`));
      const { vcpuStats } = await host.stats(id);
      await host.destroy(id);
      return vcpuStats.reduce((n, v) => n + v.exits.mmio + v.exits.sbi + v.exits.htif + v.exits.other, 0);
    };
    try {
      const setup = await exits(0); // negotiation, offers, GPADLs, open, close: the control plane's posts and EOMs
      const busy = await exits(400);
      // Each request is a ring write and a signal_event, which rings the event
      // area's doorbell that the root's thread waits on: no exit. (Before, one
      // exit per signal: about 400 here.) A few more console exits for the
      // longer line the guest prints are all that may differ.
      expect(busy - setup).toBeLessThanOrEqual(4);
      expect((await host.endpointStats()).serves).toBeGreaterThan(400 / 4); // by the endpoint worker (a wake-up may serve several)
    } finally {
      await host.close();
    }
  });
});

describe('a synthetic disk in a partition spec', () => {
  it('is -drive file=PATH,if=vmbus on the command line and disks[].if = "vmbus" in a spec', () => {
    expect(parseDrive('file=d.img,if=vmbus')).toEqual({ path: 'd.img', format: undefined, readonly: false, if: 'vmbus' });
    expect(parseDrive('file=d.img,if=virtio')).toEqual({ path: 'd.img', format: undefined, readonly: false });
    expect(() => parseDrive('file=d.img,if=scsi')).toThrow(UsageError);
  });

  it('needs an enlightened partition, whose guest speaks VMBus', () => {
    const disks = [{ path: 'd.img', if: 'vmbus' as const }];
    expect(() => checkPartition(partitionSpec('p', 'k.elf', { disks }))).toThrow(SpecError);
    expect(() => checkPartition(partitionSpec('p', 'k.elf', { disks, boot: 'enlightened' }))).not.toThrow();
  });
});
