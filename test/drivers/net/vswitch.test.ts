// The root's virtual switch (drivers/net/vswitch.ts) with NICs that only
// record what reaches them: learning, flooding, MAC filtering, counters,
// and a port that floods it while the others keep talking.
import { describe, expect, it } from 'vitest';
import { MAX_LEARNED_PER_PORT, VirtualSwitch, generatedMac, parseMac, type SwitchNic } from '../../../drivers/net/vswitch.ts';
import { PacketFilter } from '../../../drivers/vmbus/rndis.ts';

const NORMAL = PacketFilter.DIRECTED | PacketFilter.BROADCAST | PacketFilter.ALL_MULTICAST;

class Nic implements SwitchNic {
  got: Uint8Array[] = [];
  constructor(
    public filter = NORMAL,
    public room = Infinity,
  ) {}
  deliver(frame: Uint8Array): boolean {
    if (this.got.length >= this.room) return false;
    this.got.push(frame.slice());
    return true;
  }
}

const mac = (last: number) => Uint8Array.from([0x52, 0x54, 0, 0, 0, last]);
const BROADCAST = new Uint8Array(6).fill(0xff);
const MULTICAST = Uint8Array.from([0x01, 0x00, 0x5e, 0, 0, 1]);
function frame(dst: Uint8Array, src: Uint8Array, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  return f;
}

function threePorts(filters: number[] = [NORMAL, NORMAL, NORMAL]) {
  const sw = new VirtualSwitch();
  const nics = filters.map((f) => new Nic(f));
  const ports = nics.map((n, i) => sw.connect(`p${i}/0`, mac(i + 1), n));
  return { sw, nics, ports };
}

describe('virtual switch', () => {
  it('floods a broadcast to every other port and learns its source', () => {
    const { sw, nics, ports } = threePorts();
    ports[0]!.send(frame(BROADCAST, mac(1)));
    expect(nics.map((n) => n.got.length)).toEqual([0, 1, 1]);
    expect(sw.list().map((p) => p.learned)).toEqual([1, 0, 0]);
  });

  it('sends unicast to a learned MAC only to its port, and floods unknown unicast to the port that owns the MAC', () => {
    const { nics, ports } = threePorts();
    ports[1]!.send(frame(mac(1), mac(2))); // mac(1) not learned yet: flooded, only port 0 takes it (its MAC)
    expect(nics.map((n) => n.got.length)).toEqual([1, 0, 0]);
    ports[0]!.send(frame(mac(2), mac(1))); // mac(2) learned on port 1
    expect(nics.map((n) => n.got.length)).toEqual([1, 1, 0]);
  });

  it('gives each port what its guest filters for: its own unicast, broadcast, multicast; promiscuous takes all that is flooded', () => {
    const { nics, ports } = threePorts([PacketFilter.DIRECTED, PacketFilter.BROADCAST | PacketFilter.MULTICAST, PacketFilter.PROMISCUOUS]);
    const other = mac(9);
    ports[0]!.send(frame(BROADCAST, mac(1)));
    ports[0]!.send(frame(MULTICAST, mac(1)));
    ports[0]!.send(frame(other, mac(1)));
    ports[1]!.send(frame(mac(1), mac(2))); // mac(1) is learned: straight to port 0, as a switch does, not to the promiscuous port
    expect(nics.map((n) => n.got.length)).toEqual([1, 2, 3]);
  });

  it('delivers nothing to a NIC whose guest has set no filter yet', () => {
    const { nics, ports } = threePorts([NORMAL, 0, NORMAL]);
    ports[0]!.send(frame(BROADCAST, mac(1)));
    ports[0]!.send(frame(mac(2), mac(1)));
    expect(nics[1]!.got).toEqual([]);
  });

  it('counts frames and bytes each way, and frames a NIC could not take as drops', () => {
    const sw = new VirtualSwitch();
    const a = new Nic();
    const b = new Nic(NORMAL, 1);
    const pa = sw.connect('a/0', mac(1), a);
    sw.connect('b/0', mac(2), b);
    pa.send(frame(mac(2), mac(1), 100));
    pa.send(frame(mac(2), mac(1), 200));
    expect(sw.list()).toEqual([
      { id: 1, name: 'a/0', mac: '52:54:00:00:00:01', learned: 1, framesIn: 2, bytesIn: 300, framesOut: 0, bytesOut: 0, dropsIn: 0, dropsOut: 0 },
      { id: 2, name: 'b/0', mac: '52:54:00:00:00:02', learned: 0, framesIn: 0, bytesIn: 0, framesOut: 1, bytesOut: 100, dropsIn: 0, dropsOut: 1 },
    ]);
  });

  it('drops frames with a multicast source or no Ethernet header, counted on the sender', () => {
    const { sw, nics, ports } = threePorts();
    ports[0]!.send(frame(BROADCAST, MULTICAST));
    ports[0]!.send(new Uint8Array(10));
    expect(nics[1]!.got).toEqual([]);
    expect(sw.list()[0]).toMatchObject({ framesIn: 2, dropsIn: 2, learned: 0 });
  });

  it('learns a bounded number of MACs per port: a guest inventing sources floods instead of filling the table, and the others keep talking', () => {
    const { sw, nics, ports } = threePorts();
    for (let i = 0; i < 10_000; i++) ports[0]!.send(frame(BROADCAST, Uint8Array.from([0x02, 0, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 7])));
    expect(sw.list()[0]!.learned).toBe(MAX_LEARNED_PER_PORT);
    nics[1]!.got = [];
    nics[2]!.got = [];
    ports[1]!.send(frame(mac(3), mac(2)));
    ports[2]!.send(frame(mac(2), mac(3)));
    expect(nics[1]!.got.length).toBe(1);
    expect(nics[2]!.got.length).toBe(1);
  });

  it('forgets a port when it disconnects: frames to its MAC reach no one', () => {
    const { sw, nics, ports } = threePorts();
    ports[1]!.send(frame(BROADCAST, mac(2)));
    ports[1]!.disconnect();
    ports[0]!.send(frame(mac(2), mac(1)));
    expect(nics[1]!.got).toEqual([]);
    expect(sw.list().map((p) => p.name)).toEqual(['p0/0', 'p2/0']);
  });
});

describe('NIC MACs', () => {
  it('parses unicast MACs with colons or dashes and refuses group, zero and malformed ones', () => {
    expect(parseMac('52:54:00:12:34:56')).toEqual(Uint8Array.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
    expect(parseMac('52-54-00-12-34-AB')).toEqual(Uint8Array.from([0x52, 0x54, 0, 0x12, 0x34, 0xab]));
    for (const bad of ['01:00:5e:00:00:01', '00:00:00:00:00:00', '52:54:00:12:34', '52:54-00:12:34:56', 'zz:54:00:12:34:56']) expect(parseMac(bad)).toBeUndefined();
  });

  it('generates a stable Hyper-V-prefixed MAC per partition name and NIC index', () => {
    expect(generatedMac('ping', 0)).toEqual(generatedMac('ping', 0));
    expect(generatedMac('ping', 0)).not.toEqual(generatedMac('ping', 1));
    expect(generatedMac('ping', 0)).not.toEqual(generatedMac('pong', 0));
    expect([...generatedMac('web', 0).subarray(0, 3)]).toEqual([0x00, 0x15, 0x5d]);
  });
});
