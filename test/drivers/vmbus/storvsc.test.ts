// Synthetic storage (drivers/vmbus/storvsc.ts on endpoint.ts) driven from
// the guest's side of its rings by a test-only driver mock: the protocol
// works, and what a hostile guest can write (malformed or oversized
// packets, data buffers outside its RAM, ring indices past the data area,
// random bytes) closes only that channel, with a logged reason, never
// throws, and never touches memory outside the partition.
import { describe, expect, it } from 'vitest';
import { PacketType, RingLayout } from '../../../drivers/vmbus/ring.ts';
import { ScsiStatus } from '../../../drivers/vmbus/scsi-disk.ts';
import { MAX_PACKET } from '../../../drivers/vmbus/endpoint.ts';
import { Srb, StorvscDevice, storvscInstanceId, VstorOp, VSTOR_PACKET_SIZE } from '../../../drivers/vmbus/storvsc.ts';
import { GUEST_GPA, guestPacket, guestRings, PAGE, vmbusWorld } from '../../support/vmbus-guest.ts';
import type { BlockDevice } from '../../../drivers/block/device.ts';

const GUEST_SIZE = 4 << 20; // the partition's RAM
const RING_PAGES = 16; // 8 out, 8 in

/** An in-memory disk. */
function memDisk(size = 1 << 20): BlockDevice {
  const bytes = new Uint8Array(size);
  return {
    size,
    readOnly: false,
    read: (off, buf) => buf.set(bytes.subarray(off, off + buf.length)),
    write: (off, buf) => bytes.set(buf, off),
    flush: () => {},
    close: () => {},
  };
}

function world() {
  const w = vmbusWorld(GUEST_SIZE);
  /** A storvsc channel with rings at guest page `firstPage`, and the guest's end of it. */
  const channel = (firstPage: number, disk = memDisk()) => {
    const dev = new StorvscDevice(disk, { instanceId: storvscInstanceId(firstPage) });
    dev.attach(w.ctx);
    const g = guestRings(w, firstPage, RING_PAGES);
    const faults: string[] = [];
    let signals = 0;
    const open = () => dev.open(g.rings, () => signals++, (r) => faults.push(r));
    open();
    /** An inband or GPA-direct packet around `body` (a vstor_packet). */
    const packet = (body: Uint8Array, transId: bigint, pages: { pfns: bigint[]; len: number; offset?: number } | undefined, type?: number) => guestPacket(body, transId, { type, pages });
    const vstor = (op: number, fill?: (v: DataView, b: Uint8Array) => void) => {
      const b = new Uint8Array(VSTOR_PACKET_SIZE);
      const v = new DataView(b.buffer);
      v.setUint32(0, op, true);
      v.setUint32(4, 1, true);
      fill?.(v, b);
      return b;
    };
    /** Sends and has the host service it (the guest's signal); returns the answers. */
    const send = (...pkts: Uint8Array[]) => {
      for (const p of pkts) g.writeRaw(p);
      dev.notify();
      return g.readAll().map((p) => ({ type: p.type, transId: p.transId, body: new DataView(p.raw.buffer, p.raw.byteOffset + p.offset, VSTOR_PACKET_SIZE) }));
    };
    const init = () =>
      send(
        packet(vstor(VstorOp.BEGIN_INITIALIZATION), 1n, undefined),
        packet(vstor(VstorOp.QUERY_PROTOCOL_VERSION, (v) => v.setUint16(12, 0x0602, true)), 2n, undefined),
        packet(vstor(VstorOp.QUERY_PROPERTIES), 3n, undefined),
        packet(vstor(VstorOp.END_INITIALIZATION), 4n, undefined),
      );
    const srb = (cdb: number[], dataIn: number, len: number) =>
      vstor(VstorOp.EXECUTE_SRB, (v, b) => {
        v.setUint16(Srb.length, Srb.size, true);
        v.setUint8(Srb.cdbLength, cdb.length);
        v.setUint8(Srb.dataIn, dataIn);
        v.setUint32(Srb.dataTransferLength, len, true);
        b.set(cdb, Srb.cdb);
      });
    return { dev, out: g.out, inb: g.inb, faults, open, send, packet, vstor, init, srb, writeRaw: g.writeRaw, readAll: g.readAll, guestPfn: w.pfn, signals: () => signals };
  };
  return { channel, logs: w.logs, canaryIntact: w.canaryIntact, u8: w.u8 };
}

describe('storvsc (host side)', () => {
  it('initialises as Linux does and answers an INQUIRY into the guest pages its GPA-direct packet names', () => {
    const { channel, canaryIntact } = world();
    const c = channel(0);
    const answers = c.init();
    expect(answers.map((a) => [a.type, a.transId, a.body.getUint32(0, true), a.body.getUint32(8, true)])).toEqual([
      [PacketType.COMP, 1n, VstorOp.COMPLETE_IO, 0],
      [PacketType.COMP, 2n, VstorOp.COMPLETE_IO, 0],
      [PacketType.COMP, 3n, VstorOp.COMPLETE_IO, 0],
      [PacketType.COMP, 4n, VstorOp.COMPLETE_IO, 0],
    ]);
    expect(answers[2]!.body.getUint32(24, true)).toBe(512 << 10); // max_transfer_bytes
    expect(c.dev.ready).toBe(true);
    const [a] = c.send(c.packet(c.srb([0x12, 0, 0, 0, 36, 0], 1, 36), 9n, { pfns: [c.guestPfn(100)], len: 36, offset: 8 }));
    expect(a!.body.getUint8(Srb.srbStatus)).toBe(1);
    expect(a!.body.getUint32(Srb.dataTransferLength, true)).toBe(36);
    expect(c.faults).toEqual([]);
    expect(canaryIntact()).toBe(true);
  });

  it('answers a read past the end with CHECK CONDITION and ILLEGAL REQUEST sense, and goes on', () => {
    const { channel } = world();
    const c = channel(0);
    c.init();
    const [a] = c.send(c.packet(c.srb([0x28, 0, 0, 0, 0x08, 0, 0, 0, 1, 0], 1, 512), 5n, { pfns: [c.guestPfn(100)], len: 512 }));
    expect(a!.body.getUint8(Srb.scsiStatus)).toBe(ScsiStatus.CHECK_CONDITION);
    expect(a!.body.getUint8(Srb.srbStatus)).toBe(0x84); // ERROR | AUTOSENSE_VALID
    expect([a!.body.getUint8(Srb.cdb + 2), a!.body.getUint8(Srb.cdb + 12)]).toEqual([5, 0x21]);
    expect(c.dev.isOpen).toBe(true);
  });

  const hostile: [string, (c: ReturnType<ReturnType<typeof world>['channel']>) => void, RegExp][] = [
    ['an SRB whose data buffer names a page outside the partition', (c) => void c.send(c.packet(c.srb([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 1, 512), 5n, { pfns: [BigInt((GUEST_GPA + GUEST_SIZE) / PAGE)], len: 512 })), /not the partition's RAM/],
    ['an SRB whose pfn is far past any RAM', (c) => void c.send(c.packet(c.srb([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], 0, 512), 5n, { pfns: [0xffff_ffff_ffffn], len: 512 })), /not the partition's RAM/],
    ['a GPA-direct range naming more pages than its descriptor holds', (c) => void c.send(c.packet(c.srb([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0], 1, 4096), 5n, { pfns: [c.guestPfn(100)], len: 3 * 4096 })), /more than the descriptor holds/],
    ['a vstor_packet shorter than 64 bytes', (c) => void c.send(c.packet(new Uint8Array(12), 5n, undefined)), /vstor_packet of 16 bytes/],
    ['a packet type storvsc never sends (a completion)', (c) => void c.send(c.packet(c.vstor(VstorOp.BEGIN_INITIALIZATION), 5n, undefined, PacketType.COMP)), /packet type 11/],
    ['a packet larger than the device takes', (c) => void c.send(c.packet(new Uint8Array(MAX_PACKET), 5n, undefined)), /more than 12288 bytes/],
    ['a CDB of 17 bytes', (c) => void c.send(c.packet(c.srb(new Array(17).fill(0), 2, 0), 5n, undefined)), /CDB of 17/],
    ['a write index past the data area', (c) => (Atomics.store(new Uint32Array(c.out.memory.buffer, c.out.base, 1), 0, c.out.dataSize + 8), c.dev.notify()), /index past its data area/],
    ['a descriptor whose length runs past what was written', (c) => {
      const p = c.packet(c.vstor(VstorOp.BEGIN_INITIALIZATION), 5n, undefined);
      new DataView(p.buffer).setUint16(4, 200, true); // len8: 1600 bytes
      c.send(p);
    }, /malformed packet descriptor/],
  ];

  it.each(hostile)('closes the channel on %s, logs why, and the other channel goes on', (_what, attack, reason) => {
    const { channel, canaryIntact } = world();
    const victim = channel(0);
    const bystander = channel(40);
    victim.init();
    bystander.init();
    expect(() => attack(victim)).not.toThrow();
    expect(victim.faults).toHaveLength(1);
    expect(victim.faults[0]).toMatch(reason);
    expect(victim.dev.isOpen).toBe(false);
    expect(victim.dev.fault).toBe(victim.faults[0]);
    // The bystander's disk still answers.
    const [a] = bystander.send(bystander.packet(bystander.srb([0x00, 0, 0, 0, 0, 0], 2, 0), 7n, undefined));
    expect(a!.body.getUint8(Srb.srbStatus)).toBe(1);
    expect(bystander.faults).toEqual([]);
    expect(canaryIntact()).toBe(true);
  });

  it('answers every request the guest queued before one signal, and closes the channel at a malformed packet behind them', () => {
    const { channel } = world();
    const c = channel(0);
    c.init();
    const tur = (id: bigint) => c.packet(c.srb([0x00, 0, 0, 0, 0, 0], 2, 0), id, undefined);
    const bad = c.packet(c.vstor(VstorOp.BEGIN_INITIALIZATION), 99n, undefined);
    new DataView(bad.buffer).setUint16(4, 200, true); // len8 past what was written
    for (const p of [tur(10n), tur(11n), tur(12n), tur(13n), tur(14n), bad]) c.writeRaw(p);
    c.dev.notify();
    expect(c.readAll().map((p) => p.transId)).toEqual([10n, 11n, 12n, 13n, 14n]);
    expect(c.faults).toHaveLength(1);
    expect(c.faults[0]).toMatch(/malformed packet descriptor/);
    expect(c.dev.isOpen).toBe(false);
  });

  it('reads only as many requests as the host -> guest ring has room to answer, and the rest once the guest reads', () => {
    const { channel } = world();
    const c = channel(0);
    c.init();
    const tur = (id: number) => c.packet(c.srb([0x00, 0, 0, 0, 0, 0], 2, 0), BigInt(id), undefined);
    // 600 requests, 200 at a time, answers left unread: the guest -> host ring holds 200, the answers' ring ~330.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 200; i++) c.writeRaw(tur(round * 200 + i));
      c.dev.notify();
    }
    expect(c.dev.stats.blocked).toBeGreaterThan(0);
    const first = c.readAll().map((p) => Number(p.transId));
    expect(first.length).toBeLessThan(600);
    expect(c.inb.pendingSendSz).toBeGreaterThan(0); // the host asks to be signalled when an answer fits
    c.dev.notify(); // the guest's read made room: it signals
    const all = [...first, ...c.readAll().map((p) => Number(p.transId))];
    expect(all).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(c.faults).toEqual([]);
  });

  it('survives 5000 random packets and ring words without throwing or writing outside the partition', () => {
    const { channel, canaryIntact } = world();
    const c = channel(0);
    let seed = 12345;
    const rnd = (n: number) => {
      seed ^= seed << 13; // xorshift32: every bit varies (an LCG's low bits cycle)
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    let faults = 0;
    for (let i = 0; i < 5000; i++) {
      if (!c.dev.isOpen) {
        // The guest would close and reopen: fresh rings, the protocol from the start.
        c.out.init();
        c.inb.init();
        c.open();
        faults++;
        if (rnd(2)) c.init();
      }
      const kind = rnd(4);
      if (kind === 0) {
        const b = new Uint8Array(8 * (2 + rnd(40)));
        for (let j = 0; j < b.length; j++) b[j] = rnd(256);
        if (rnd(2)) new DataView(b.buffer).setUint16(2, 2 + rnd(4), true); // a plausible offset8 now and then
        new DataView(b.buffer).setUint16(4, b.length / 8, true);
        expect(() => c.send(b)).not.toThrow();
      } else if (kind === 1) {
        const cdb = Array.from({ length: 1 + rnd(16) }, () => rnd(256));
        const pfns = Array.from({ length: rnd(4) }, () => (rnd(8) ? c.guestPfn(64 + rnd(400)) : BigInt(rnd(1 << 30))));
        const len = rnd(3 * PAGE);
        expect(() => c.send(c.packet(c.srb(cdb, rnd(3), len), BigInt(i), pfns.length ? { pfns, len, offset: rnd(PAGE) } : undefined))).not.toThrow();
      } else if (kind === 2) {
        expect(() => c.send(c.packet(c.vstor(rnd(16), (v) => v.setUint16(12, rnd(0x800), true)), BigInt(i), undefined))).not.toThrow();
      } else {
        const word = [RingLayout.writeIndex, RingLayout.readIndex, RingLayout.pendingSendSz][rnd(3)]! / 4;
        Atomics.store(new Uint32Array(c.out.memory.buffer, (rnd(2) ? c.out : c.inb).base, 16), word, rnd(2) ? rnd(1 << 20) : rnd(32) * 8);
        expect(() => c.dev.notify()).not.toThrow();
      }
    }
    expect(faults).toBeGreaterThan(10);
    expect(canaryIntact()).toBe(true);
  });
});
