// The guest's end of a synthetic NIC (drivers/vmbus/netvsc.ts) for tests
// and benchmarks without a guest, on test/support/vmbus-guest.ts: NVSP and
// RNDIS messages as Linux's netvsc and rndis_filter build them, a NIC's
// bring-up (NVSP INIT 6.1, NDIS version, receive buffer of 9 sections and
// send buffer of 2, RNDIS INITIALIZE, packet filter), frames sent through
// a send section and received from transfer-page packets, completed.
import type { VirtualSwitch } from '../../drivers/net/vswitch.ts';
import { NetvscDevice, netvscInstanceId, NO_SECTION, NvspMsg, NvspStatus, RECV_SECTION_SIZE, SEND_SECTION_SIZE } from '../../drivers/vmbus/netvsc.ts';
import { Oid, PacketFilter, RNDIS_PACKET, RndisMsg } from '../../drivers/vmbus/rndis.ts';
import { PacketType } from '../../drivers/vmbus/ring.ts';
import { guestPacket, guestRings, type GuestPacket, type VmbusWorld } from './vmbus-guest.ts';

const RING_PAGES = 16;
const RECV_PAGES = 4; // 9 receive sections
const SEND_PAGES = 3; // 2 send sections
const NIC_PAGES = RING_PAGES + 1 + RECV_PAGES + SEND_PAGES + 1; // rings, staging, buffers, a page for GPA-direct messages

const mac = (n: number) => Uint8Array.from([0x52, 0x54, 0x00, 0, 0, n]);
export const nvsp = (type: number, ...words: number[]) => {
  const b = new Uint8Array(40);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  words.forEach((w, i) => v.setUint32(4 + 4 * i, w >>> 0, true));
  return b;
};
/** An RNDIS message: type, then u32 words from offset 8, then `tail`; msg_len as given or its length. */
export const rndis = (type: number, words: number[], tail: Uint8Array<ArrayBufferLike> = new Uint8Array(0), msgLen?: number) => {
  const len = 8 + 4 * words.length + tail.length;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, msgLen ?? len, true);
  words.forEach((w, i) => v.setUint32(8 + 4 * i, w >>> 0, true));
  b.set(tail, 8 + 4 * words.length);
  return b;
};
/** An Ethernet frame from `src` to `dst` with `len` bytes in all, its payload a pattern of `seed`. */
export const frame = (dst: Uint8Array, src: Uint8Array, len: number, seed: number) => {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  for (let i = 14; i < len; i++) f[i] = (seed * 31 + i) & 0xff;
  return f;
};
export const rndisPacket = (f: Uint8Array<ArrayBufferLike>) => rndis(RndisMsg.PACKET, [RNDIS_PACKET, f.length, 0, 0, 0, 0, 0, 0, 0], f);

/** NIC `n` on `sw` with its guest's end at guest page n * NIC_PAGES, brought up as Linux does it, its packet filter directed and broadcast. */
export function nic(w: VmbusWorld, sw: VirtualSwitch, n: number) {
  const firstPage = n * NIC_PAGES;
  const dev = new NetvscDevice(sw, { instanceId: netvscInstanceId(n), mac: mac(n), name: `p${n}/0` });
  dev.attach(w.ctx);
  const g = guestRings(w, firstPage, RING_PAGES);
  const recvPage = firstPage + RING_PAGES + 1;
  const sendPage = recvPage + RECV_PAGES;
  const msgPage = sendPage + SEND_PAGES;
  w.addGpadl(100 + 2 * n, recvPage, RECV_PAGES);
  w.addGpadl(101 + 2 * n, sendPage, SEND_PAGES);
  const faults: string[] = [];
  dev.open(g.rings, () => {}, (r) => faults.push(r));
  let trans = 1n;
  /** Packets for the guest (completions, transfer pages) since the last call. */
  const received: GuestPacket[] = [];
  const take = () => {
    received.push(...g.readAll());
    return received.splice(0);
  };
  /** Writes `pkts` and signals the host (the device drains its ring). */
  const send = (...pkts: Uint8Array[]) => {
    for (const p of pkts) g.writeRaw(p);
    dev.notify();
  };
  const inband = (body: Uint8Array) => guestPacket(body, trans++);
  /** An RNDIS message through send section `section` (copied there first), as netvsc_send does. */
  const viaSection = (msg: Uint8Array, section = 0, size = msg.length) => {
    w.u8.set(msg, w.host(sendPage) + section * SEND_SECTION_SIZE);
    return inband(nvsp(NvspMsg.SEND_RNDIS_PKT, 0, section, size));
  };
  /** An RNDIS message in GPA-direct pages (rndis_filter_send_request's way for control messages). */
  const viaPages = (msg: Uint8Array, channel = 1) => {
    w.u8.set(msg, w.host(msgPage));
    return guestPacket(nvsp(NvspMsg.SEND_RNDIS_PKT, channel, NO_SECTION, 0), trans++, { pages: { pfns: [w.pfn(msgPage)], len: msg.length } });
  };
  /** Transfer-page packets the guest got: each one's section and RNDIS message (copied out). */
  const frames = (pkts: GuestPacket[]) =>
    pkts
      .filter((p) => p.type === PacketType.DATA_USING_XFER_PAGES)
      .map((p) => {
        const h = new DataView(p.raw.buffer, p.raw.byteOffset + 16);
        const len = h.getUint32(8, true);
        const offset = h.getUint32(12, true);
        return { transId: p.transId, section: offset / RECV_SECTION_SIZE, message: w.u8.slice(w.host(recvPage) + offset, w.host(recvPage) + offset + len) };
      });
  /** The guest's completion of transfer-page packet `transId` (netvsc_send_recv_completion). */
  const complete = (transId: bigint) => guestPacket(nvsp(NvspMsg.SEND_RNDIS_PKT_COMPLETE, NvspStatus.SUCCESS), transId, { type: PacketType.COMP, flags: 0 });
  const nvspStatus = (p: GuestPacket) => new DataView(p.raw.buffer, p.raw.byteOffset + p.offset).getUint32(4, true);

  // Linux's bring-up: NVSP INIT, NDIS version, buffers, RNDIS INITIALIZE, packet filter.
  send(
    inband(nvsp(NvspMsg.INIT, 0x6_0001, 0x6_0001)),
    inband(nvsp(NvspMsg.SEND_NDIS_VER, 6, 30)),
    inband(nvsp(NvspMsg.SEND_RECV_BUF, 100 + 2 * n, 0xcafe)),
    inband(nvsp(NvspMsg.SEND_SEND_BUF, 101 + 2 * n, 0)),
  );
  send(viaPages(rndis(RndisMsg.INIT, [1, 1, 0, SEND_SECTION_SIZE])));
  for (const f of frames(take())) send(complete(f.transId));
  const filter = new Uint8Array(4);
  new DataView(filter.buffer).setUint32(0, PacketFilter.DIRECTED | PacketFilter.BROADCAST, true);
  send(viaPages(rndis(RndisMsg.SET, [2, Oid.GEN_CURRENT_PACKET_FILTER, 4, 20, 0], filter)));
  for (const f of frames(take())) send(complete(f.transId));
  if (dev.filter !== (PacketFilter.DIRECTED | PacketFilter.BROADCAST)) throw new Error(`netvsc guest: the packet filter is ${dev.filter} after bring-up`);
  return { dev, g, faults, sendSection: w.host(sendPage), send, take, inband, viaSection, viaPages, frames, complete, nvspStatus, mac: mac(n) };
}


export type GuestNic = ReturnType<typeof nic>;
