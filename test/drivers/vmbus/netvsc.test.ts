// The synthetic NIC's host end (drivers/vmbus/netvsc.ts) on live channels,
// three NICs on one virtual switch, each driven from its guest's side of
// the rings as Linux's netvsc would: what a hostile or broken guest can
// send (a forged send-section index, a completion for a receive packet it
// never got, an oversized frame, a flood at a NIC whose guest does not
// take its frames) closes that NIC's channel or drops the frame, with the
// reason logged and counted; the host never throws, nothing outside the
// partitions' RAM changes, and the other NICs go on exchanging frames.
import { describe, expect, it } from 'vitest';
import { VirtualSwitch } from '../../../drivers/net/vswitch.ts';
import { nicPorts, NO_SECTION, NvspMsg, NvspStatus, SEND_SECTION_SIZE } from '../../../drivers/vmbus/netvsc.ts';
import { RndisMsg, RNDIS_PACKET } from '../../../drivers/vmbus/rndis.ts';
import { PacketType } from '../../../drivers/vmbus/ring.ts';
import { frame, nic, nvsp, rndis, rndisPacket, type GuestNic } from '../../support/netvsc-guest.ts';
import { guestPacket, vmbusWorld } from '../../support/vmbus-guest.ts';

function three() {
  const w = vmbusWorld(8 << 20);
  const sw = new VirtualSwitch();
  const nics = [0, 1, 2].map((n) => nic(w, sw, n));
  return { w, sw, a: nics[0]!, b: nics[1]!, c: nics[2]! };
}

/** b sends c a frame; c takes it and completes it. The frame c got. */
function exchange(b: GuestNic, c: GuestNic, seed: number): Uint8Array {
  const f = frame(c.mac, b.mac, 100, seed);
  b.send(b.viaSection(rndisPacket(f)));
  expect(b.take().map(b.nvspStatus)).toEqual([NvspStatus.SUCCESS]);
  const got = c.frames(c.take());
  expect(got).toHaveLength(1);
  c.send(c.complete(got[0]!.transId));
  const m = got[0]!.message;
  return m.slice(8 + RNDIS_PACKET, 8 + RNDIS_PACKET + f.length);
}

describe('netvsc on a live channel', () => {
  it('carries a frame from one guest to another through the switch', () => {
    const { b, c, sw } = three();
    const f = frame(c.mac, b.mac, 100, 1);
    expect(exchange(b, c, 1)).toEqual(f);
    expect(sw.list().find((p) => p.name === 'p2/0')).toMatchObject({ framesOut: 1, bytesOut: 100, dropsOut: 0 });
  });

  it('leaves the switch when its partition reboots, and comes back on a fresh port when the new boot’s VMBus takes it', () => {
    const { w, sw, b, c } = three();
    exchange(b, c, 1);
    c.dev.detach(); // the rebooting partition's old VMBus lets go of it (VmbusHost.dispose)
    expect(c.dev.isOpen).toBe(false);
    expect(sw.list().map((p) => p.name)).toEqual(['p0/0', 'p1/0']);
    expect(nicPorts([c.dev])).toEqual([]);
    c.dev.attach(w.ctx); // the new boot's VMBus
    const fresh = sw.list().find((p) => p.name === 'p2/0');
    expect(fresh).toMatchObject({ mac: '52:54:00:00:00:02', framesIn: 0, framesOut: 0, bytesIn: 0, learned: 0 });
    expect(nicPorts([c.dev])).toEqual([fresh]);
    c.dev.attach(w.ctx); // attached again without a detach: still one port
    expect(sw.list()).toHaveLength(3);
  });

  it('closes the channel of a guest naming a send section past its send buffer; the others go on', () => {
    const { w, a, b, c } = three();
    a.send(a.inband(nvsp(NvspMsg.SEND_RNDIS_PKT, 0, 2, 64))); // 2 sections: 0 and 1
    expect(a.faults).toEqual(['netvsc: send-buffer section 2 past the 2 of the send buffer']);
    expect(a.dev.isOpen).toBe(false);
    a.send(a.inband(nvsp(NvspMsg.SEND_RNDIS_PKT, 0, 0xffff_fffe, 64))); // a closed channel reads nothing more
    expect(a.faults).toHaveLength(1);
    expect(exchange(b, c, 2)).toEqual(frame(c.mac, b.mac, 100, 2));
    expect(w.canaryIntact()).toBe(true);
  });

  it('closes the channel of a guest whose RNDIS message is larger than a send section', () => {
    const { a, b, c } = three();
    a.send(a.inband(nvsp(NvspMsg.SEND_RNDIS_PKT, 0, 1, SEND_SECTION_SIZE + 1)));
    expect(a.faults).toEqual([`netvsc: ${SEND_SECTION_SIZE + 1} bytes in a ${SEND_SECTION_SIZE}-byte send section`]);
    expect(exchange(b, c, 3)).toEqual(frame(c.mac, b.mac, 100, 3));
  });

  it('closes the channel of a guest completing a receive packet it was never sent', () => {
    const { a, b, c } = three();
    a.send(a.complete(5n)); // no frame has come to a: section 5 is the host's
    expect(a.faults).toEqual(['netvsc: completion 5 for a receive section not in use']);
    const { a: a2 } = three();
    a2.send(a2.complete(1n << 40n));
    expect(a2.faults).toEqual([`netvsc: completion ${1n << 40n} for a receive section not in use`]);
    expect(exchange(b, c, 4)).toEqual(frame(c.mac, b.mac, 100, 4));
  });

  it('drops an oversized frame or a malformed RNDIS packet, counts it, completes it as invalid, and keeps the channel', () => {
    const { a, b, sw } = three();
    a.send(a.viaSection(rndisPacket(frame(b.mac, a.mac, 1519, 5)))); // over 1500 + 18
    a.send(a.viaSection(rndis(RndisMsg.PACKET, [RNDIS_PACKET, 4000, 0, 0, 0, 0, 0, 0, 0], new Uint8Array(100)))); // data past the message
    a.send(a.viaSection(rndis(RndisMsg.PACKET, [RNDIS_PACKET, 60, 0, 0, 0, 0, 0, 0, 0], new Uint8Array(60), 9000))); // msg_len past the section's bytes
    expect(a.take().map(a.nvspStatus)).toEqual([NvspStatus.INVALID_RNDIS_PKT, NvspStatus.INVALID_RNDIS_PKT, NvspStatus.INVALID_RNDIS_PKT]);
    expect(a.dev.drops).toEqual({ malformed: 2, oversized: 1, noBuffer: 0 });
    expect(sw.list().find((p) => p.name === 'p0/0')).toMatchObject({ framesIn: 0, dropsIn: 3 });
    expect(b.frames(b.take())).toEqual([]);
    expect(a.faults).toEqual([]);
    // The largest frame the MTU allows goes through.
    a.send(a.viaSection(rndisPacket(frame(b.mac, a.mac, 1518, 6))));
    expect(a.take().map(a.nvspStatus)).toEqual([NvspStatus.SUCCESS]);
    expect(b.frames(b.take())).toHaveLength(1);
  });

  it('drops frames for a guest that leaves its receive buffer full, counts them, and corrupts none', () => {
    const { w, b, c, sw } = three();
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const f = frame(c.mac, b.mac, 1200, 100 + i);
      sent.push(f);
      b.send(b.viaSection(rndisPacket(f), i % 2));
      expect(b.take().map(b.nvspStatus)).toEqual([NvspStatus.SUCCESS]);
    }
    // c took none yet: 9 sections were filled, the rest dropped.
    const got = c.frames(c.take());
    expect(got).toHaveLength(9);
    expect(new Set(got.map((g) => g.section)).size).toBe(9);
    got.forEach((g, i) => expect(g.message.slice(8 + RNDIS_PACKET, 8 + RNDIS_PACKET + 1200)).toEqual(sent[i]));
    expect(c.dev.drops.noBuffer).toBe(31);
    expect(sw.list().find((p) => p.name === 'p2/0')).toMatchObject({ framesOut: 9, dropsOut: 31 });
    expect(sw.list().find((p) => p.name === 'p1/0')).toMatchObject({ framesIn: 40, dropsIn: 0 });
    expect(c.faults).toEqual([]);
    // Once c completes them the sections are its buffer's again, and frames come through.
    c.send(...got.map((g) => c.complete(g.transId)));
    expect(exchange(b, c, 7)).toEqual(frame(c.mac, b.mac, 100, 7));
    expect(w.canaryIntact()).toBe(true);
  });

  it('never throws and never writes outside the partitions, whatever a guest writes into its ring', () => {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8);
    let packets = 0;
    let closed = 0;
    // Each life: three NICs up, one fed random NVSP until its channel closes (or 300 packets), the others still talk.
    for (let life = 0; life < 30; life++) {
      const { w, a, b, c } = three();
      for (let i = 0; i < 300 && a.dev.isOpen; i++) {
        // Mostly what a guest sends (SEND_RNDIS_PKT through a real section), some of it wrong in every field.
        const msgType = rnd() % 32 ? NvspMsg.SEND_RNDIS_PKT : [NvspMsg.SEND_RNDIS_PKT_COMPLETE, NvspMsg.INIT, NvspMsg.REVOKE_RECV_BUF, rnd()][rnd() % 4]!;
        const section = rnd() % 64 ? rnd() % 2 : [NO_SECTION, 2, rnd()][rnd() % 3]!;
        const body = nvsp(msgType, rnd() % 3, section, rnd() % 64 ? rnd() % 2000 : rnd(), rnd());
        const type = rnd() % 32 ? PacketType.DATA_INBAND : [PacketType.COMP, PacketType.DATA_USING_GPA_DIRECT, rnd() & 0xffff][rnd() % 3]!;
        const dst = rnd() % 2 ? b.mac : Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        const msg = rnd() % 2 ? rndisPacket(frame(dst, a.mac, 14 + (rnd() % 1600), i)) : Uint8Array.from({ length: rnd() % 200 }, rnd);
        w.u8.set(msg.subarray(0, SEND_SECTION_SIZE), a.sendSection); // a's send section 0
        expect(() => a.send(guestPacket(body, BigInt(rnd() % 16), { type, flags: rnd() & 1 }))).not.toThrow();
        a.take();
        for (const peer of [b, c]) for (const f of peer.frames(peer.take())) peer.send(peer.complete(f.transId));
      }
      packets += a.dev.stats.packets;
      if (!a.dev.isOpen) closed++;
      expect(a.faults.length).toBeLessThanOrEqual(1);
      expect(exchange(b, c, life)).toEqual(frame(c.mac, b.mac, 100, life));
      expect(w.canaryIntact()).toBe(true);
    }
    expect(closed).toBeGreaterThan(15);
    expect(packets).toBeGreaterThan(500);
  });
});
