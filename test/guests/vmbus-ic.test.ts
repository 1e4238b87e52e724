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
import { relidReleased as released } from '../support/relid.ts';
import { watchConsole } from '../support/console-watch.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');
const PUSH = { HostName: 'hv-root', Purpose: 'integration test' };
const GUEST_POOLS = {
  auto: { FullyQualifiedDomainName: 'vmbus-ic', OSName: 'hv enlightened guest', ProcessorArchitecture: 'riscv64' },
  guest: { GuestState: 'serving' },
};

/** What vmbus-ic prints when asked to restart: its first boot, up to the reset. */
const RESTARTED = EXPECTED.slice(0, EXPECTED.indexOf('waiting for shutdown\n')) + 'waiting for shutdown\n  the host asks to restart (flags 2)\nok 6 graceful shutdown requested\nrestarting\n';

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

  // The guest waits each step for a time of its clock, not for a number of
  // wake-ups: requests arriving one per wake (as on a busy threaded host,
  // where each KVP enumeration's answer and the next request cross threads)
  // must not use up its wait. Before, the guest counted wake-ups as seconds
  // and gave up on the heartbeats after 11 of them.
  it('keeps waiting for its heartbeats while other requests wake it every 50 ms (deterministic host)', async () => {
    const ics = integrationServices({ kvp: { push: PUSH } });
    let output = '';
    let asked = false;
    const m = new Machine({
      ramSize: 32 << 20, harts: 1, clock: 'icount', vmbus: icDevices(ics),
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
    // Runs in slices of 50 ms of guest time; between two, while the guest
    // waits for its heartbeats, the host reads its KVP pools once (each read
    // wakes it).
    const SLICE = 50 * 10_000 * 100; // steps: 50 ms of 10 MHz ticks at 100 steps a tick
    let reads = 0;
    let result;
    for (let steps = SLICE; ; steps += SLICE) {
      result = await m.run({ maxInsns: steps });
      if (result.kind !== 'insn-limit' || steps > 30_000_000_000) break;
      m.clearLimitResult();
      if (output.includes('ok 3 ') && !output.includes('ok 4 ')) {
        reads++;
        ics.kvp.read((e) => expect(e).toBeNull());
      }
    }
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(reads).toBeGreaterThan(20); // far more wake-ups than the 11 the guest once gave up after
  });

  // A reboot is a new VMBus, as Hyper-V resets its VSPs: the old channels
  // are closed (their rings were in the RAM the new boot reuses), the
  // guest's second connection gets offers, GPADLs and negotiations anew.
  it('restarts when the host asks it to, and its second boot finds a fresh VMBus: no device still on the rings of the first (deterministic host)', async () => {
    const ics = integrationServices({ kvp: { push: PUSH } });
    const elf = parseElf(readFileSync(join(BIN, 'vmbus-ic.elf')));
    let output = '';
    let asked = 0;
    const waits: number[] = []; // host frames in use each time the guest waits for the shutdown
    const atReboot: { sameHost: boolean; devicesOpen: boolean[] }[] = [];
    let first: Machine['vmbus'];
    const m: Machine = new Machine({
      ramSize: 32 << 20, harts: 1, clock: 'icount', vmbus: icDevices(ics),
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        const n = output.split('waiting for shutdown\n').length - 1;
        if (n > asked) {
          asked = n;
          waits.push(m.kernel.exports.framesUsed());
          ics.shutdown.shutdown(n === 1, (e) => expect(e).toBeNull()); // restart first, then shut down
        }
      },
      reboot: (r) => {
        r.bootEnlightened(r.loadElf(elf), r.placeDtb());
        atReboot.push({
          sameHost: r.vmbus === first,
          devicesOpen: [ics.heartbeat, ics.shutdown, ics.timesync, ics.kvp].map((d) => d.isOpen),
        });
      },
    });
    m.bootEnlightened(m.loadElf(elf), m.placeDtb());
    first = m.vmbus;
    const result = await m.run({ maxInsns: 60_000_000_000 });
    expect(output).toBe(RESTARTED + EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(m.reboots).toBe(1);
    // The first boot's bus was let go at the reset, before the second boot ran: no device still on its rings.
    expect(atReboot).toEqual([{ sameHost: false, devicesOpen: [false, false, false, false] }]);
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBe(waits[0]); // scratch pages and the event area given back and taken again, none kept twice
    expect(m.vmbus!.channels.list().map((c) => [c.relid, c.state])).toEqual([[1, 'open'], [2, 'open'], [3, 'open'], [4, 'open']]);
    expect(m.vmbus!.channels.refusals).toEqual([]);
    expect(m.vmbus!.channels.faults).toEqual([]);
    expect(ics.shutdown.last).toEqual({ reboot: false, accepted: true });
  });

  it('does the same on the threaded host, driven through HostController: KVP both ways, heartbeat, channel listing, graceful shutdown', async () => {
    const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    try {
      // One key from the spec, pushed when KVP is negotiated; the other through kvpWrite.
      const vmbus = { ic: [...IC_NAMES], kvp: { HostName: PUSH.HostName } };
      const spec = partitionSpec('vmbus-ic', join(BIN, 'vmbus-ic.elf'), { boot: 'enlightened', memory: 32 << 20, vmbus });
      const con = watchConsole(host);
      const printed = con.printed;
      const id = await host.create(spec, con.sink);
      con.id = id;
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
        expect(c.servedBy).toBe('root'); // ICs are not lent to the endpoint worker
      }
      // Hot add and remove of a disk and a NIC while the guest runs: offered at once, rescinded at once; the ICs go on.
      const dir = mkdtempSync(join(tmpdir(), 'hv-hot-'));
      try {
        const image = join(dir, 'hot.img');
        writeFileSync(image, new Uint8Array(1 << 20));
        const relid = await host.addVmbusDisk(id, { path: image });
        expect(relid).toBe(5);
        await expect(host.addVmbusDisk(id, { path: image })).rejects.toThrow(/already open on this host/); // one writer per image
        expect((await host.channels(id)).slice(4).map((c) => [c.relid, c.device, c.state])).toEqual([[5, 'storage', 'offered']]);
        await host.removeVmbusDevice(id, relid);
        // vmbus-ic never opened the channel: its VMBus library releases the relid (RELID_RELEASED), and the host forgets it.
        await released(host, id, relid);
        expect((await host.channels(id)).slice(4)).toEqual([]);
        await expect(host.removeVmbusDevice(id, relid)).rejects.toThrow(/no VMBus channel 5/);
        // A NIC the same way: a port of the host's switch from its offer on, let go at its removal; offered under the released relid.
        const nic = await host.addVmbusNic(id, { mac: '52:54:00:00:00:42' });
        expect(nic).toBe(5);
        expect((await host.switchPorts()).map((p) => [p.partition, p.name, p.mac, p.framesIn, p.dropsOut])).toEqual([[id, 'vmbus-ic/0', '52:54:00:00:00:42', 0, 0]]);
        await expect(host.addVmbusNic(id, { mac: '52:54:00:00:00:42' })).rejects.toThrow(/already switch port vmbus-ic\/0's/);
        await expect(host.addVmbusNic(id, { mac: 'ff:ff:ff:ff:ff:ff' })).rejects.toThrow(/not a unicast MAC/);
        expect((await host.channels(id)).slice(4).map((c) => [c.relid, c.device, c.state])).toEqual([[5, 'network', 'offered']]);
        await host.removeVmbusDevice(id, nic);
        expect(await host.switchPorts()).toEqual([]);
        await released(host, id, nic);
        // A snapshot tree has no place for hot-added disks yet: refused, and it runs on (a save takes it: vmbus-hotplug-save.test.ts).
        await expect(host.snapshot(id, join(dir, 'snaps'))).rejects.toThrow(/added or removed while it ran, and snapshots do not take/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const stats = await host.stats(id);
      expect(stats.vmbus!.ics.map((ic) => [ic.service, ic.state, ic.version])).toEqual([
        ['heartbeat', 'ready', '3.0'], ['shutdown', 'ready', '3.2'], ['timesync', 'ready', '4.0'], ['kvp', 'ready', '4.0'],
      ]);
      // Any channel can go, an IC's too: the control plane no longer asks it, and the others go on.
      // The guest had it open: it closes it (CLOSECHANNEL, as Linux) and releases the relid.
      await host.removeVmbusDevice(id, 1);
      await released(host, id, 1);
      await expect(host.heartbeat(id)).rejects.toThrow(/no heartbeat integration component/);
      expect((await host.stats(id)).vmbus!.ics.map((ic) => ic.service)).toEqual(['shutdown', 'timesync', 'kvp']);
      await host.guestShutdown(id); // resolves once the guest accepted ...
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' }); // ... and it goes down by its own path
      expect(con.out).toBe(EXPECTED);
      await expect(host.guestShutdown(id)).rejects.toThrow(/finished, not running/);
      await host.destroy(id);
    } finally {
      await host.close();
    }
  });
  it('restarts on the threaded host when guestShutdown asks for a reboot or the host resets it, each boot with a fresh VMBus', async () => {
    const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    try {
      const spec = partitionSpec('vmbus-ic', join(BIN, 'vmbus-ic.elf'), { boot: 'enlightened', memory: 32 << 20, vmbus: { ic: [...IC_NAMES], kvp: PUSH } });
      const con = watchConsole(host);
      const id = await host.create(spec, con.sink);
      con.id = id;
      await host.start(id);
      await con.printed('waiting for shutdown\n');
      await host.guestShutdown(id, { reboot: true }); // the guest resets with SBI SRST (cold reboot)
      await con.printed('waiting for shutdown\n', 2);
      // The second boot connected, was offered the same four and opened and negotiated each again.
      expect((await host.channels(id)).map((c) => [c.relid, c.device, c.state])).toEqual([[1, 'heartbeat', 'open'], [2, 'shutdown', 'open'], [3, 'timesync', 'open'], [4, 'kvp', 'open']]);
      expect(await host.kvpRead(id)).toEqual({ ...GUEST_POOLS, external: PUSH });
      // The host's own reset (Hyper-V's Reset): the same fresh start, without asking the guest.
      await host.reset(id);
      await con.printed('waiting for shutdown\n', 3);
      expect((await host.channels(id)).map((c) => [c.relid, c.state])).toEqual([[1, 'open'], [2, 'open'], [3, 'open'], [4, 'open']]);
      await host.guestShutdown(id);
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      const untilWaiting = EXPECTED.slice(0, EXPECTED.indexOf('waiting for shutdown\n') + 'waiting for shutdown\n'.length);
      expect(con.out).toBe(RESTARTED + untilWaiting + EXPECTED);
      await expect(host.reset(id)).rejects.toThrow(/is finished, not running/);
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
