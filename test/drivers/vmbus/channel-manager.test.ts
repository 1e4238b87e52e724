// The root's VMBus channel manager (drivers/vmbus/channel-manager.ts),
// driven as Linux's hv_vmbus drives it, message by message, and by a guest
// that lies: refusals are typed and logged, never thrown, and cost only the
// channel they name.
import { describe, expect, it } from 'vitest';
import { ChannelManager, type ChannelRings, type VmbusDevice } from '../../../drivers/vmbus/channel-manager.ts';
import { guidBytes, Msg } from '../../../drivers/vmbus/messages.ts';

const RAM_PFN = 0x80000n; // guest RAM at 0x8000_0000
const RAM_PAGES = 1024n; // 4 MiB
const HOST_BASE = 0x100_0000;
const SCSI = 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f';

class FakeDevice implements VmbusDevice {
  events: string[] = [];
  rings?: ChannelRings;
  signal?: () => void;
  constructor(readonly classId = SCSI, readonly instanceId = '00000000-0000-0000-0000-000000000001') {}
  open(rings: ChannelRings, signal: () => void) {
    this.rings = rings;
    this.signal = signal;
    this.events.push('open');
  }
  notify() {
    this.events.push('notify');
  }
  close() {
    this.events.push('close');
  }
}

function setup(vcpus = 2) {
  const sent: { vp: number; type: number; dv: DataView; bytes: Uint8Array }[] = [];
  const signals: [number, number][] = [];
  const log: string[] = [];
  const cm = new ChannelManager({
    send: (vp, bytes) => {
      sent.push({ vp, type: new DataView(bytes.buffer).getUint32(0, true), dv: new DataView(bytes.buffer), bytes });
      return true;
    },
    signal: (vp, relid) => signals.push([vp, relid]),
    frameHost: (pfn) => (pfn >= RAM_PFN && pfn < RAM_PFN + RAM_PAGES ? HOST_BASE + Number(pfn - RAM_PFN) * 4096 : undefined),
    vcpus,
    log: (l) => log.push(l),
  });
  /** A guest message: msgtype, then u32 fields from offset 8 (or raw bytes via `extra`). */
  const post = (type: number, fields: number[] = [], size = 8 + fields.length * 4) => {
    const b = new Uint8Array(Math.max(size, 8));
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, true);
    fields.forEach((f, i) => dv.setUint32(8 + i * 4, f >>> 0, true));
    return cm.receive(1, b);
  };
  const connect = (version = 0x5_0003) => {
    const b = new Uint8Array(40);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, Msg.INITIATE_CONTACT, true);
    dv.setUint32(8, version, true);
    dv.setUint8(16, 2); // msg_sint
    return cm.receive(4, b);
  };
  /** GPADL_HEADER with the first pfns, then GPADL_BODYs, as vmbus_establish_gpadl splits them. */
  const gpadl = (relid: number, handle: number, pfns: bigint[]) => {
    const first = Math.min(pfns.length, 26);
    const h = new Uint8Array(28 + first * 8);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, Msg.GPADL_HEADER, true);
    dv.setUint32(8, relid, true);
    dv.setUint32(12, handle, true);
    dv.setUint16(16, 8 + pfns.length * 8, true);
    dv.setUint16(18, 1, true);
    dv.setUint32(20, pfns.length * 4096, true);
    dv.setUint32(24, 0, true);
    pfns.slice(0, first).forEach((p, i) => dv.setBigUint64(28 + i * 8, p, true));
    const refusals = [cm.receive(1, h)];
    for (let at = first, n = 1; at < pfns.length; at += 28, n++) {
      const part = pfns.slice(at, at + 28);
      const b = new Uint8Array(16 + part.length * 8);
      const bv = new DataView(b.buffer);
      bv.setUint32(0, Msg.GPADL_BODY, true);
      bv.setUint32(8, n, true);
      bv.setUint32(12, handle, true);
      part.forEach((p, i) => bv.setBigUint64(16 + i * 8, p, true));
      refusals.push(cm.receive(1, b));
    }
    return refusals.filter((r) => r);
  };
  const open = (relid: number, handle: number, offset = 4, vp = 0, openId = 7) => post(Msg.OPENCHANNEL, [relid, openId, handle, vp, offset], 148);
  const pages = (first: number, n: number) => Array.from({ length: n }, (_, i) => RAM_PFN + BigInt(first + i));
  const last = () => sent[sent.length - 1]!;
  return { cm, sent, signals, log, post, connect, gpadl, open, pages, last };
}

describe('VMBus version negotiation', () => {
  it('accepts Linux’s newest version (5.3) and names connection 1 for later messages', () => {
    const { cm, connect, last } = setup();
    expect(connect()).toBeUndefined();
    expect(last().type).toBe(Msg.VERSION_RESPONSE);
    expect([last().dv.getUint8(8), last().dv.getUint32(12, true)]).toEqual([1, 1]);
    expect(cm.connection).toEqual({ state: 'connected', version: 0x5_0003 });
  });

  it('answers a version it does not speak with "not supported", so the guest tries the next older one', () => {
    const { cm, connect, last } = setup();
    connect(0x6_0000);
    expect(last().dv.getUint8(8)).toBe(0);
    expect(cm.connection.state).toBe('disconnected');
    connect(0x2_0004); // VERSION_WIN8, the oldest Linux 6.12 tries
    expect(last().dv.getUint8(8)).toBe(1);
    expect(cm.connection.version).toBe(0x2_0004);
  });

  it('refuses channel messages before contact, and posts to another connection', () => {
    const { cm, post, log } = setup();
    expect(post(Msg.REQUESTOFFERS)?.reason).toMatch(/before INITIATE_CONTACT/);
    expect(cm.receive(9, new Uint8Array(8))?.reason).toMatch(/connection 9/);
    expect(log).toHaveLength(2);
  });
});

describe('VMBus offers', () => {
  it('offers every device with its GUIDs in Linux’s guid_t layout, relid and connection id, then ALLOFFERS_DELIVERED', () => {
    const { cm, connect, post, sent } = setup();
    const relids = [cm.add(new FakeDevice()), cm.add(new FakeDevice(SCSI, '11111111-2222-3333-4444-555555555555'))];
    connect();
    post(Msg.REQUESTOFFERS);
    const offers = sent.filter((m) => m.type === Msg.OFFERCHANNEL);
    expect(offers.map((o) => [o.dv.getUint32(184, true), o.dv.getUint32(192, true)])).toEqual(relids.map((r) => [r, r]));
    expect(offers[0]!.bytes.subarray(8, 24)).toEqual(guidBytes(SCSI));
    expect([...guidBytes(SCSI).subarray(0, 4)]).toEqual([0xd9, 0x63, 0x61, 0xba]); // first field little-endian
    expect(sent[sent.length - 1]!.type).toBe(Msg.ALLOFFERS_DELIVERED);
  });

  it('offers a device added while connected at once, and rescinds a removed one until the guest releases its relid', () => {
    const { cm, connect, post, open, gpadl, pages, last } = setup();
    connect();
    post(Msg.REQUESTOFFERS);
    const dev = new FakeDevice();
    const relid = cm.add(dev);
    expect(last().type).toBe(Msg.OFFERCHANNEL);
    gpadl(relid, 1, pages(0, 8));
    open(relid, 1);
    cm.remove(relid);
    expect(dev.events).toEqual(['open', 'close']);
    expect([last().type, last().dv.getUint32(8, true)]).toEqual([Msg.RESCIND_CHANNELOFFER, relid]);
    expect(cm.list()[0]!.state).toBe('rescinded');
    expect(post(Msg.RELID_RELEASED, [relid])).toBeUndefined();
    expect(cm.list()).toEqual([]);
  });

  it('restores a rescinded relid the guest has not released without its device, until the guest releases it', () => {
    const a = setup();
    a.connect();
    a.post(Msg.REQUESTOFFERS);
    const kept = new FakeDevice(SCSI, '00000000-0000-0000-0000-000000000001');
    const gone = new FakeDevice(SCSI, '00000000-0000-0000-0000-000000000002');
    a.cm.add(kept);
    const relid = a.cm.add(gone);
    a.cm.remove(relid);
    const saved = JSON.parse(JSON.stringify(a.cm.save()));
    // The restored partition has only the device that stayed (its spec as the bus was at the save).
    const b = setup();
    b.cm.add(new FakeDevice(SCSI, kept.instanceId));
    b.cm.checkRestore(saved)();
    expect(b.cm.list().map((c) => [c.relid, c.instanceId, c.state])).toEqual([[1, kept.instanceId, 'offered'], [relid, gone.instanceId, 'rescinded']]);
    expect(b.cm.add(new FakeDevice(SCSI, '00000000-0000-0000-0000-000000000003'))).toBe(3); // not free yet
    expect(b.post(Msg.CLOSECHANNEL, [relid])).toBeUndefined(); // Linux closes what it had open: taken quietly
    expect(b.post(Msg.RELID_RELEASED, [relid])).toBeUndefined();
    expect(b.cm.add(new FakeDevice(SCSI, '00000000-0000-0000-0000-000000000004'))).toBe(relid); // free again
    // A saved open or offered channel whose device the partition lacks is still refused.
    const c = setup();
    expect(() => c.cm.checkRestore(JSON.parse(JSON.stringify(a.cm.save())))).toThrow(/which this partition lacks/);
  });
});

describe('VMBus GPADLs and channels', () => {
  it('creates a GPADL from a header and bodies only when all its pages came, and opens the channel on it', () => {
    const { cm, connect, gpadl, open, pages, sent, last } = setup();
    const dev = new FakeDevice();
    const relid = cm.add(dev);
    connect();
    expect(gpadl(relid, 0xe1e10, pages(16, 64))).toEqual([]); // a header and two bodies
    expect(sent.filter((m) => m.type === Msg.GPADL_CREATED)).toHaveLength(1);
    expect([last().dv.getUint32(12, true), last().dv.getUint32(16, true)]).toEqual([0xe1e10, 0]);
    expect(open(relid, 0xe1e10, 32)).toBeUndefined();
    expect([last().type, last().dv.getUint32(12, true), last().dv.getUint32(16, true)]).toEqual([Msg.OPENCHANNEL_RESULT, 7, 0]);
    expect(dev.rings?.outbound).toEqual({ addr: HOST_BASE + 16 * 4096, size: 32 * 4096 });
    expect(dev.rings?.inbound).toEqual({ addr: HOST_BASE + 48 * 4096, size: 32 * 4096 });
  });

  it('passes the guest’s signal to the open channel’s device, and the device’s to the guest’s target vCPU', () => {
    const { cm, connect, gpadl, open, pages, signals } = setup();
    const dev = new FakeDevice();
    const relid = cm.add(dev);
    connect();
    gpadl(relid, 1, pages(0, 8));
    cm.signalled(relid); // not open yet: nothing
    open(relid, 1, 4, 1);
    cm.signalled(relid);
    dev.signal!();
    expect(dev.events).toEqual(['open', 'notify']);
    expect(signals).toEqual([[1, relid]]);
  });

  it('closes, tears the GPADL down (refused while its channel is open) and unloads', () => {
    const { cm, connect, gpadl, open, post, pages, last } = setup();
    const dev = new FakeDevice();
    const relid = cm.add(dev);
    connect();
    gpadl(relid, 5, pages(0, 8));
    open(relid, 5);
    expect(post(Msg.GPADL_TEARDOWN, [relid, 5])?.reason).toMatch(/open channel/);
    expect(dev.events).toEqual(['open', 'close']); // the lie cost the channel
    expect(post(Msg.GPADL_TEARDOWN, [relid, 5])).toBeUndefined();
    expect([last().type, last().dv.getUint32(8, true)]).toEqual([Msg.GPADL_TORNDOWN, 5]);
    gpadl(relid, 6, pages(0, 8));
    open(relid, 6);
    expect(post(Msg.CLOSECHANNEL, [relid])).toBeUndefined();
    expect(post(Msg.CLOSECHANNEL, [relid])?.reason).toMatch(/offered/);
    open(relid, 6);
    post(Msg.UNLOAD);
    expect(last().type).toBe(Msg.UNLOAD_RESPONSE);
    expect(dev.events).toEqual(['open', 'close', 'open', 'close', 'open', 'close']);
    expect(cm.connection.state).toBe('disconnected');
  });
});

describe('VMBus messages from a guest that lies', () => {
  it('refuses GPADLs naming frames outside the partition with a failure status, and opens nothing on them', () => {
    const { cm, connect, gpadl, open, last } = setup();
    const relid = cm.add(new FakeDevice());
    connect();
    const r = gpadl(relid, 3, [RAM_PFN, RAM_PFN + RAM_PAGES, 0n]);
    expect(r[0]?.reason).toMatch(/page 1 .* not the partition's RAM/);
    expect([last().type, last().dv.getUint32(16, true)]).toEqual([Msg.GPADL_CREATED, 1]);
    expect(open(relid, 3)?.reason).toMatch(/not a complete GPADL/);
    expect(last().dv.getUint32(16, true)).toBe(1); // OPENCHANNEL_RESULT failed
  });

  it.each([
    ['a second open', (t: ReturnType<typeof setup>, relid: number) => t.open(relid, 1), /is open/],
    ['rings that are not contiguous', (t: ReturnType<typeof setup>, relid: number) => (t.post(Msg.CLOSECHANNEL, [relid]), t.gpadl(relid, 2, [RAM_PFN + 20n, RAM_PFN + 22n, RAM_PFN + 23n, RAM_PFN + 24n]), t.open(relid, 2, 2)), /contiguous/],
    ['a ring under 2 pages', (t: ReturnType<typeof setup>, relid: number) => (t.post(Msg.CLOSECHANNEL, [relid]), t.gpadl(relid, 2, t.pages(30, 8)), t.open(relid, 2, 7)), /under 2 pages/],
    ['a target_vp the partition lacks', (t: ReturnType<typeof setup>, relid: number) => (t.post(Msg.CLOSECHANNEL, [relid]), t.gpadl(relid, 2, t.pages(30, 8)), t.open(relid, 2, 4, 9)), /target_vp/],
    ['a GPADL of two ranges', (t: ReturnType<typeof setup>, relid: number) => t.post(Msg.GPADL_HEADER, [relid, 9, 0x0002_0010, 4096, 0, 0x80000, 0]), /2 ranges/],
    ['an existing GPADL handle', (t: ReturnType<typeof setup>, relid: number) => t.gpadl(relid, 1, t.pages(40, 4))[0], /exists already/],
    ['a body for an unknown GPADL', (t: ReturnType<typeof setup>) => t.post(Msg.GPADL_BODY, [1, 77, 0, 0]), /unknown/],
    ['a message type only the host sends', (t: ReturnType<typeof setup>) => t.post(Msg.OFFERCHANNEL), /not one a guest sends/],
    ['a short OPENCHANNEL', (t: ReturnType<typeof setup>, relid: number) => t.post(Msg.OPENCHANNEL, [relid]), /needs 148/],
    ['a header-less message', (t: ReturnType<typeof setup>) => t.cm.receive(1, new Uint8Array(3)), /no header/],
  ])('refuses %s, and the other channel stays open', (_name, lie, why) => {
    const t = setup();
    const [a, b] = [new FakeDevice(), new FakeDevice()];
    const [ra, rb] = [t.cm.add(a), t.cm.add(b)];
    t.connect();
    t.gpadl(ra, 1, t.pages(0, 8));
    t.gpadl(rb, 10, t.pages(100, 8));
    t.open(ra, 1);
    t.open(rb, 10);
    expect(lie(t, ra)?.reason).toMatch(why);
    expect(b.events).toEqual(['open']);
    expect(t.cm.list().find((c) => c.relid === rb)?.state).toBe('open');
    expect(t.log.length).toBeGreaterThan(0);
  });

  it('never throws on 20,000 random messages, and still serves a well-behaved guest afterwards', () => {
    const t = setup();
    const dev = new FakeDevice();
    const relid = t.cm.add(dev);
    let seed = 0x1234_5678;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
    for (let i = 0; i < 20_000; i++) {
      const b = new Uint8Array(Math.floor(rnd() * 241));
      for (let j = 0; j < b.length; j++) b[j] = rnd() < 0.5 ? Math.floor(rnd() * 4) : Math.floor(rnd() * 256);
      if (b.length >= 4) new DataView(b.buffer).setUint32(0, Math.floor(rnd() * 19), true);
      expect(() => t.cm.receive(rnd() < 0.9 ? 1 : Math.floor(rnd() * 8), b)).not.toThrow();
    }
    t.connect();
    t.post(Msg.UNLOAD);
    t.connect();
    expect(t.gpadl(relid, 0xabc, t.pages(200, 8))).toEqual([]);
    expect(t.open(relid, 0xabc)).toBeUndefined();
    expect(dev.events[dev.events.length - 1]).toBe('open');
  });
});
