// The guest's end of VMBus channels, for tests of a device's host end
// (drivers/vmbus/endpoint.ts and the devices on it) without a guest: one
// kernel instance and its shared memory, a partition's RAM with canary
// pages after it (a device writing outside the partition shows there),
// scratch pages for the devices, GPADLs by handle, and rings written and
// read as a guest driver does (Linux's hv_ringbuffer_write/read order:
// data, trailer, then the write index).
import { RamGuestMemory } from '../../drivers/emulated/dma.ts';
import type { ChannelRings } from '../../drivers/vmbus/channel-manager.ts';
import type { VmbusDeviceContext } from '../../drivers/vmbus/endpoint.ts';
import { COMPLETION_REQUESTED, PacketType, RingLayout, ringKernel, VmbusRing } from '../../drivers/vmbus/ring.ts';
import { createHostMemory, instantiateKernel } from '../../runtime/host/kernel.ts';

export const PAGE = 4096;
const HOST_BASE = 0x0120_0000; // past the kernel's regions
export const GUEST_GPA = 0x8000_0000;
const CANARY_PAGES = 4;

export interface GuestPacket {
  type: number;
  flags: number;
  transId: bigint;
  /** The packet from its descriptor on. */
  raw: Uint8Array;
  /** Where the payload starts in `raw` (offset8 * 8). */
  offset: number;
}

/** A partition of `guestBytes` of RAM on a fresh kernel, with `scratchPages` for its devices. */
export function vmbusWorld(guestBytes = 4 << 20, scratchPages = 64) {
  const canary = HOST_BASE + guestBytes;
  const scratchBase = canary + CANARY_PAGES * PAGE;
  const memory = createHostMemory(scratchBase + scratchPages * PAGE);
  const noDevice = () => 0;
  const { exports } = instantiateKernel(memory, { mmioRead: noDevice, mmioWrite: () => {}, hostClock: noDevice });
  const ring = ringKernel(exports);
  const u8 = new Uint8Array(memory.buffer);
  u8.fill(0xa5, canary, canary + CANARY_PAGES * PAGE);
  const guest = new RamGuestMemory(new Uint8Array(memory.buffer, HOST_BASE, guestBytes), GUEST_GPA);
  const gpadls = new Map<number, { relid: number; pfns: bigint[]; byteOffset: number; byteCount: number }>();
  let nextScratch = scratchBase;
  const logs: string[] = [];
  const ctx: VmbusDeviceContext = {
    memory, ring, guest, log: (l) => logs.push(l), gpadl: (h) => gpadls.get(h), freeScratch: () => {}, now: () => 0,
    scratch: (pages) => {
      if (nextScratch + pages * PAGE > scratchBase + scratchPages * PAGE) return 0;
      nextScratch += pages * PAGE;
      return nextScratch - pages * PAGE;
    },
  };
  /** Host address of guest page `page`, and its frame number. */
  const host = (page: number) => HOST_BASE + page * PAGE;
  const pfn = (page: number) => BigInt(GUEST_GPA / PAGE + page);
  /** GPADL `handle` over `pages` guest pages from `firstPage` (what GPADL_HEADER/BODY would have set up). */
  const addGpadl = (handle: number, firstPage: number, pages: number) => {
    gpadls.set(handle, { relid: 1, pfns: Array.from({ length: pages }, (_, i) => pfn(firstPage + i)), byteOffset: 0, byteCount: pages * PAGE });
  };
  const canaryIntact = () => u8.subarray(canary, canary + CANARY_PAGES * PAGE).every((b) => b === 0xa5);
  return { memory, u8, ring, guest, ctx, logs, host, pfn, addGpadl, canaryIntact };
}

export type VmbusWorld = ReturnType<typeof vmbusWorld>;

/**
 * The guest's two rings of a channel at guest page `firstPage`: `ringPages`
 * pages, half guest -> host (out), half host -> guest (in), and a staging
 * page after them to read packets into.
 */
export function guestRings(w: VmbusWorld, firstPage: number, ringPages = 16) {
  const base = w.host(firstPage);
  const half = (ringPages / 2) * PAGE;
  const out = new VmbusRing(w.ring, w.memory, base, half);
  const inb = new VmbusRing(w.ring, w.memory, base + half, half);
  out.init();
  inb.init();
  const rings: ChannelRings = { outbound: { addr: out.base, size: out.size }, inbound: { addr: inb.base, size: inb.size }, targetVp: 0, userData: new Uint8Array(120) };
  const staging = base + ringPages * PAGE;
  /** Writes one whole packet (descriptor included) as a guest would: data, trailer, then the index. */
  const data = out.base + RingLayout.headerSize;
  const size = out.dataSize;
  const indices = new Uint32Array(w.memory.buffer, out.base, 1);
  const trailer = new Uint8Array(8);
  /** `b` into the data area from offset `at`, wrapping at its end. */
  const put = (at: number, b: Uint8Array) => {
    const first = Math.min(b.length, size - at);
    w.u8.set(b.subarray(0, first), data + at);
    if (first < b.length) w.u8.set(b.subarray(first), data);
  };
  const writeRaw = (pkt: Uint8Array) => {
    const wi = out.writeIndex;
    put(wi, pkt);
    new DataView(trailer.buffer).setUint32(4, wi, true);
    put((wi + pkt.length) % size, trailer);
    Atomics.store(indices, 0, (wi + pkt.length + 8) % size);
  };
  /** Every packet the host wrote since the last call, taken out of the ring. */
  const readAll = (): GuestPacket[] => {
    const got: GuestPacket[] = [];
    for (;;) {
      const r = inb.read(staging + 64, PAGE - 64, staging, true);
      if (r < 0) return got;
      const d = inb.descriptorAt(staging);
      got.push({ type: d.type, flags: d.flags, transId: d.transId, raw: w.u8.slice(staging + 64, staging + 64 + d.len8 * 8), offset: d.offset8 * 8 });
    }
  };
  return { out, inb, rings, writeRaw, readAll, staging };
}

/**
 * A packet as a guest driver builds it: inband (`pages` absent) or
 * GPA-direct with one range, a completion (type COMP), completion
 * requested unless `flags` says otherwise.
 */
export function guestPacket(body: Uint8Array, transId: bigint, o: { type?: number; flags?: number; pages?: { pfns: bigint[]; len: number; offset?: number } } = {}): Uint8Array {
  const { pages } = o;
  const descLen = pages ? 32 + 8 * pages.pfns.length : 16;
  const len = (descLen + body.length + 7) & ~7;
  const p = new Uint8Array(len);
  const v = new DataView(p.buffer);
  v.setUint16(0, o.type ?? (pages ? PacketType.DATA_USING_GPA_DIRECT : PacketType.DATA_INBAND), true);
  v.setUint16(2, descLen / 8, true);
  v.setUint16(4, len / 8, true);
  v.setUint16(6, o.flags ?? COMPLETION_REQUESTED, true);
  v.setBigUint64(8, transId, true);
  if (pages) {
    v.setUint32(20, 1, true);
    v.setUint32(24, pages.len, true);
    v.setUint32(28, pages.offset ?? 0, true);
    pages.pfns.forEach((pfn, i) => v.setBigUint64(32 + 8 * i, pfn, true));
  }
  p.set(body, descLen);
  return p;
}
