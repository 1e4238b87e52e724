// Saving and live-migrating a partition whose VMBus devices were added and
// removed while it ran (runtime/host/vmbus-hotplug.ts specNow): the spec names the
// bus as it is, so the restored guest is offered what it had, under the same
// relids and instance ids (a relid the guest released is given to the next
// device added). vmbus-ic (threaded host) has no storage or network driver:
// its disk and NIC channels stay offered, its ICs run on.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Host } from '../../runtime/host/host.ts';
import { checkPartition, IC_NAMES, partitionSpec, SpecError } from '../../runtime/host/spec.ts';
import { migrateIn, threadedTarget } from '../../runtime/migrate/target.ts';
import { BIN } from '../support/enlightened.ts';
import { relidReleased as released } from '../support/relid.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');
const WAITING = 'waiting for shutdown\n';

/** A console sink, and a wait for `marker` that fails at once if the guest ends first. */
function consoleOf(host: Host) {
  const con = {
    out: '',
    sink: (b: Uint8Array) => void (con.out += Buffer.from(b).toString('latin1')),
    async printed(id: number, marker: string): Promise<void> {
      let ended = false;
      void host.wait(id).then(() => (ended = true));
      while (!con.out.includes(marker)) {
        if (ended) throw new Error(`the guest ended before printing ${JSON.stringify(marker)}:\n${con.out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  return con;
}

describe('a partition whose VMBus devices changed while it ran', () => {
  it('names its devices\u2019 slots in its spec: whole numbers, one device each, VMBus disks only', () => {
    const spec = (more: object) => partitionSpec('p', 'k.elf', { boot: 'enlightened', ...more });
    const ok = (more: object) => expect(() => checkPartition(spec(more))).not.toThrow();
    const bad = (more: object, msg: RegExp) => expect(() => checkPartition(spec(more))).toThrow(msg);
    ok({ disks: [{ path: 'a.img', if: 'vmbus', slot: 3 }, { path: 'b.img', if: 'vmbus' }], nics: [{ slot: 1 }, { slot: 0 }] });
    bad({ disks: [{ path: 'a.img', if: 'vmbus', slot: 1 }, { path: 'b.img', if: 'vmbus' }] }, /disks\[1\]\.slot: 1 is also disks\[0\]'s/);
    bad({ disks: [{ path: 'a.img', slot: 0 }] }, /disks\[0\]\.slot: only a disk on VMBus has a slot/);
    bad({ nics: [{ slot: -1 }] }, /nics\[0\]\.slot: must be an integer 0\.\.65535/);
    expect(() => checkPartition(spec({ nics: [{ slot: 'x' }] }))).toThrow(SpecError);
  });

  it('is saved with a hot-added disk and NIC and without its removed disk, and restores with the same channels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-hotsave-'));
    const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    try {
      const specDisk = join(dir, 'spec.img');
      const hotDisk = join(dir, 'hot.img');
      writeFileSync(specDisk, new Uint8Array(1 << 20));
      writeFileSync(hotDisk, new Uint8Array(1 << 20));
      const spec = partitionSpec('vmbus-ic', join(BIN, 'vmbus-ic.elf'), {
        boot: 'enlightened', memory: 32 << 20, vmbus: { ic: [...IC_NAMES], kvp: { HostName: 'hv-root', Purpose: 'integration test' } }, disks: [{ path: specDisk, format: 'raw', if: 'vmbus' }],
      });
      const con = consoleOf(host);
      const id = await host.create(spec, con.sink);
      await host.start(id);
      await con.printed(id, WAITING);
      // relid 1: the spec's disk; 2-5 the ICs. The removed disk's relid is released by the guest (guests/slib/vmbus.c) and offered again.
      await host.removeVmbusDevice(id, 1);
      await released(host, id, 1);
      expect(await host.addVmbusDisk(id, { path: hotDisk, format: 'raw' })).toBe(1);
      expect(await host.addVmbusNic(id, { mac: '52:54:00:00:00:42' })).toBe(6);
      const before = (await host.channels(id)).map((c) => [c.relid, c.device, c.state]);
      expect(before).toEqual([[1, 'storage', 'offered'], [2, 'heartbeat', 'open'], [3, 'shutdown', 'open'], [4, 'timesync', 'open'], [5, 'kvp', 'open'], [6, 'network', 'offered']]);
      await host.pause(id);
      const file = join(dir, 'p.hvs');
      await host.save(id, file);
      await host.destroy(id);

      const after = consoleOf(host);
      const restored = await host.restore(file, after.sink);
      expect((await host.channels(restored)).map((c) => [c.relid, c.device, c.state])).toEqual(before);
      expect((await host.switchPorts()).map((p) => [p.name, p.mac])).toEqual([['vmbus-ic/0', '52:54:00:00:00:42']]);
      // The restored bus takes more: the next disk gets a new relid and an instance the guest never saw.
      await host.start(restored);
      const hot2 = join(dir, 'hot2.img');
      writeFileSync(hot2, new Uint8Array(1 << 20));
      expect(await host.addVmbusDisk(restored, { path: hot2 })).toBe(7);
      await host.guestShutdown(restored);
      expect(await host.wait(restored)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(after.out).toBe(EXPECTED.slice(EXPECTED.indexOf(WAITING) + WAITING.length)); // it goes on where it was
      await host.destroy(restored);

      // A save naming a disk the target cannot open: a clear error, nothing runs.
      rmSync(hotDisk);
      await expect(host.restore(file, after.sink)).rejects.toThrow(/hot\.img/);
    } finally {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('is live-migrated with its devices as they are now, and goes on there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-hotmig-'));
    const [source, target] = await Promise.all([Host.start({ pcpus: 1, memoryBytes: 128 << 20 }), Host.start({ pcpus: 1, memoryBytes: 128 << 20 })]);
    let received: Promise<number> | undefined;
    const server = createServer((sock) => void (received = migrateIn(sock, threadedTarget(target))));
    try {
      const specDisk = join(dir, 'spec.img');
      const hotDisk = join(dir, 'hot.img');
      writeFileSync(specDisk, new Uint8Array(1 << 20));
      writeFileSync(hotDisk, new Uint8Array(1 << 20));
      const spec = partitionSpec('vmbus-ic', join(BIN, 'vmbus-ic.elf'), {
        boot: 'enlightened', memory: 32 << 20, vmbus: { ic: [...IC_NAMES], kvp: { HostName: 'hv-root', Purpose: 'integration test' } },
        disks: [{ path: specDisk, format: 'raw', if: 'vmbus' }],
      });
      const con = consoleOf(source);
      const id = await source.create(spec, con.sink);
      await source.start(id);
      await con.printed(id, WAITING);
      await source.removeVmbusDevice(id, 1);
      await released(source, id, 1);
      expect(await source.addVmbusNic(id, { mac: '52:54:00:00:00:43' })).toBe(1);
      expect(await source.addVmbusDisk(id, { path: hotDisk, format: 'raw' })).toBe(6);
      const before = (await source.channels(id)).map((c) => [c.relid, c.device, c.state]);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      await source.migrate(id, { host: '127.0.0.1', port: (server.address() as { port: number }).port });
      expect(await source.wait(id)).toEqual({ kind: 'migrated', to: expect.stringContaining('127.0.0.1:') as unknown });
      const there = await received!;
      expect((await target.channels(there)).map((c) => [c.relid, c.device, c.state])).toEqual(before);
      expect((await target.switchPorts()).map((p) => [p.name, p.mac])).toEqual([['vmbus-ic/0', '52:54:00:00:00:43']]);
      await target.guestShutdown(there);
      expect(await target.wait(there)).toMatchObject({ kind: 'exit', code: 0 });
    } finally {
      server.close();
      await Promise.all([source.close(), target.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
