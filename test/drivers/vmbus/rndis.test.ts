// The RNDIS function behind the synthetic NIC (drivers/vmbus/rndis.ts):
// what Linux's rndis_filter.c sends gets its answers, every bad offset or
// length is an RndisError (never a read outside the message), and a seeded
// fuzz of random and mutated messages never throws anything else.
import { describe, expect, it } from 'vitest';
import { Oid, PacketFilter, RndisError, RndisFunction, RndisMsg, RndisStatus, packetMessage } from '../../../drivers/vmbus/rndis.ts';

const MAC = Uint8Array.from([0x52, 0x54, 0, 0, 0, 7]);
const fresh = () => new RndisFunction({ mac: MAC, mtu: 1500, maxTransfer: 6144 });

function msg(type: number, words: number[], extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(8 + 4 * words.length + extra.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, b.length, true);
  words.forEach((w, i) => dv.setUint32(8 + 4 * i, w >>> 0, true));
  b.set(extra, 8 + 4 * words.length);
  return b;
}
const words = (b: Uint8Array) => Array.from({ length: b.length >> 2 }, (_, i) => new DataView(b.buffer, b.byteOffset).getUint32(4 * i, true));
const init = (r: RndisFunction) => r.handle(msg(RndisMsg.INIT, [1, 1, 0, 0x4000]));
const u32 = (v: number) => new Uint8Array(Uint32Array.of(v).buffer);
const reply = (r: ReturnType<RndisFunction['handle']>) => (r.kind === 'reply' ? r.reply : new Uint8Array(0));

describe('RNDIS function', () => {
  it('answers INITIALIZE 1.0: connectionless 802.3, one packet per message, 8-byte alignment', () => {
    const r = fresh();
    expect(words(reply(init(r)))).toEqual([0x8000_0002, 52, 1, RndisStatus.SUCCESS, 1, 0, 1, 0, 1, 6144, 3, 0, 0]);
    expect(r.initialized).toBe(true);
  });

  it('answers QUERY of the MAC, MTU, link state and speed, info right after the 16-byte body', () => {
    const r = fresh();
    init(r);
    const q = (oid: number) => reply(r.handle(msg(RndisMsg.QUERY, [7, oid, 0, 20, 0])));
    const mac = q(Oid.PERMANENT_ADDRESS);
    expect(words(mac.subarray(0, 24))).toEqual([0x8000_0004, 30, 7, RndisStatus.SUCCESS, 6, 16]);
    expect(mac.subarray(24, 30)).toEqual(MAC);
    expect(words(q(Oid.GEN_MAXIMUM_FRAME_SIZE)).slice(6)).toEqual([1500]);
    expect(words(q(Oid.GEN_MEDIA_CONNECT_STATUS)).slice(6)).toEqual([0]); // connected
    expect(words(q(0x0001_0203)).slice(2, 6)).toEqual([7, RndisStatus.NOT_SUPPORTED, 0, 0]); // RSS capabilities: not offered
  });

  it('takes the packet filter from SET and refuses unknown bits', () => {
    const r = fresh();
    init(r);
    const set = (filter: number) => words(reply(r.handle(msg(RndisMsg.SET, [9, Oid.GEN_CURRENT_PACKET_FILTER, 4, 20, 0], u32(filter)))));
    expect(set(PacketFilter.DIRECTED | PacketFilter.BROADCAST)).toEqual([0x8000_0005, 16, 9, RndisStatus.SUCCESS]);
    expect(r.filter).toBe(PacketFilter.DIRECTED | PacketFilter.BROADCAST);
    expect(set(0x1_0000)[3]).toBe(RndisStatus.INVALID_DATA);
    expect(r.filter).toBe(PacketFilter.DIRECTED | PacketFilter.BROADCAST);
  });

  it('passes a packet message frame through, and builds the guest-bound one it parses back', () => {
    const r = fresh();
    init(r);
    const frame = Uint8Array.from({ length: 60 }, (_, i) => i);
    const out = r.handle(packetMessage(frame));
    expect(out.kind).toBe('frame');
    expect(out.kind === 'frame' && out.frame).toEqual(frame);
  });

  const bad: [string, (r: RndisFunction) => Uint8Array][] = [
    ['a message shorter than its header', () => new Uint8Array(5)],
    ['msg_len past the bytes it came in', () => {
      const m = msg(RndisMsg.KEEPALIVE, [1]);
      new DataView(m.buffer).setUint32(4, 4096, true);
      return m;
    }],
    ['a packet before INITIALIZE', (r) => (r.reset(), packetMessage(new Uint8Array(60)))],
    ['a packet whose data runs past the message', () => msg(RndisMsg.PACKET, [36, 100, 0, 0, 0, 0, 0, 0, 0], new Uint8Array(60))],
    ['a packet whose data offset points into its own header', () => msg(RndisMsg.PACKET, [4, 20, 0, 0, 0, 0, 0, 0, 0], new Uint8Array(60))],
    ['a frame under 14 bytes', () => packetMessage(new Uint8Array(10))],
    ['a frame over the MTU', () => packetMessage(new Uint8Array(1519))],
    ['a SET whose info buffer runs past the message', () => msg(RndisMsg.SET, [1, Oid.GEN_CURRENT_PACKET_FILTER, 400, 20, 0], u32(8))],
    ['a SET whose info offset points into its own fields', () => msg(RndisMsg.SET, [1, Oid.GEN_CURRENT_PACKET_FILTER, 4, 4, 0], u32(8))],
    ['a completion, which only the device sends', () => msg(RndisMsg.INIT | RndisMsg.COMPLETION, [1, 0])],
    ['a QUERY too short for its fields', () => msg(RndisMsg.QUERY, [1, Oid.PERMANENT_ADDRESS])],
  ];
  it.each(bad)('refuses %s with an RndisError', (_, make) => {
    const r = fresh();
    init(r);
    expect(() => r.handle(make(r))).toThrow(RndisError);
  });

  it('flags an oversized frame as such (the NIC counts it apart from malformed messages)', () => {
    const r = fresh();
    init(r);
    try {
      r.handle(packetMessage(new Uint8Array(2000)));
    } catch (e) {
      expect((e as RndisError).oversized).toBe(true);
    }
  });

  it('survives 20,000 seeded random and mutated messages: each is an answer, a frame, nothing, or an RndisError', () => {
    let seed = 0x5eed_1234;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const valid = [
      msg(RndisMsg.INIT, [1, 1, 0, 0x4000]),
      msg(RndisMsg.QUERY, [2, Oid.PERMANENT_ADDRESS, 0, 20, 0]),
      msg(RndisMsg.SET, [3, Oid.GEN_CURRENT_PACKET_FILTER, 4, 20, 0], u32(PacketFilter.DIRECTED)),
      packetMessage(new Uint8Array(64).fill(0xab)),
      msg(RndisMsg.KEEPALIVE, [4]),
      msg(RndisMsg.RESET, [0]),
      msg(RndisMsg.HALT, [5]),
    ];
    const r = fresh();
    const counts = { reply: 0, frame: 0, none: 0, error: 0 };
    for (let i = 0; i < 20_000; i++) {
      let m: Uint8Array;
      if (rand(4) === 0) m = Uint8Array.from({ length: rand(200) }, () => rand(256));
      else {
        // A valid message with a few words or bytes changed, or cut short, or with room after it.
        const base = valid[rand(valid.length)]!;
        m = new Uint8Array(base.length + (rand(3) === 0 ? rand(64) : 0));
        m.set(base);
        const dv = new DataView(m.buffer);
        for (let k = rand(4); k > 0 && m.length >= 4; k--) {
          const at = rand(m.length - 3) & ~3;
          dv.setUint32(at, rand(3) === 0 ? rand(0x1_0000) : (rand(0x1_0000) << 16) | rand(0x1_0000), true);
        }
        if (rand(5) === 0) m = m.subarray(0, rand(m.length + 1));
      }
      try {
        const out = r.handle(m);
        counts[out.kind]++;
        if (out.kind === 'frame') {
          // The frame is a view inside the message, never past it.
          expect(out.frame.byteOffset + out.frame.length).toBeLessThanOrEqual(m.byteOffset + m.length);
          expect(out.frame.length).toBeLessThanOrEqual(r.maxFrame);
        }
      } catch (e) {
        expect(e).toBeInstanceOf(RndisError);
        counts.error++;
      }
    }
    // The fuzz reached every outcome.
    expect(Object.values(counts).every((n) => n > 0)).toBe(true);
  });
});
