// Two enlightened guests on one host, each with a synthetic NIC
// (guests/slib/netvsc.c against drivers/vmbus/netvsc.ts) on the root's
// virtual switch (drivers/net/vswitch.ts): vmbus-ping finds vmbus-pong by
// ARP and pings it three times. Each one's console must be its
// guests/expected/enlightened/vmbus-{ping,pong}.out byte for byte (recorded
// from hv: QEMU has no VMBus), on the deterministic and the threaded host.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Host } from '../../runtime/host/host.ts';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { readVmConfig } from '../../runtime/config/vm-config.ts';
import { hostSwitch, setupPartition, specHostBytes } from '../../runtime/machine/setup.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { hotAddNic, hotRemove, noHotDisks } from '../../runtime/host/vmbus-hotplug.ts';
import { watchConsole } from '../support/console-watch.ts';

const CONFIG = 'guests/enlightened/vmbus-net.json';
const expected = (name: string) => readFileSync(`guests/expected/enlightened/vmbus-${name}.out`, 'latin1');

describe('two guests on the virtual switch', () => {
  it('find each other by ARP and answer ICMP echo (deterministic host)', async () => {
    const { partitions: specs } = readVmConfig(CONFIG);
    const hv = new Hypervisor(specs.reduce((n, s) => n + specHostBytes(s), 0));
    const out = specs.map(() => '');
    const machines = specs.map((spec, i) => setupPartition(spec, hv, { onConsole: (b) => (out[i] += Buffer.from(b).toString('latin1')) }).machine);
    await hv.run({ timeoutMs: 120_000 });
    expect(out[0]).toBe(expected('ping'));
    expect(out[1]).toBe(expected('pong'));
    for (const m of machines) expect(m.result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    // No emulated device was touched: every frame is ring writes and signals.
    for (const m of machines) expect(m.stats().mmioExits).toBe(0);
    const [ping, pong] = hostSwitch(hv).list();
    expect(ping).toMatchObject({ name: 'ping/0', mac: '00:15:5d:82:e9:46', dropsIn: 0, dropsOut: 0 });
    expect(pong).toMatchObject({ name: 'pong/0', mac: '52:54:00:00:00:02', dropsIn: 0, dropsOut: 0, learned: 1 });
    // pong answers one ARP and three echoes, all unicast to ping, which got every one.
    expect(pong!.framesIn).toBe(4);
    expect(ping!.framesOut).toBe(4);
    // ping's first ARP request may come before pong's NIC is up (filtered, not dropped); three echoes follow.
    expect(ping!.framesIn).toBeGreaterThanOrEqual(4);
    expect(pong!.framesOut).toBeGreaterThanOrEqual(4);
    expect(pong!.framesOut).toBeLessThanOrEqual(ping!.framesIn);
  });

  it('do the same on the threaded host, partitions on pCPU threads and the switch on the root thread', async () => {
    const { partitions: specs } = readVmConfig(CONFIG);
    const host = await Host.start({ pcpus: 2, memoryBytes: specs.reduce((n, s) => n + specHostBytes(s), 0) + (4 << 20) });
    try {
      const out = specs.map(() => '');
      const ids: number[] = [];
      for (const [i, spec] of specs.entries()) ids.push(await host.create(spec, (b) => (out[i] += Buffer.from(b).toString('latin1'))));
      for (const id of ids) await host.start(id);
      for (const id of ids) expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(out[0]).toBe(expected('ping'));
      expect(out[1]).toBe(expected('pong'));
      // The control plane's view of the switch: a port per NIC, with its partition and counters.
      const [ping, pong] = await host.switchPorts();
      expect(ping).toMatchObject({ partition: ids[0], name: 'ping/0', mac: '00:15:5d:82:e9:46', dropsIn: 0, dropsOut: 0 });
      expect(pong).toMatchObject({ partition: ids[1], name: 'pong/0', mac: '52:54:00:00:00:02', dropsIn: 0, dropsOut: 0, framesIn: 4 });
      expect(ping!.framesOut).toBe(4);
      for (const id of ids) await host.destroy(id);
      expect(await host.switchPorts()).toEqual([]); // a destroyed partition's NIC leaves the switch
    } finally {
      await host.close();
    }
  });
});

// vmbus-pong started with no NIC (a heartbeat IC only, so it has a VMBus)
// and `waitnic=10`: the host adds one while it runs, the guest takes the
// late offer (as Linux's vmbus_onoffer), brings it up and answers
// vmbus-ping through the switch as if the NIC had been there from boot.
describe('a NIC hot-added to a running guest', () => {
  const PONG_MAC = '52:54:00:00:00:02';
  const pongSpec = partitionSpec('pong', 'guests/bin/enlightened/vmbus-pong.elf', { boot: 'enlightened', memory: 16 << 20, vmbus: { ic: ['heartbeat'] }, append: 'waitnic=10' });
  const WAITING = 'vmbus: no synthetic NIC among 1 offers: waiting for one\n';
  /** pong's console: it waited, then got the NIC as relid 2 (the heartbeat is 1), then as before. */
  const hotPong = () => {
    const [connected, , ...rest] = expected('pong').split('\n');
    return [connected, WAITING.trimEnd(), 'vmbus: NIC offered, relid 2, instance 9a1c0e5b-0000-4000-8000-000000000000', ...rest].join('\n');
  };

  it('carries ping and pong through the switch once it is offered (deterministic host)', async () => {
    const ping = readVmConfig(CONFIG).partitions[0]!;
    const hv = new Hypervisor(specHostBytes(ping) + specHostBytes(pongSpec) + (64 << 10)); // and the hot NIC's scratch pages
    const out = ['', ''];
    let relid: number | undefined;
    const made = [ping, pongSpec].map((spec, i) =>
      setupPartition(spec, hv, {
        onConsole: (b) => {
          out[i] += Buffer.from(b).toString('latin1');
          // Between rounds: the same point of the run every time.
          if (i === 1 && relid === undefined && out[1]!.includes(WAITING)) relid = hotAddNic(made[1]!.machine, 'pong', noHotDisks(), hostSwitch(hv), { mac: PONG_MAC });
        },
      }),
    );
    await hv.run({ timeoutMs: 120_000 });
    expect(out[0]).toBe(expected('ping'));
    expect(out[1]).toBe(hotPong());
    expect(relid).toBe(2);
    for (const { machine } of made) expect(machine.result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(hostSwitch(hv).list().find((p) => p.name === 'pong/0')).toMatchObject({ mac: PONG_MAC, framesIn: 4, dropsIn: 0, dropsOut: 0 });
  });

  it('does the same on the threaded host through HostController.addVmbusNic', async () => {
    const ping = readVmConfig(CONFIG).partitions[0]!;
    const host = await Host.start({ pcpus: 2, memoryBytes: specHostBytes(ping) + specHostBytes(pongSpec) + (4 << 20) });
    try {
      const out = ['', ''];
      let waiting!: () => void;
      const pongWaits = new Promise<void>((resolve) => (waiting = resolve));
      const ids: number[] = [];
      for (const [i, spec] of [ping, pongSpec].entries()) {
        ids.push(await host.create(spec, (b) => {
          out[i] += Buffer.from(b).toString('latin1');
          if (i === 1 && out[1]!.includes(WAITING)) waiting();
        }));
      }
      for (const id of ids) await host.start(id);
      await pongWaits;
      expect(await host.addVmbusNic(ids[1]!, { mac: PONG_MAC })).toBe(2);
      for (const id of ids) expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(out[0]).toBe(expected('ping'));
      expect(out[1]).toBe(hotPong());
      expect((await host.switchPorts()).find((p) => p.name === 'pong/0')).toMatchObject({ partition: ids[1], mac: PONG_MAC, framesIn: 4, dropsIn: 0 });
      for (const id of ids) await host.destroy(id);
      expect(await host.switchPorts()).toEqual([]);
    } finally {
      await host.close();
    }
  });
});

// vmbus-pong with `renic=1`: the host removes its NIC and adds another. Its
// VMBus library takes the RESCIND_CHANNELOFFER as Linux's
// vmbus_onoffer_rescind does (the open channel closed, the relid released),
// and the host offers the next NIC under the released relid.
describe('a NIC removed from a running guest and another added', () => {
  const spec = partitionSpec('pong', 'guests/bin/enlightened/vmbus-pong.elf', { boot: 'enlightened', memory: 16 << 20, vmbus: { ic: ['heartbeat'] }, append: 'waitnic=10 renic=1' });
  const WAITING = 'vmbus: no synthetic NIC among 1 offers: waiting for one\n';
  const UP = 'netvsc: MAC ';
  const RELEASED = 'relid released\n';
  const [MAC1, MAC2] = ['52:54:00:00:00:02', '52:54:00:00:00:03'];
  /** What pong prints: its first NIC at relid 2 (the heartbeat is 1) up, removed, the second NIC at relid 2 again. */
  const renicOut = () => {
    const lines = expected('pong').split('\n');
    return [
      lines[0], WAITING.trimEnd(), 'vmbus: NIC offered, relid 2, instance 9a1c0e5b-0000-4000-8000-000000000000', lines[2], lines[3],
      'vmbus: NIC at relid 2 rescinded, closed, relid released', 'vmbus: NIC offered, relid 2', `netvsc: NIC up again, MAC ${MAC2}`, 'vmbus: NIC closed, unloaded', '',
    ].join('\n');
  };

  it('gets the second NIC under the relid it released (deterministic host)', async () => {
    const hv = new Hypervisor(specHostBytes(spec) + (64 << 10));
    let out = '';
    const hot = noHotDisks();
    const relids: number[] = [];
    let removed = false;
    const { machine } = setupPartition(spec, hv, {
      onConsole: (b) => {
        out += Buffer.from(b).toString('latin1');
        // Between rounds: the same point of the run every time.
        if (relids.length === 0 && out.includes(WAITING)) relids.push(hotAddNic(machine, 'pong', hot, hostSwitch(hv), { mac: MAC1 }));
        else if (!removed && out.includes(UP)) (removed = true), hotRemove(machine, 'pong', hot, relids[0]!);
        else if (relids.length === 1 && out.includes(RELEASED)) relids.push(hotAddNic(machine, 'pong', hot, hostSwitch(hv), { mac: MAC2 }));
      },
    });
    await hv.run({ timeoutMs: 120_000 });
    expect(out).toBe(renicOut());
    expect(relids).toEqual([2, 2]);
    expect(machine.result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(machine.vmbus!.channels.refusals).toEqual([]); // its CLOSECHANNEL of the rescinded channel and RELID_RELEASED were taken
  });

  it('does the same on the threaded host through addVmbusNic and removeVmbusDevice', async () => {
    const host = await Host.start({ pcpus: 2, memoryBytes: specHostBytes(spec) + (4 << 20) });
    try {
      const con = watchConsole(host);
      const printed = con.printed;
      const id = (con.id = await host.create(spec, con.sink));
      await host.start(id);
      await printed(WAITING);
      expect(await host.addVmbusNic(id, { mac: MAC1 })).toBe(2);
      await printed(UP);
      await host.removeVmbusDevice(id, 2);
      await printed(RELEASED); // printed after the guest posted RELID_RELEASED, which the host took before it ran on
      expect((await host.channels(id)).map((c) => c.relid)).toEqual([1]);
      expect(await host.addVmbusNic(id, { mac: MAC2 })).toBe(2);
      expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
      expect(con.out).toBe(renicOut());
    } finally {
      await host.close();
    }
  });
});
