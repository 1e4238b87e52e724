// VMBus end to end on a Machine (runtime/machine, config.vmbus): a guest's
// hypercalls, as an enlightened driver makes them, go through the kernel's
// SynIC to the root's channel manager, and its answers come back in the
// guest's message slots; a channel's signals go both ways.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../runtime/machine/machine.ts';
import type { ChannelRings, VmbusDevice } from '../../../drivers/vmbus/channel-manager.ts';
import { Msg } from '../../../drivers/vmbus/messages.ts';
import { EID, Exit, RAM_BASE, SBI } from '../../support/enlightened.ts';
import { VirtualSwitch } from '../../../drivers/net/vswitch.ts';
import { NETVSC_CLASS_ID, NetvscDevice } from '../../../drivers/vmbus/netvsc.ts';
import { hotAddNic, hotRemove, noHotDisks } from '../../../runtime/host/vmbus-hotplug.ts';

const SIMP = RAM_BASE + 0x8000;
const SIEFP = RAM_BASE + 0x9000;
const POST_IN = RAM_BASE + 0xa000;
const RING = RAM_BASE + 0x10000; // 8 pages: 4 out, 4 in
const FID = { SET: 0x41, POST: 0x42, SIGNAL: 0x43 };
const REG = { SINT2: 0xa0002, SCONTROL: 0xa0010, SIEFP: 0xa0012, SIMP: 0xa0013, EOM: 0xa0014 };

/** The GUID at byte `at` of a message's payload (Linux's guid_t: three little-endian fields, then bytes). */
function guid(r: { u32(off: number): number }, at: number): string {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 4; i++) dv.setUint32(4 * i, r.u32(at + 4 * i), true);
  const hex = (from: number, to: number, le: boolean) => {
    const part = [...b.slice(from, to)];
    return (le ? part.reverse() : part).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

class Device implements VmbusDevice {
  readonly classId = 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f';
  notified = 0;
  detached = false;
  rings?: ChannelRings;
  signal?: () => void;
  constructor(readonly instanceId = '00000000-0000-0000-0000-00000000000a') {}
  open(r: ChannelRings, signal: () => void) {
    this.rings = r;
    this.signal = signal;
  }
  notify() {
    this.notified++;
  }
  close() {
    this.rings = this.signal = undefined;
  }
  detach() {
    this.detached = true;
  }
}

function guest() {
  const dev = new Device();
  const m = new Machine({ ramSize: 1 << 20, harts: 1, clock: 'icount', onConsole: () => {}, vmbus: [dev] });
  m.loadRaw(Uint8Array.of(0x73, 0, 0, 0, 0x6f, 0, 0, 0), RAM_BASE, 'ecall; j .');
  m.bootEnlightened(BigInt(RAM_BASE), 0);
  const h = m.harts[0]!;
  const ram = new DataView(m.ram.buffer, m.ram.byteOffset);
  /** One hypercall, and the host's service of its exit (as Machine.run does after vcpuRun). */
  const call = (fid: number, args: (number | bigint)[]) => {
    args.forEach((a, i) => h.setX(10 + i, BigInt(a)));
    h.setX(16, BigInt(fid));
    h.setX(17, EID.HV);
    h.setPc(BigInt(RAM_BASE));
    const exit = m.kernel.exports.vcpuRun(m.firstVcpu, 1);
    m.afterRun(0, exit);
    return { error: BigInt.asIntN(64, h.getX(10)), exit };
  };
  /** hv_post_message of a VMBus message: msgtype and u32 fields from offset 8. */
  const post = (conn: number, type: number, fields: number[], size = 8 + 4 * fields.length) => {
    const at = POST_IN - RAM_BASE;
    m.ram.fill(0, at, at + 256);
    ram.setUint32(at, conn, true);
    ram.setUint32(at + 8, 1, true); // message type 1: VMBus
    ram.setUint32(at + 12, size, true);
    ram.setUint32(at + 16, type, true);
    fields.forEach((f, i) => ram.setUint32(at + 24 + 4 * i, f, true));
    return call(FID.POST, [POST_IN]);
  };
  /** GPADL `handle` over 8 pages at `gpa` for `relid`, then OPENCHANNEL on it (4 pages each way). */
  const openChannel = (relid: number, handle: number, gpa: number) => {
    const hdr = [relid, handle, (8 + 64) | (1 << 16), 8 * 4096, 0];
    for (let i = 0; i < 8; i++) hdr.push(gpa / 4096 + i, 0);
    post(1, Msg.GPADL_HEADER, hdr);
    expect(take().msgtype).toBe(Msg.GPADL_CREATED);
    post(1, Msg.OPENCHANNEL, [relid, 42, handle, 0, 4], 148);
    const r = take();
    expect([r.msgtype, r.u32(16)]).toEqual([Msg.OPENCHANNEL_RESULT, 0]);
  };
  const slot = () => ({
    type: ram.getUint32(SIMP - RAM_BASE + 512, true),
    pending: ram.getUint8(SIMP - RAM_BASE + 512 + 5) & 1,
    msgtype: ram.getUint32(SIMP - RAM_BASE + 512 + 16, true),
    u32: (off: number) => ram.getUint32(SIMP - RAM_BASE + 512 + 16 + off, true),
  });
  /** The guest's vmbus_on_msg_dpc: take the message, free the slot, EOM if more are pending. */
  const take = () => {
    const s = slot();
    const msg = { msgtype: s.msgtype, u32: s.u32 };
    const copy = m.ram.slice(SIMP - RAM_BASE + 512 + 16, SIMP - RAM_BASE + 512 + 256);
    ram.setUint32(SIMP - RAM_BASE + 512, 0, true);
    if (s.pending) call(FID.SET, [REG.EOM, 0]);
    const dv = new DataView(copy.buffer);
    return { msgtype: msg.msgtype, u32: (off: number) => dv.getUint32(off, true) };
  };
  for (const [r, v] of [[REG.SIMP, SIMP + 1], [REG.SIEFP, SIEFP + 1], [REG.SINT2, 0x20], [REG.SCONTROL, 1]]) {
    expect(call(FID.SET, [r!, v!]).error).toBe(SBI.SUCCESS);
  }
  return { m, dev, call, post, slot, take, ram, openChannel };
}

describe('VMBus on a Machine (deterministic host)', () => {
  it('negotiates, lists the offer, creates a GPADL, opens the channel and signals both ways', () => {
    const { m, dev, call, post, take, ram } = guest();
    expect(post(4, Msg.INITIATE_CONTACT, [0x5_0003, 0, 2])).toMatchObject({ error: SBI.SUCCESS, exit: Exit.HOST });
    let r = take();
    expect([r.msgtype, r.u32(8) & 0xff, r.u32(12)]).toEqual([Msg.VERSION_RESPONSE, 1, 1]);

    post(1, Msg.REQUESTOFFERS, []);
    r = take(); // the offer; ALLOFFERS_DELIVERED waited behind it for the EOM
    expect([r.msgtype, r.u32(184), r.u32(192)]).toEqual([Msg.OFFERCHANNEL, 1, 1]);
    expect(take().msgtype).toBe(Msg.ALLOFFERS_DELIVERED);

    // GPADL_HEADER: relid 1, gpadl 0x100, range_buflen, rangecount 1, {byte_count, byte_offset, pfn[8]}
    const pfn0 = RING / 4096;
    const hdr = [1, 0x100, (8 + 64) | (1 << 16), 8 * 4096, 0];
    for (let i = 0; i < 8; i++) hdr.push(pfn0 + i, 0);
    post(1, Msg.GPADL_HEADER, hdr);
    r = take();
    expect([r.msgtype, r.u32(12), r.u32(16)]).toEqual([Msg.GPADL_CREATED, 0x100, 0]);

    post(1, Msg.OPENCHANNEL, [1, 42, 0x100, 0, 4], 148);
    r = take();
    expect([r.msgtype, r.u32(12), r.u32(16)]).toEqual([Msg.OPENCHANNEL_RESULT, 42, 0]);
    expect(dev.rings?.outbound).toEqual({ addr: m.ramHostAddress + (RING - RAM_BASE), size: 4 * 4096 });

    expect(call(FID.SIGNAL, [1]).exit).toBe(Exit.HOST);
    expect(dev.notified).toBe(1);
    dev.signal!();
    expect(ram.getUint32(SIEFP - RAM_BASE + 2 * 256, true)).toBe(1 << 1); // relid 1's flag in SINT2's bitmap
    expect(m.vmbus!.channels.refusals).toEqual([]);
  });

  it('answers a post to a connection that is not VMBus’s with INVALID_PARAM, and keeps serving', () => {
    const { post, take } = guest();
    expect(post(9, Msg.INITIATE_CONTACT, [0x5_0003, 0, 2]).error).toBe(SBI.INVALID_PARAM);
    post(4, Msg.INITIATE_CONTACT, [0x5_0003, 0, 2]);
    expect(take().msgtype).toBe(Msg.VERSION_RESPONSE);
  });

  it('refuses a guest that never frees its slot once 32 answers wait, instead of holding more', () => {
    const { post } = guest();
    post(4, Msg.INITIATE_CONTACT, [0x5_0003, 0, 2]);
    const errors = Array.from({ length: 40 }, () => post(1, Msg.REQUESTOFFERS, []).error);
    expect(errors.filter((e) => e === SBI.DENIED).length).toBeGreaterThan(0);
    expect(errors[0]).toBe(SBI.SUCCESS);
  });

  it('offers a disk added while the guest runs at once, and stops serving a removed one while the other channel goes on', () => {
    const { m, dev, call, post, take, openChannel } = guest();
    post(4, Msg.INITIATE_CONTACT, [0x5_0003, 0, 2]);
    take();
    post(1, Msg.REQUESTOFFERS, []);
    take();
    take(); // the offer of relid 1 and ALLOFFERS_DELIVERED
    openChannel(1, 0x100, RING);

    const added = new Device('00000000-0000-0000-0000-00000000000b');
    const relid = m.vmbus!.addDevice(added);
    let r = take();
    expect([r.msgtype, r.u32(184)]).toEqual([Msg.OFFERCHANNEL, relid]);
    openChannel(relid, 0x200, RING + 8 * 4096);
    call(FID.SIGNAL, [relid]);
    expect(added.notified).toBe(1);

    expect(m.vmbus!.removeDevice(relid)).toBe(added);
    r = take();
    expect([r.msgtype, r.u32(8)]).toEqual([Msg.RESCIND_CHANNELOFFER, relid]);
    expect([added.rings, added.detached]).toEqual([undefined, true]); // its ring is let go of, and its scratch pages
    call(FID.SIGNAL, [relid]);
    call(FID.SIGNAL, [1]);
    expect([added.notified, dev.notified]).toEqual([1, 1]); // the rescinded ring is not served; channel 1 is
    expect(m.vmbus!.channels.list().map((c) => [c.relid, c.state])).toEqual([[1, 'open'], [relid, 'rescinded']]);
    expect(m.vmbus!.removeDevice(relid)).toBeUndefined(); // once is enough

    // The guest does as Linux's vmbus_onoffer_rescind: CLOSECHANNEL (vmbus_close_internal; closed here already),
    // no GPADL teardown (vmbus_teardown_gpadl posts none for a rescinded channel), RELID_RELEASED: its GPADLs go with it.
    post(1, Msg.CLOSECHANNEL, [relid]);
    post(1, Msg.RELID_RELEASED, [relid]);
    expect(m.vmbus!.channels.list().map((c) => c.relid)).toEqual([1]);
    expect(m.vmbus!.channels.gpadl(0x200)).toBeUndefined();
    expect(m.vmbus!.channels.refusals).toEqual([]);

    // The next device gets the released relid (Hyper-V reuses them); a reboot keeps the bus as it was changed, not as the spec had it.
    const another = new Device('00000000-0000-0000-0000-00000000000c');
    expect(m.vmbus!.addDevice(another)).toBe(relid);
    expect(take().msgtype).toBe(Msg.OFFERCHANNEL);
    m.bootEnlightened(BigInt(RAM_BASE), 0);
    expect(m.vmbus!.deviceList).toEqual([dev, another]);
  });

  it('offers a NIC added while the guest runs as a new port of the switch, and on removal rescinds it and takes the port off', () => {
    const { m, post, take, openChannel } = guest();
    post(4, Msg.INITIATE_CONTACT, [0x5_0003, 0, 2]);
    take();
    post(1, Msg.REQUESTOFFERS, []);
    take();
    take(); // the offer of relid 1 and ALLOFFERS_DELIVERED
    const sw = new VirtualSwitch();
    const other = sw.connect('q/0', Uint8Array.of(0x52, 0x54, 0, 0, 0, 9), { filter: 0, deliver: () => true });
    const hot = noHotDisks();

    const relid = hotAddNic(m, 'p', hot, sw, { mac: '52:54:00:00:00:07' });
    let r = take();
    expect([r.msgtype, r.u32(184)]).toEqual([Msg.OFFERCHANNEL, relid]);
    expect(guid(r, 8)).toBe(NETVSC_CLASS_ID); // the offer's if_type: a network adapter
    expect(sw.list().map((p) => [p.name, p.mac, p.framesIn])).toEqual([['q/0', '52:54:00:00:00:09', 0], ['p/0', '52:54:00:00:00:07', 0]]);
    expect(() => hotAddNic(m, 'p', hot, sw, { mac: '52:54:00:00:00:09' })).toThrow(/MAC 52:54:00:00:00:09 is already switch port q\/0's/);
    expect(() => hotAddNic(m, 'p', hot, sw, { mac: '01:00:5e:00:00:01' })).toThrow(/not a unicast MAC/);
    expect(() => hotAddNic(m, 'p', hot, sw, { mac: 7 as unknown as string })).toThrow(/not a unicast MAC/);
    openChannel(relid, 0x300, RING + 8 * 4096);
    const nic = m.vmbus!.deviceList.find((d) => d instanceof NetvscDevice)!;
    expect(nic.isOpen).toBe(true);

    // No options at all (null, as a bare request may send): the next index, its MAC made from the name as a spec's NIC's.
    const second = hotAddNic(m, 'p', hot, sw, null as unknown as undefined);
    expect([take().msgtype, second]).toEqual([Msg.OFFERCHANNEL, relid + 1]);
    expect(sw.list().map((p) => p.name)).toEqual(['q/0', 'p/0', 'p/1']);
    // At most as many as a spec may name (8): a control plane adding in a loop is refused, not served.
    const more = Array.from({ length: 6 }, () => hotAddNic(m, 'p', hot, sw, {}));
    expect(() => hotAddNic(m, 'p', hot, sw, {})).toThrow(/has 8 NICs, the most a partition has/);
    for (const r of more) {
      hotRemove(m, 'p', hot, r);
      take();
      take(); // its offer and its rescind
    }

    hotRemove(m, 'p', hot, relid);
    r = take();
    expect([r.msgtype, r.u32(8)]).toEqual([Msg.RESCIND_CHANNELOFFER, relid]);
    expect(nic.isOpen).toBe(false); // its rings are no longer served
    expect(sw.list().map((p) => p.name)).toEqual(['q/0', 'p/1']); // its port is released; the others stay
    expect(other.connected).toBe(true);
    expect(m.vmbus!.channels.list().filter((c) => !more.includes(c.relid)).map((c) => [c.relid, c.state])).toEqual([[1, 'offered'], [relid, 'rescinded'], [relid + 1, 'offered']]);
    expect(m.vmbus!.channels.refusals).toEqual([]);

    // A reboot keeps the NIC that is left, on a fresh port: the old one leaves the switch with the old bus.
    const old = sw.list().find((p) => p.name === 'p/1')!;
    m.bootEnlightened(BigInt(RAM_BASE), 0);
    const now = sw.list().filter((p) => p.name === 'p/1');
    expect(now.map((p) => [p.mac, p.id === old.id])).toEqual([[old.mac, false]]);
    expect(m.vmbus!.deviceList.filter((d) => d instanceof NetvscDevice)).toHaveLength(1);
  });
});
