// Hyper-V Dynamic Memory's host end (drivers/vmbus/dm.ts) driven from the
// guest's side of its rings: negotiation, capabilities, balloon requests
// answered over several responses, unballoon; and what a hostile guest can
// write (messages out of order, sizes that lie, responses nobody asked
// for, ranges outside its RAM or given twice, random bytes) closes only
// the channel, with a logged reason, never throws, never touches memory
// outside the partition.
import { describe, expect, it } from 'vitest';
import { DmMsg, DmVersion, DynamicMemoryDevice } from '../../../drivers/vmbus/dm.ts';
import { PacketType } from '../../../drivers/vmbus/ring.ts';
import { GUEST_GPA, guestPacket, guestRings, PAGE, vmbusWorld } from '../../support/vmbus-guest.ts';

const GUEST_SIZE = 4 << 20;
const FIRST_PFN = GUEST_GPA / PAGE;

function world() {
  const w = vmbusWorld(GUEST_SIZE);
  const dm = new DynamicMemoryDevice();
  const out = new Set<number>(); // pages out of the partition
  let reclaims = 0;
  dm.bind({
    ramBase: GUEST_GPA, ramPages: GUEST_SIZE / PAGE, reclaim: () => reclaims++,
    inflate: (gpa) => {
      if (out.has(gpa)) return false;
      out.add(gpa);
      return true;
    },
  });
  dm.attach(w.ctx);
  const g = guestRings(w, 0, 16);
  const faults: string[] = [];
  const open = () => dm.open(g.rings, () => {}, (r) => faults.push(r));
  open();
  let trans = 0;
  /** A DM message: type, then u32/u64 fields as [bytes, value] after the 8-byte header; `size` overrides the header's. */
  const msg = (type: number, fields: [4 | 8, number | bigint][] = [], size?: number) => {
    const len = 8 + fields.reduce((n, [b]) => n + b, 0);
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    v.setUint16(0, type, true);
    v.setUint16(2, size ?? len, true);
    v.setUint32(4, ++trans, true);
    let at = 8;
    for (const [bytes, value] of fields) {
      if (bytes === 4) v.setUint32(at, Number(value), true);
      else v.setBigUint64(at, BigInt(value), true);
      at += bytes;
    }
    return b;
  };
  /** Sends messages inband and has the host service them; returns the host's answers as {type, size, dv}. */
  const send = (...bodies: Uint8Array[]) => {
    for (const b of bodies) g.writeRaw(guestPacket(b, 0n, { flags: 0 }));
    dm.notify();
    return answers();
  };
  const answers = () =>
    g.readAll().map((p) => {
      const dv = new DataView(p.raw.buffer, p.raw.byteOffset + p.offset, p.raw.length - p.offset);
      return { type: dv.getUint16(0, true), size: dv.getUint16(2, true), dv };
    });
  const range = (pfn: number, count: number) => BigInt(pfn) | (BigInt(count) << 40n);
  const version = (v: number) => msg(DmMsg.VERSION_REQUEST, [[4, v], [4, 0]]);
  const caps = (bits = 1) => msg(DmMsg.CAPABILITIES_REPORT, [[8, bits], [8, 0], [8, -1n & 0xffff_ffff_ffff_ffffn]]);
  const balloonResponse = (more: boolean, ranges: bigint[]) => msg(DmMsg.BALLOON_RESPONSE, [[4, 0], [4, (more ? 1 : 0) | (ranges.length << 1)], ...ranges.map((r) => [8, r] as [8, bigint])]);
  const ready = () => {
    send(version(DmVersion.WIN10));
    send(caps());
  };
  return { w, dm, g, out, faults, open, msg, send, answers, range, version, caps, balloonResponse, ready, reclaims: () => reclaims };
}

describe('Dynamic Memory host end', () => {
  it('accepts WIN10 and WIN8, refuses others, and accepts the capabilities', () => {
    const { dm, send, version, caps } = world();
    const refused = send(version(0x3_0000));
    expect(refused.map((a) => [a.type, a.dv.getUint32(4, true), a.dv.getUint32(8, true)])).toEqual([[DmMsg.VERSION_RESPONSE, 1, 0]]);
    expect(send(version(DmVersion.WIN8)).map((a) => [a.type, a.dv.getUint32(8, true)])).toEqual([[DmMsg.VERSION_RESPONSE, 1]]);
    expect(send(caps(1 | 2)).map((a) => [a.type, a.dv.getUint32(8, true)])).toEqual([[DmMsg.CAPABILITIES_RESPONSE, 1]]);
    expect(dm).toMatchObject({ state: 'ready', version: DmVersion.WIN8, caps: { balloon: true, hotAdd: true } });
  });

  it('asks for the balloon target, takes the pages of several responses, and gives the last given back first', () => {
    const { dm, send, answers, out, range, ready, balloonResponse, msg, faults, reclaims } = world();
    ready();
    dm.setTarget(6);
    expect(answers().map((a) => [a.type, a.size, a.dv.getUint32(8, true)])).toEqual([[DmMsg.BALLOON_REQUEST, 16, 6]]);
    expect(dm.request).toBe('balloon');
    expect(send(balloonResponse(true, [range(FIRST_PFN + 10, 2), range(FIRST_PFN + 20, 1)]))).toEqual([]);
    expect(dm.ballooned).toBe(3);
    expect(send(balloonResponse(false, [range(FIRST_PFN + 30, 3)]))).toEqual([]);
    expect(dm.ballooned).toBe(6);
    expect(dm.request).toBeUndefined();
    expect([...out].sort()).toEqual([10, 11, 20, 30, 31, 32].map((p) => GUEST_GPA + p * PAGE));
    expect(reclaims()).toBe(2);
    dm.setTarget(2);
    const back = answers();
    expect(back.map((a) => [a.type, a.dv.getUint32(8, true), a.dv.getUint32(12, true)])).toEqual([[DmMsg.UNBALLOON_REQUEST, 0, 2]]);
    expect([back[0]!.dv.getBigUint64(16, true), back[0]!.dv.getBigUint64(24, true)]).toEqual([range(FIRST_PFN + 30, 3), range(FIRST_PFN + 20, 1)]);
    expect(dm.ballooned).toBe(2);
    expect(send(msg(DmMsg.UNBALLOON_RESPONSE))).toEqual([]);
    expect(dm.request).toBeUndefined();
    expect(faults).toEqual([]);
  });

  it('sends the balloon request once the guest is ready, for what the target asks', () => {
    const { dm, send, version, caps } = world();
    dm.setTarget(100);
    send(version(DmVersion.WIN10));
    const a = send(caps());
    expect(a.map((x) => [x.type, x.dv.getUint32(8, true)])).toEqual([[DmMsg.CAPABILITIES_RESPONSE, 1], [DmMsg.BALLOON_REQUEST, 100]]);
  });

  it.each([
    ['a status report before the capabilities', (t: ReturnType<typeof world>) => t.send(t.msg(DmMsg.STATUS_REPORT, [[8, 1], [8, 1], [8, 0], [8, 0], [4, 0], [4, 0]])), /before the version and capabilities/],
    ['capabilities before a version', (t: ReturnType<typeof world>) => t.send(t.caps()), /before a version was agreed/],
    ['a size field past the packet', (t: ReturnType<typeof world>) => t.send(t.msg(DmMsg.VERSION_REQUEST, [[4, DmVersion.WIN10], [4, 0]], 200)), /says 200 bytes/],
    ['a short version request', (t: ReturnType<typeof world>) => t.send(t.msg(DmMsg.VERSION_REQUEST, [[4, DmVersion.WIN10]])), /of 12 bytes \(at least 16\)/],
    ['a balloon response nobody asked for', (t: ReturnType<typeof world>) => (t.ready(), t.send(t.balloonResponse(false, []))), /with no balloon request/],
    ['an unballoon response nobody asked for', (t: ReturnType<typeof world>) => (t.ready(), t.send(t.msg(DmMsg.UNBALLOON_RESPONSE))), /with no unballoon request/],
    ['a hot-add response (never asked)', (t: ReturnType<typeof world>) => (t.ready(), t.send(t.msg(DmMsg.HOT_ADD_RESPONSE, [[4, 0], [4, 0]]))), /unexpected message type 11/],
    ['a packet that is not inband', (t: ReturnType<typeof world>) => (t.g.writeRaw(guestPacket(t.version(DmVersion.WIN10), 0n, { type: PacketType.COMP, flags: 0 })), t.dm.notify()), /packet type 11/],
  ])('closes the channel on %s', (_, act, reason) => {
    const t = world();
    act(t as never);
    expect(t.dm.isOpen).toBe(false);
    expect(t.faults).toHaveLength(1);
    expect(t.faults[0]).toMatch(reason);
  });

  it.each([
    ['a range outside RAM', (t: ReturnType<typeof world>) => [t.range(FIRST_PFN + GUEST_SIZE / PAGE - 1, 2)], /is not the partition's RAM/],
    ['a range count past the message', null, /claims 5 ranges/],
    ['more pages than asked', (t: ReturnType<typeof world>) => [t.range(FIRST_PFN, 9)], /more than the 8 pages asked/],
    ['a page given twice', (t: ReturnType<typeof world>) => [t.range(FIRST_PFN + 1, 1), t.range(FIRST_PFN + 1, 1)], /0x80001 cannot be ballooned/],
  ])('closes the channel on a balloon response with %s, keeping what it gave before', (_, ranges, reason) => {
    const t = world();
    t.ready();
    t.dm.setTarget(8);
    if (ranges) t.send(t.balloonResponse(false, ranges(t)));
    else {
      const b = t.balloonResponse(false, [t.range(FIRST_PFN, 1)]);
      new DataView(b.buffer).setUint32(12, 5 << 1, true);
      t.send(b);
    }
    expect(t.faults).toHaveLength(1);
    expect(t.faults[0]).toMatch(reason);
    expect(t.dm.ballooned).toBe(t.out.size);
  });

  it('survives 3000 random messages without throwing or writing outside the partition', () => {
    const t = world();
    let seed = 777;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    let reopened = 0;
    for (let i = 0; i < 3000; i++) {
      if (!t.dm.isOpen) {
        t.g.out.init();
        t.g.inb.init();
        t.open();
        reopened++;
        if (rnd(2)) t.ready();
      }
      if (rnd(8) === 0) t.dm.setTarget(rnd(64));
      const kind = rnd(3);
      let body: Uint8Array;
      if (kind === 0) {
        body = new Uint8Array(8 + 8 * rnd(40));
        for (let j = 0; j < body.length; j++) body[j] = rnd(256);
      } else if (kind === 1) {
        body = t.balloonResponse(rnd(2) === 1, Array.from({ length: rnd(6) }, () => t.range(rnd(8) ? FIRST_PFN + rnd(GUEST_SIZE / PAGE) : rnd(1 << 30), rnd(4))));
      } else {
        body = t.msg(1 + rnd(12), Array.from({ length: rnd(6) }, () => [8, BigInt(rnd(1 << 30))] as [8, bigint]), rnd(4) ? undefined : rnd(0x10000));
      }
      expect(() => t.send(body)).not.toThrow();
    }
    expect(reopened).toBeGreaterThan(10);
    expect(t.w.canaryIntact()).toBe(true);
  });
});
