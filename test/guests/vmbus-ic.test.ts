// The integration components (drivers/vmbus/ic*.ts) against the enlightened
// guest that answers them (guests/enlightened/vmbus-ic.c on
// guests/slib/hv_ic.c, Linux hv_utils' protocol): negotiation, timesync,
// heartbeats, KVP both ways and a graceful shutdown from the host. Its
// output must be guests/expected/enlightened/vmbus-ic.out byte for byte (recorded from hv:
// QEMU has no VMBus) on both hosts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { icDevices, integrationServices } from '../../drivers/vmbus/ic-services.ts';
import { ControlError } from '../../runtime/host/controller.ts';
import { Host } from '../../runtime/host/host.ts';
import { checkPartition, IC_NAMES, partitionSpec, SpecError } from '../../runtime/host/spec.ts';
import { parseElf } from '../../runtime/loader/elf.ts';
import { Machine } from '../../runtime/machine/machine.ts';
import { BIN } from '../support/enlightened.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');
const PUSH = { HostName: 'hv-root', Purpose: 'integration test' };
const GUEST_POOLS = {
  auto: { FullyQualifiedDomainName: 'vmbus-ic', OSName: 'hv enlightened guest', ProcessorArchitecture: 'riscv64' },
  guest: { GuestState: 'serving' },
};

describe('vmbus-ic guest', () => {
  it('negotiates each IC, takes the time, answers heartbeats, trades KVP keys and shuts down when asked (deterministic host)', async () => {
    const ics = integrationServices({ kvp: { push: PUSH } });
    let output = '';
    let asked = false;
    const m = new Machine({
      ramSize: 32 << 20, harts: 1, clock: 'icount', vmbus: icDevices(ics),
      // The console is flushed between rounds: asking there is a deterministic point.
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        if (!asked && output.includes('waiting for shutdown\n')) {
          asked = true;
          ics.shutdown.shutdown(false, (e) => expect(e).toBeNull());
        }
      },
    });
    const entry = m.loadElf(parseElf(readFileSync(join(BIN, 'vmbus-ic.elf'))));
    m.bootEnlightened(entry, m.placeDtb());
    const result = await m.run({ maxInsns: 30_000_000_000 });
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(ics.kvp.guestPools).toEqual(GUEST_POOLS);
    expect(ics.heartbeat.status.sequence).toBeGreaterThanOrEqual(3);
    expect(ics.shutdown.last).toEqual({ reboot: false, accepted: true });
    expect(m.vmbus!.channels.refusals).toEqual([]);
    expect(m.vmbus!.channels.faults).toEqual([]);
  });

  // Retried: on a loaded machine this run has hung at 60 s in a few runs out
  // of ten (seen twice, not reproduced on demand; the deterministic run above
  // never does). Under investigation: docs/vmbus.md, "Not done yet".
  it('does the same on the threaded host, driven through HostController: KVP both ways, heartbeat, channel listing, graceful shutdown', { retry: 2 }, async () => {
    const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    try {
      // One key from the spec, pushed when KVP is negotiated; the other through kvpWrite.
      const vmbus = { ic: [...IC_NAMES], kvp: { HostName: PUSH.HostName } };
      const spec = partitionSpec('vmbus-ic', join(BIN, 'vmbus-ic.elf'), { boot: 'enlightened', memory: 32 << 20, vmbus });
      let out = '';
      const waiting: { marker: string; resolve: () => void }[] = [];
      const printed = (marker: string) => new Promise<void>((resolve) => (out.includes(marker) ? resolve() : waiting.push({ marker, resolve })));
      const id = await host.create(spec, (b) => {
        out += Buffer.from(b).toString('latin1');
        for (const w of waiting.filter((w) => out.includes(w.marker))) waiting.splice(waiting.indexOf(w), 1) && w.resolve();
      });
      await expect(host.kvpWrite(id, 'Purpose', PUSH.Purpose)).rejects.toThrow(ControlError); // not running yet
      await host.start(id);
      // Timesync is done, KVP negotiated (its spec push sent): ours goes after it, as the guest prints them.
      await printed('ok 3 ');
      await host.kvpWrite(id, 'Purpose', PUSH.Purpose);
      await printed('waiting for shutdown\n');
      expect(await host.kvpRead(id)).toEqual({ ...GUEST_POOLS, external: PUSH });
      const beat = await host.heartbeat(id);
      expect(beat.state).toBe('ready');
      expect(beat.sequence).toBeGreaterThanOrEqual(3);
      const channels = await host.channels(id);
      expect(channels.map((c) => [c.relid, c.device, c.state])).toEqual([[1, 'heartbeat', 'open'], [2, 'shutdown', 'open'], [3, 'timesync', 'open'], [4, 'kvp', 'open']]);
      for (const c of channels) {
        expect(c.inBytes).toBeGreaterThanOrEqual(0);
        expect(c.inBytes).toBeLessThan(c.ringBytes!.in);
        expect(c.outBytes).toBeLessThan(c.ringBytes!.out);
      }
      // Hot add and remove of a disk while the guest runs: offered at once, rescinded at once; the ICs go on.
      const dir = mkdtempSync(join(tmpdir(), 'hv-hot-'));
      try {
        const image = join(dir, 'hot.img');
        writeFileSync(image, new Uint8Array(1 << 20));
        const relid = await host.addVmbusDisk(id, { path: image });
        expect(relid).toBe(5);
        await expect(host.addVmbusDisk(id, { path: image })).rejects.toThrow(/already open on this host/); // one writer per image
        expect((await host.channels(id)).slice(4).map((c) => [c.relid, c.device, c.state])).toEqual([[5, 'storage', 'offered']]);
        await host.removeVmbusDevice(id, relid);
        // vmbus-ic has no storage driver: it never opened the channel, and leaves the relid unreleased.
        expect((await host.channels(id)).slice(4).map((c) => [c.relid, c.device, c.state])).toEqual([[5, 'storage', 'rescinded']]);
        await expect(host.removeVmbusDevice(id, relid)).rejects.toThrow(/no VMBus channel 5/);
        await host.pause(id); // a save would not match its spec: refused, and it runs on
        await expect(host.save(id, join(dir, 'p.save'))).rejects.toThrow(/added or removed while it ran/);
        await host.resume(id);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const stats = await host.stats(id);
      expect(stats.vmbus!.ics.map((ic) => [ic.service, ic.state, ic.version])).toEqual([
        ['heartbeat', 'ready', '3.0'], ['shutdown', 'ready', '3.2'], ['timesync', 'ready', '4.0'], ['kvp', 'ready', '4.0'],
      ]);
      // Any channel can go, an IC's too: the control plane no longer asks it, and the others go on.
      await host.removeVmbusDevice(id, 1);
      await expect(host.heartbeat(id)).rejects.toThrow(/no heartbeat integration component/);
      expect((await host.stats(id)).vmbus!.ics.map((ic) => ic.service)).toEqual(['shutdown', 'timesync', 'kvp']);
      await host.guestShutdown(id); // resolves once the guest accepted ...
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' }); // ... and it goes down by its own path
      expect(out).toBe(EXPECTED);
      await expect(host.guestShutdown(id)).rejects.toThrow(/finished, not running/);
      await host.destroy(id);
    } finally {
      await host.close();
    }
  });
});

describe('integration components in a partition spec', () => {
  const spec = (vmbus: unknown, boot: 'enlightened' | 'firmware' = 'enlightened') => partitionSpec('p', 'k.elf', { boot, vmbus } as never);

  it('names each IC at most once, on an enlightened partition', () => {
    expect(() => checkPartition(spec({ ic: ['heartbeat', 'kvp'], kvp: { a: 'b' } }))).not.toThrow();
    expect(() => checkPartition(spec({ ic: ['heartbeat'] }, 'firmware'))).toThrow(/vmbus: integration components need boot "enlightened"/);
    expect(() => checkPartition(spec({ ic: ['vss'] }))).toThrow(/vmbus\.ic\[0\]: must be one of heartbeat, shutdown, timesync, kvp/);
    expect(() => checkPartition(spec({ ic: ['kvp', 'kvp'] }))).toThrow(/vmbus\.ic\[1\]: kvp is also vmbus\.ic\[0\]/);
    expect(() => checkPartition(spec({ ic: ['heartbeat'], kvp: { a: 'b' } }))).toThrow(/needs "kvp" in vmbus.ic/);
    expect(() => checkPartition(spec({ ic: ['kvp'], kvp: { a: 7 } }))).toThrow(SpecError);
  });
});
