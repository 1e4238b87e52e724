// VMBus ring-buffer primitives (kernel/vmbus/ring.ts) against Linux's
// drivers/hv/ring_buffer.c rules, through the kernel's exports.
import { describe, expect, it } from 'vitest';
import { createHostMemory, instantiateKernel } from '../../runtime/host/kernel.ts';
import { packetFootprint, PacketType, RingLayout as L, RingResult as R, ringKernel, VmbusRing } from '../../drivers/vmbus/ring.ts';

const PAGE = 4096;

/** A kernel over fresh memory with scratch areas: `src`/`dst` of 1 MiB each, `desc` 16 bytes, rings after them. */
function setup() {
  const memory = createHostMemory(0x0120_0000 + 8 * 1024 * 1024);
  const noDevice = () => 0;
  const { exports, layout } = instantiateKernel(memory, { mmioRead: noDevice, mmioWrite: () => {}, hostClock: noDevice });
  const k = ringKernel(exports);
  const src = layout.framePool;
  const dst = src + 0x10_0000;
  const desc = dst + 0x10_0000;
  let next = desc + PAGE;
  const bytes = () => new Uint8Array(memory.buffer);
  const ring = (size: number) => {
    const r = new VmbusRing(k, memory, next, size);
    next += size;
    expect(r.init()).toBe(R.OK);
    return r;
  };
  const u32 = (addr: number) => new DataView(memory.buffer).getUint32(addr, true);
  const setU32 = (addr: number, v: number) => new DataView(memory.buffer).setUint32(addr, v, true);
  const u64 = (addr: number) => new DataView(memory.buffer).getBigUint64(addr, true);
  /** Writes `payload` (put at src) as one packet. */
  const write = (r: VmbusRing, payload: Uint8Array, transId = 0n, type: number = PacketType.DATA_INBAND, flags = 0) => {
    bytes().set(payload, src);
    return r.write(type, flags, transId, src, payload.length);
  };
  /** Reads one packet: the result and, when it succeeded, the payload bytes. */
  const read = (r: VmbusRing, room = 0x10_0000, raw = false) => {
    const rc = r.read(dst, room, desc, raw);
    const d = r.descriptorAt(desc);
    const n = (d.len8 - (raw ? 0 : d.offset8)) * 8;
    return { rc, desc: d, payload: rc >= 0 ? bytes().slice(dst, dst + n) : undefined };
  };
  return { memory, k, ring, write, read, bytes, u32, setU32, u64, src, dst, desc };
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const padded = (len: number) => (L.pktDescSize + len + 7) & ~7;

/** A packet's payload comes back padded to 8 with zeros (Linux's buffer_actual_len is len8 * 8 - offset8 * 8 too). */
function expectPayload(got: Uint8Array | undefined, sent: Uint8Array): void {
  expect(got).toBeDefined();
  expect(got!.length).toBe(padded(sent.length) - 16);
  expect(got!.subarray(0, sent.length)).toEqual(sent);
  expect(got!.subarray(sent.length).every((b) => b === 0)).toBe(true);
}

describe('VMBus ring: layout', () => {
  it('initializes a header page as hv_ringbuffer_init does: indices 0, feature_bits = 1', () => {
    const t = setup();
    const r = t.ring(4 * PAGE);
    t.bytes().fill(0xee, r.base, r.base + PAGE);
    expect(r.init()).toBe(R.OK);
    expect([r.writeIndex, r.readIndex, r.interruptMask, r.pendingSendSz, r.featureBits]).toEqual([0, 0, 0, 0, 1]);
    expect(t.bytes().subarray(r.base, r.base + PAGE).filter((b) => b !== 0).length).toBe(1);
  });

  it('frames a packet as Linux: descriptor {type, offset8 = 2, len8, flags, trans_id}, zero padding, trailer = start << 32', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    const data = r.base + PAGE;
    t.bytes().fill(0xff, data, data + 64);
    expect(t.write(r, pattern(5, 1), 0x1122334455667788n, PacketType.DATA_INBAND, 1)).toBe(R.SIGNAL);
    // 16 + 5 -> 24 bytes (len8 = 3), then the trailer of the packet that started at 0.
    expect([t.u32(data) & 0xffff, t.u32(data) >>> 16, t.u32(data + 4) & 0xffff, t.u32(data + 4) >>> 16]).toEqual([6, 2, 3, 1]);
    expect(t.u64(data + 8)).toBe(0x1122334455667788n);
    expect([...t.bytes().subarray(data + 16, data + 24)]).toEqual([...pattern(5, 1), 0, 0, 0]);
    expect(t.u64(data + 24)).toBe(0n);
    expect(r.writeIndex).toBe(32);
    expect(t.write(r, pattern(8, 2))).toBe(R.OK); // not empty: no signal
    expect(t.u64(data + 32 + 24)).toBe(32n << 32n);
    expect(r.writeIndex).toBe(64);
  });
});

describe('VMBus ring: round trips', () => {
  it('carries every payload size from 0 to 700 bytes and a few large ones, wrapping many times', () => {
    const t = setup();
    const r = t.ring(3 * PAGE); // 8 KiB of data: wraps every few packets
    const sizes = [...Array.from({ length: 701 }, (_, i) => i), 2048, 4096, 8192 - 16 - 8 - 8];
    let wraps = 0;
    for (const [i, len] of sizes.entries()) {
      const before = r.writeIndex;
      const p = pattern(len, i);
      const rc = t.write(r, p, BigInt(i), PacketType.DATA_INBAND, i & 1);
      expect(rc, `size ${len}`).toBeGreaterThanOrEqual(0);
      if (r.writeIndex < before) wraps++;
      const got = t.read(r);
      expect(got.rc).toBeGreaterThanOrEqual(0);
      expect(got.desc).toEqual({ type: PacketType.DATA_INBAND, offset8: 2, len8: padded(len) / 8, flags: i & 1, transId: BigInt(i) });
      expectPayload(got.payload, p);
      expect(r.avail()).toBe(0);
    }
    expect(wraps).toBeGreaterThan(20);
  });

  it('splits descriptors, payloads and trailers at the wrap point and reads them back whole', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    // Start packets at every 8-byte offset near the end of the 4 KiB data area.
    for (let start = 4096 - 64; start < 4096; start += 8) {
      for (const len of [0, 1, 7, 8, 9, 24, 100]) {
        t.setU32(r.base + L.writeIndex, start);
        t.setU32(r.base + L.readIndex, start);
        const p = pattern(len, start + len);
        expect(t.write(r, p, 0xabcdn)).toBe(R.SIGNAL);
        expect(r.writeIndex).toBe((start + padded(len) + 8) % 4096);
        const trailerAt = (start + padded(len)) % 4096;
        expect(t.u64(r.base + PAGE + trailerAt)).toBe(BigInt(start) << 32n);
        const got = t.read(r);
        expect(got.rc).toBe(R.OK);
        expect(got.desc.transId).toBe(0xabcdn);
        expectPayload(got.payload, p);
        const raw = (t.write(r, p, 7n), t.read(r, 0x10_0000, true));
        expect(raw.payload!.length).toBe(padded(len));
        expect(raw.payload!.subarray(16, 16 + len)).toEqual(p);
        expect([...raw.payload!.subarray(16 + len)].every((b) => b === 0)).toBe(true);
      }
    }
  });

  it('keeps many packets queued and delivers them in order', () => {
    const t = setup();
    const r = t.ring(5 * PAGE);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 50; round++) {
      while (t.write(r, pattern((sent * 37) % 300, sent), BigInt(sent)) >= 0) sent++;
      const drain = (round % 3) + 1;
      for (let i = 0; i < drain * 10 && got < sent; i++, got++) {
        const p = t.read(r);
        expect(p.desc.transId).toBe(BigInt(got));
        expectPayload(p.payload, pattern((got * 37) % 300, got));
      }
    }
    expect(sent).toBeGreaterThan(500);
  });
});

describe('VMBus ring: full and empty', () => {
  it('is never filled exactly: a write fails when free == needed and succeeds when free == needed + 8', () => {
    const t = setup();
    const r = t.ring(2 * PAGE); // 4096 data bytes
    // Fill so that free is exactly 200: one packet of footprint 4096 - 200.
    expect(t.write(r, pattern(4096 - 200 - 24, 0))).toBe(R.SIGNAL);
    expect(r.free()).toBe(200);
    const needed200 = 200 - 24; // footprint(176) = 16 + 176 + 8 = 200
    expect(packetFootprint(needed200)).toBe(200);
    const before = t.bytes().slice(r.base, r.base + 2 * PAGE);
    expect(t.write(r, pattern(needed200, 1))).toBe(R.FULL);
    expect(t.bytes().slice(r.base, r.base + 2 * PAGE)).toEqual(before); // nothing written
    expect(t.write(r, pattern(needed200 - 8, 1))).toBe(R.OK); // footprint 192 < 200
    expect(r.free()).toBe(8);
    expect(t.write(r, new Uint8Array(0))).toBe(R.FULL);
  });

  it('reads EMPTY from an empty ring and refuses packets that could never fit', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    expect(t.read(r).rc).toBe(R.EMPTY);
    expect(r.peek(t.desc)).toBe(R.EMPTY);
    expect(t.write(r, new Uint8Array(4096 - 24))).toBe(R.TOO_BIG); // footprint == data size: never fits, so not FULL
    expect(t.write(r, pattern(4096 - 32, 5))).toBe(R.SIGNAL); // footprint 4088 < free 4096: the largest that fits
    expectPayload(t.read(r).payload, pattern(4096 - 32, 5));
    const big = t.ring(130 * PAGE);
    expect(big.write(PacketType.DATA_INBAND, 0, 0n, t.src, L.pktMaxLen - 16 + 1)).toBe(R.TOO_BIG); // len8 overflows u16
    expect(big.write(PacketType.DATA_INBAND, 0, 0n, t.src, L.pktMaxLen - 16)).toBe(R.SIGNAL);
    expect(t.read(big).desc.len8).toBe(0xffff);
  });

  it('leaves a packet in place when the reader’s buffer is too small, and says how large it is', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    t.write(r, pattern(100, 3), 9n);
    const small = t.read(r, 99);
    expect(small.rc).toBe(R.NO_ROOM);
    expect((small.desc.len8 - small.desc.offset8) * 8).toBe(104);
    expect(r.peek(t.desc)).toBe(R.OK);
    expect(r.descriptorAt(t.desc).transId).toBe(9n);
    const ok = t.read(r, 104);
    expect(ok.rc).toBe(R.OK);
    expectPayload(ok.payload, pattern(100, 3));
  });

  it('rejects ring sizes that are not whole pages, under two pages or over 1 GiB', () => {
    const t = setup();
    for (const size of [0, PAGE, 2 * PAGE + 8, 3 * PAGE - 1, 2 ** 30 + PAGE]) {
      expect(t.k.ringInit(t.dst, size)).toBe(R.BAD_SIZE);
      expect(t.k.ringWrite(t.dst, size, 6, 0, 0, 0, t.src, 1)).toBe(R.BAD_SIZE);
      expect(t.k.ringRead(t.dst, size, t.src, 64, t.desc, 0)).toBe(R.BAD_SIZE);
      expect(t.k.ringAvail(t.dst, size)).toBe(R.BAD_SIZE);
      expect(t.k.ringFree(t.dst, size)).toBe(R.BAD_SIZE);
      expect(t.k.ringPeek(t.dst, size, t.desc)).toBe(R.BAD_SIZE);
    }
  });
});

describe('VMBus ring: signals (hv_signal_on_write, hv_pkt_iter_close)', () => {
  it('asks the writer to signal only on empty -> non-empty, and never while interrupt_mask is set', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    expect(t.write(r, pattern(10, 0))).toBe(R.SIGNAL); // empty -> non-empty
    expect(t.write(r, pattern(10, 1))).toBe(R.OK); // already non-empty
    t.read(r);
    expect(t.write(r, pattern(10, 2))).toBe(R.OK); // one still queued
    t.read(r);
    t.read(r);
    r.beginRead(); // the reader is draining
    expect(r.interruptMask).toBe(1);
    expect(t.write(r, pattern(10, 3))).toBe(R.OK); // empty -> non-empty, but masked
    expect(r.endRead()).toBe(packetFootprint(10)); // unmasked: the reader sees it, no signal needed
    expect(r.interruptMask).toBe(0);
    t.read(r);
    expect(r.endRead()).toBe(0);
    expect(t.write(r, pattern(10, 4))).toBe(R.SIGNAL);
  });

  it('asks the reader to signal only on the not-enough -> enough transition of pending_send_sz', () => {
    const t = setup();
    const r = t.ring(2 * PAGE); // 4096 data bytes
    const fp = packetFootprint(1000 - 24); // 1000 bytes each
    expect(fp).toBe(1000);
    for (let i = 0; i < 4; i++) expect(t.write(r, pattern(1000 - 24, i))).toBeGreaterThanOrEqual(0);
    expect(r.free()).toBe(96);
    // A writer needing 1500 (more than 1 packet's worth, less than 2) blocks and publishes it.
    expect(t.write(r, pattern(1500 - 24, 9))).toBe(R.FULL);
    r.setPendingSend(1500);
    expect(t.read(r).rc).toBe(R.OK); // free 96 -> 1096: still not enough
    expect(t.read(r).rc).toBe(R.SIGNAL); // 1096 -> 2096 > 1500: the transition
    expect(t.read(r).rc).toBe(R.OK); // 2096 -> 3096: enough before, enough after
    // Exactly enough is not enough: free must exceed pending_send_sz.
    for (let i = 0; i < 3; i++) t.write(r, pattern(1000 - 24, i)); // free 96 again (one packet left queued)
    expect(r.free()).toBe(96);
    r.setPendingSend(1096);
    expect(t.read(r).rc).toBe(R.OK); // free 1096 == pending: not enough
    expect(t.read(r).rc).toBe(R.SIGNAL); // 2096
    // pending_send_sz == 0: nobody is waiting.
    r.setPendingSend(0);
    for (let i = 0; i < 2; i++) t.write(r, pattern(1000 - 24, i));
    while (r.avail() > 0) expect(t.read(r).rc).toBe(R.OK);
  });

  it('does not signal a writer whose ring lacks the pending_send_sz feature bit, and ignores interrupt_mask on the read side', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    for (let i = 0; i < 4; i++) t.write(r, pattern(1000 - 24, i));
    r.setPendingSend(1500);
    r.beginRead(); // the mask is the reader's own flag: no effect on reader -> writer signals (Linux >= 4.15)
    expect(t.read(r).rc).toBe(R.OK);
    expect(t.read(r).rc).toBe(R.SIGNAL);
    for (let i = 0; i < 2; i++) t.write(r, pattern(1000 - 24, i));
    t.setU32(r.base + L.featureBits, 0);
    expect(t.read(r).rc).toBe(R.OK);
    expect(t.read(r).rc).toBe(R.OK);
  });
});

describe('VMBus ring: batched reads (one read-index commit per batch)', () => {
  /** The packets ringReadBatch left at dst: each descriptor's trans_id and payload. */
  const unpack = (t: ReturnType<typeof setup>, bytes: number) => {
    const out: { transId: bigint; payload: Uint8Array }[] = [];
    for (let at = 0; at < bytes; ) {
      const v = new DataView(t.memory.buffer, t.dst + at, 16);
      const len = v.getUint16(4, true) * 8;
      out.push({ transId: v.getBigUint64(8, true), payload: t.bytes().slice(t.dst + at + v.getUint16(2, true) * 8, t.dst + at + len) });
      at += len;
    }
    return out;
  };
  const info = (t: ReturnType<typeof setup>) => [t.u32(t.desc), t.u32(t.desc + 4)];

  it('reads what single reads would, wrapping, and moves the read index once past the whole batch', () => {
    const t = setup();
    const r = t.ring(PAGE + 2 * PAGE);
    const sent: Uint8Array[] = [];
    for (let round = 0; round < 40; round++) {
      const mine: Uint8Array[] = [];
      for (let i = 0; i < 1 + (round % 7); i++) {
        const p = pattern((round * 37 + i * 11) % 300, round * 10 + i);
        expect(t.write(r, p, BigInt(sent.length + mine.length))).toBeGreaterThanOrEqual(R.OK);
        mine.push(p);
      }
      const n = r.readBatch(t.dst, 0x10_0000, 4, t.desc);
      expect(n).toBe(Math.min(4, mine.length));
      const got = unpack(t, info(t)[0]!);
      got.forEach((g, i) => {
        expect(g.transId).toBe(BigInt(sent.length + i));
        expectPayload(g.payload, mine[i]!);
      });
      // The rest with single reads: the batch left them in place.
      for (let i = n; i < mine.length; i++) expectPayload(t.read(r).payload, mine[i]!);
      sent.push(...mine);
      expect(r.readIndex).toBe(r.writeIndex);
    }
    expect(r.readBatch(t.dst, 0x10_0000, 8, t.desc)).toBe(0); // empty
    expect(info(t)).toEqual([0, 0]);
  });

  it('stops before a packet that does not fit, and refuses a first one that does not (NO_ROOM, nothing consumed)', () => {
    const t = setup();
    const r = t.ring(PAGE + PAGE);
    for (let i = 0; i < 3; i++) t.write(r, pattern(100, i), BigInt(i));
    const one = padded(100);
    expect(r.readBatch(t.dst, 2 * one + 8, 8, t.desc)).toBe(2);
    expect(info(t)[0]).toBe(2 * one);
    expect(r.readBatch(t.dst, one - 8, 8, t.desc)).toBe(R.NO_ROOM);
    expect(r.avail()).toBe(one + 8);
  });

  it('asks to signal a blocked writer once, for the batch that crosses its pending_send_sz', () => {
    const t = setup();
    const r = t.ring(PAGE + PAGE);
    while (t.write(r, pattern(200, 1)) >= 0) {}
    const need = packetFootprint(200) * 2; // the writer waits for two packets' room
    r.setPendingSend(need);
    expect(r.readBatch(t.dst, 0x10_0000, 1, t.desc)).toBe(1);
    expect(info(t)[1]).toBe(0); // one packet's room: not enough yet
    expect(r.readBatch(t.dst, 0x10_0000, 3, t.desc)).toBe(3);
    expect(info(t)[1]).toBe(1); // not enough -> enough within this batch
    expect(r.readBatch(t.dst, 0x10_0000, 1, t.desc)).toBe(1);
    expect(info(t)[1]).toBe(0); // enough already before
  });

  it('ends a batch before a malformed packet and reports it on the next call', () => {
    const t = setup();
    const r = t.ring(PAGE + PAGE);
    t.write(r, pattern(40, 1), 1n);
    const bad = r.writeIndex;
    t.write(r, pattern(40, 2), 2n);
    t.setU32(r.base + PAGE + bad + 4, 1); // len8 = 1: shorter than a descriptor
    expect(r.readBatch(t.dst, 0x10_0000, 8, t.desc)).toBe(1);
    expect(r.readBatch(t.dst, 0x10_0000, 8, t.desc)).toBe(R.BAD_PACKET);
    expect(r.readIndex).toBe(bad);
  });
});

describe('VMBus ring: a corrupt or hostile peer', () => {
  it('answers BAD_INDEX for indices past the data area or unaligned, touching nothing', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    const guard = r.base + 2 * PAGE; // the page after the ring
    t.bytes().fill(0x5a, guard, guard + PAGE);
    for (const [field, bad] of [
      [L.writeIndex, 4096],
      [L.writeIndex, 0xffff_fff8],
      [L.writeIndex, 12],
      [L.readIndex, 4096],
      [L.readIndex, 0x8000_0000],
      [L.readIndex, 4],
      [L.readIndex, 4095],
    ] as const) {
      r.init();
      t.write(r, pattern(40, 1));
      t.setU32(r.base + field, bad);
      const image = t.bytes().slice(r.base, r.base + 3 * PAGE);
      expect(t.write(r, pattern(40, 2)), `write with ${field}=${bad}`).toBe(R.BAD_INDEX);
      expect(t.read(r).rc).toBe(R.BAD_INDEX);
      expect(r.peek(t.desc)).toBe(R.BAD_INDEX);
      expect(r.avail()).toBe(R.BAD_INDEX);
      expect(r.free()).toBe(R.BAD_INDEX);
      expect(r.endRead()).toBe(R.BAD_INDEX);
      expect(t.bytes().slice(r.base, r.base + 3 * PAGE)).toEqual(image);
    }
  });

  it('answers BAD_PACKET for descriptors that lie about their length or offset', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    const data = r.base + PAGE;
    const cases: Array<[string, (d: DataView) => void]> = [
      ['len8 = 0', (d) => d.setUint16(4, 0, true)],
      ['len8 = 1 (shorter than the descriptor)', (d) => d.setUint16(4, 1, true)],
      ['len8 past the written bytes', (d) => d.setUint16(4, 7, true)],
      ['len8 = 0xffff', (d) => d.setUint16(4, 0xffff, true)],
      ['offset8 = 0', (d) => d.setUint16(2, 0, true)],
      ['offset8 = 1', (d) => d.setUint16(2, 1, true)],
      ['offset8 > len8', (d) => d.setUint16(2, 6, true)],
    ];
    for (const [name, corrupt] of cases) {
      r.init();
      t.write(r, pattern(24, 0)); // len8 = 5, 48 bytes with the trailer
      corrupt(new DataView(t.memory.buffer, data, 16));
      expect(t.read(r).rc, name).toBe(R.BAD_PACKET);
      expect(r.peek(t.desc), name).toBe(R.BAD_PACKET);
      expect(r.readIndex).toBe(0);
    }
    // A write index that leaves fewer bytes than a descriptor and trailer.
    r.init();
    t.setU32(r.base + L.writeIndex, 16);
    expect(t.read(r).rc).toBe(R.BAD_PACKET);
    // offset8 == len8 (no payload) is well formed.
    r.init();
    t.write(r, pattern(24, 0));
    new DataView(t.memory.buffer, data, 16).setUint16(2, 5, true);
    const empty = t.read(r);
    expect(empty.rc).toBe(R.OK);
    expect(empty.payload!.length).toBe(0);
  });

  it('survives random header and data garbage: every call returns a known code and stays inside the ring', () => {
    const t = setup();
    const r = t.ring(2 * PAGE);
    const guard = r.base + 2 * PAGE;
    t.bytes().fill(0x5a, guard, guard + PAGE);
    t.bytes().fill(0x5a, t.dst, t.dst + 0x10_0000);
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0), x);
    const codes = new Set<number>(Object.values(R));
    for (let i = 0; i < 20000; i++) {
      const field = [L.writeIndex, L.readIndex, L.interruptMask, L.pendingSendSz, L.featureBits][rnd() % 5]!;
      const v = rnd() % 3 === 0 ? rnd() : (rnd() % 4200) & ~(rnd() % 2 ? 7 : 0);
      t.setU32(r.base + field, v);
      if (rnd() % 2) new DataView(t.memory.buffer).setUint32(r.base + PAGE + (rnd() % 1024) * 4, rnd(), true);
      const room = rnd() % 5000;
      for (const rc of [t.read(r, room).rc, r.peek(t.desc), t.write(r, pattern(rnd() % 64, i)), r.avail() < 0 ? r.avail() : 0]) {
        expect(codes.has(rc), `result ${rc}`).toBe(true);
      }
      const rc = t.read(r, room).rc;
      if (rc >= 0) {
        const d = r.descriptorAt(t.desc);
        expect((d.len8 - d.offset8) * 8).toBeLessThanOrEqual(room);
      }
      // A batch: a known code or a count, and never more bytes than the room given.
      const n = r.readBatch(t.dst, room, 1 + (rnd() % 8), t.desc);
      expect(n >= 0 || codes.has(n), `batch result ${n}`).toBe(true);
      expect(t.u32(t.desc)).toBeLessThanOrEqual(n > 0 ? room : 0);
    }
    expect(t.bytes().subarray(guard, guard + PAGE).every((b) => b === 0x5a)).toBe(true);
    // Nothing was read into dst beyond the room each call was given (at most 5000 bytes).
    expect(t.bytes().subarray(t.dst + 5000, t.dst + 0x10_0000).every((b) => b === 0x5a)).toBe(true);
  });
});

/**
 * The reference: a queue of packets and a byte image of the data area, the
 * rules of ring_buffer.c written the plain way (single-threaded, so
 * hv_pkt_iter_close's "free before this read" is just that).
 */
class RingModel {
  readonly data: Uint8Array;
  write = 0;
  read = 0;
  mask = 0;
  pending = 0;
  feature = 1;
  readonly queue: Array<{ type: number; flags: number; transId: bigint; payload: Uint8Array }> = [];

  constructor(readonly dsize: number) {
    this.data = new Uint8Array(dsize);
  }
  free(): number {
    return this.write >= this.read ? this.dsize - (this.write - this.read) : this.read - this.write;
  }
  private put(off: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.data[(off + i) % this.dsize] = bytes[i]!;
  }
  doWrite(type: number, flags: number, transId: bigint, payload: Uint8Array): number {
    const pktLen = padded(payload.length);
    const needed = pktLen + 8;
    if (payload.length > L.pktMaxLen - 16 || needed >= this.dsize) return R.TOO_BIG;
    if (this.free() <= needed) return R.FULL;
    const pkt = new Uint8Array(needed);
    const v = new DataView(pkt.buffer);
    v.setUint16(0, type, true);
    v.setUint16(2, 2, true);
    v.setUint16(4, pktLen / 8, true);
    v.setUint16(6, flags, true);
    v.setBigUint64(8, transId, true);
    pkt.set(payload, 16);
    v.setBigUint64(pktLen, BigInt(this.write) << 32n, true);
    this.put(this.write, pkt);
    const old = this.write;
    this.write = (this.write + needed) % this.dsize;
    this.queue.push({ type, flags, transId, payload });
    return this.mask === 0 && this.read === old ? R.SIGNAL : R.OK;
  }
  /** The result and the bytes a read returns. */
  doRead(room: number, raw: boolean): { rc: number; bytes?: Uint8Array } {
    const p = this.queue[0];
    if (!p) return { rc: R.EMPTY };
    const pktLen = padded(p.payload.length);
    const n = raw ? pktLen : pktLen - 16;
    if (n > room) return { rc: R.NO_ROOM };
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = this.data[(this.read + (raw ? 0 : 16) + i) % this.dsize]!;
    const before = this.free();
    this.read = (this.read + pktLen + 8) % this.dsize;
    this.queue.shift();
    const after = this.free();
    const signal = (this.feature & 1) !== 0 && this.pending !== 0 && before <= this.pending && after > this.pending;
    return { rc: signal ? R.SIGNAL : R.OK, bytes };
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('VMBus ring: against a reference model (seeded)', () => {
  for (const [seed, pages] of [[1, 2], [2, 3], [3, 2], [20240607, 5]] as const) {
    it(`agrees on every result, index and data byte over 20000 random operations (seed ${seed}, ${pages - 1} data pages)`, () => {
      const t = setup();
      const r = t.ring(pages * PAGE);
      const m = new RingModel((pages - 1) * PAGE);
      const rnd = mulberry32(seed);
      const int = (n: number) => Math.floor(rnd() * n);
      const counts: Record<string, number> = {};
      for (let op = 0; op < 20000; op++) {
        const what = int(100);
        let name: string;
        if (what < 45) {
          const u = rnd();
          const len = u < 0.7 ? int(65) : u < 0.95 ? int(600) : int(m.dsize);
          const p = pattern(len, op);
          const type = 1 + int(11);
          const flags = int(2);
          const transId = BigInt(int(2 ** 32)) * 0x1_0000_0001n;
          const rc = t.write(r, p, transId, type, flags);
          expect(rc, `op ${op}: write ${len}`).toBe(m.doWrite(type, flags, transId, p));
          name = `write ${rc}`;
        } else if (what < 85) {
          const raw = int(5) === 0;
          const room = int(4) === 0 ? int(200) : 0x10_0000;
          const want = m.doRead(room, raw);
          const head = m.queue[0];
          const got = t.read(r, room, raw);
          expect(got.rc, `op ${op}: read`).toBe(want.rc);
          if (want.bytes) expect(got.payload).toEqual(want.bytes);
          if (want.rc === R.NO_ROOM && head) expect(got.desc.transId).toBe(head.transId);
          name = `read ${got.rc}`;
        } else if (what < 92) {
          m.mask = int(2);
          if (m.mask) r.beginRead();
          else expect(r.endRead()).toBe(m.dsize - m.free());
          name = 'mask';
        } else if (what < 98) {
          m.pending = int(3) === 0 ? 0 : 8 * int(m.dsize / 8 + 1);
          r.setPendingSend(m.pending);
          name = 'pending';
        } else {
          m.feature = int(4) === 0 ? 0 : 1;
          t.setU32(r.base + L.featureBits, m.feature);
          name = 'feature';
        }
        counts[name] = (counts[name] ?? 0) + 1;
        expect([r.writeIndex, r.readIndex, r.avail(), r.free()]).toEqual([m.write, m.read, m.dsize - m.free(), m.free()]);
        if (op % 16 === 0 || name.startsWith('write')) {
          expect(Buffer.compare(t.bytes().subarray(r.base + PAGE, r.base + pages * PAGE), m.data), `op ${op}: data area`).toBe(0);
        }
      }
      // Every outcome was exercised.
      for (const k of ['write 0', 'write 1', 'write -2', 'read 0', 'read 1', 'read -1', 'read -3']) expect(counts[k], k).toBeGreaterThan(0);
    });
  }
});
