// GPA-direct packets (VM_PKT_DATA_USING_GPA_DIRECT, include/linux/hyperv.h
// struct vmdata_gpa_direct; Linux sends them with vmbus_sendpacket_mpb_desc
// as struct vmbus_packet_mpb_array): the descriptor names the guest pages a
// request's data lives in, so the device copies to and from guest RAM with
// no bounce buffer in the ring.
//
//   +0  vmpacket_descriptor (16 B; offset8 = where the payload starts)
//   +16 reserved u32, range_cnt u32
//   +24 ranges: { byte_count u32, byte_offset u32, pfn_array[n] u64 }...
//       n = ceil((byte_offset + byte_count) / 4096), byte_offset < 4096
//   +offset8 * 8  the device's payload (storvsc: struct vstor_packet)
//
// Every page is checked to be the partition's RAM before anything is
// copied: a packet naming memory outside it is an EndpointFault.
import type { GuestMemory } from '../emulated/dma.ts';
import { EndpointFault } from './endpoint.ts';

const PAGE = 4096;
export const GpaDirect = { reserved: 16, rangeCount: 20, ranges: 24, byteCount: 0, byteOffset: 4, pfns: 8 } as const;

/** A run of guest-physical bytes inside one page. */
export interface Segment {
  gpa: number;
  len: number;
}

/** A request's data buffer: its pieces in order, and their total. */
export interface DataBuffer {
  segments: Segment[];
  length: number;
}

/**
 * The data buffer a GPA-direct packet names (`raw`: the packet from its
 * descriptor on, `offset`: offset8 * 8), every page checked against `guest`.
 * At most `maxBytes` in all.
 */
export function gpaDirectBuffer(raw: Uint8Array, offset: number, guest: GuestMemory, maxBytes: number): DataBuffer {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
  if (offset < GpaDirect.ranges || offset > raw.length) throw new EndpointFault(`GPA-direct packet: payload offset ${offset} leaves no room for its ranges`);
  const count = dv.getUint32(GpaDirect.rangeCount, true);
  const segments: Segment[] = [];
  let length = 0;
  let at = GpaDirect.ranges;
  for (let r = 0; r < count; r++) {
    if (at + GpaDirect.pfns > offset) throw new EndpointFault(`GPA-direct packet: range ${r} of ${count} runs into the payload`);
    const bytes = dv.getUint32(at + GpaDirect.byteCount, true);
    const first = dv.getUint32(at + GpaDirect.byteOffset, true);
    if (first >= PAGE) throw new EndpointFault(`GPA-direct packet: range ${r} starts at byte ${first} of its first page`);
    const pages = Math.ceil((first + bytes) / PAGE);
    if (at + GpaDirect.pfns + pages * 8 > offset) throw new EndpointFault(`GPA-direct packet: range ${r} names ${pages} pages, more than the descriptor holds`);
    length += bytes;
    if (length > maxBytes) throw new EndpointFault(`GPA-direct packet: ${length} bytes of data, more than the device's ${maxBytes}`);
    let left = bytes;
    let skip = first;
    for (let i = 0; i < pages; i++) {
      const pfn = dv.getBigUint64(at + GpaDirect.pfns + 8 * i, true);
      const len = Math.min(PAGE - skip, left);
      const gpa = Number(pfn) * PAGE + skip;
      // A pfn above 2^41 rounds as a number but stays far outside RAM: contains() still refuses it.
      if (!guest.contains(gpa, len)) throw new EndpointFault(`GPA-direct packet: page 0x${pfn.toString(16)} is not the partition's RAM`);
      const last = segments[segments.length - 1];
      if (last && last.gpa + last.len === gpa) last.len += len; // physically consecutive pages: one copy
      else segments.push({ gpa, len });
      left -= len;
      skip = 0;
    }
    at += GpaDirect.pfns + pages * 8;
  }
  return { segments, length };
}

/** Copies the first `data.length` bytes of the buffer from the guest (a write request's data). */
export function gather(guest: GuestMemory, buf: DataBuffer, data: Uint8Array): void {
  let done = 0;
  for (const s of buf.segments) {
    if (done >= data.length) break;
    const n = Math.min(s.len, data.length - done);
    data.set(guest.view(s.gpa, n), done);
    done += n;
  }
}

/** Copies `data` into the start of the buffer in the guest (a read request's data). */
export function scatter(guest: GuestMemory, buf: DataBuffer, data: Uint8Array): void {
  let done = 0;
  for (const s of buf.segments) {
    if (done >= data.length) break;
    const n = Math.min(s.len, data.length - done);
    guest.write(s.gpa, data.subarray(done, done + n));
    done += n;
  }
}
