// Split virtqueues (virtio spec 1.2 section 2.7), the device side.
//
//   descriptor table  16 B x size, align 16:  addr u64, len u32, flags u16, next u16
//   driver area       align 2:  flags u16, idx u16, ring[size] u16, used_event u16
//   device area       align 4:  flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16
//
// Everything in those areas is guest-written and untrusted. Any malformed
// use (descriptor index out of range, a chain longer than the queue (a loop),
// nested or unnegotiated indirect tables, a readable descriptor after a
// writable one, the available index running more than a queue size ahead,
// a buffer outside RAM) raises a VirtioError or DmaError; the transport turns
// both into DEVICE_NEEDS_RESET. Nothing here trusts a guest value to index a
// host array: all guest memory goes through GuestMemory's bounds checks.

import { DmaError, type GuestMemory } from '../dma.ts';
import { DeviceStateError, boolField, uintArrayField, uintField } from '../device.ts';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

export const DESC_SIZE = 16;
/** Most buffers (descriptors, direct and indirect together) one chain may have, as QEMU (VIRTQUEUE_MAX_SIZE). */
export const MAX_CHAIN_SEGMENTS = 1024;
/** Largest queue size a split virtqueue can have. */
export const MAX_QUEUE_SIZE = 32768;

/** A driver's misuse of the device (the transport enters DEVICE_NEEDS_RESET). */
export class VirtioError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VirtioError';
  }
}

/** One guest buffer of a chain. */
export interface Segment {
  readonly addr: number;
  readonly len: number;
}

/** A descriptor chain popped from the available ring: device-readable buffers, then device-writable ones. */
export class DescriptorChain {
  readonly readableLength: number;
  readonly writableLength: number;

  constructor(
    private readonly mem: GuestMemory,
    /** Index of the head descriptor (the id returned in the used ring). */
    readonly head: number,
    readonly readable: readonly Segment[],
    readonly writable: readonly Segment[],
  ) {
    this.readableLength = readable.reduce((n, s) => n + s.len, 0);
    this.writableLength = writable.reduce((n, s) => n + s.len, 0);
  }

  /** Copies up to `len` bytes of the device-readable buffers starting `offset` bytes in (fewer at the end). */
  read(offset: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.readableLength - offset));
    const out = new Uint8Array(n);
    let done = 0;
    let skip = offset;
    for (const s of this.readable) {
      if (done === n) break;
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      const take = Math.min(s.len - skip, n - done);
      out.set(this.mem.view(s.addr + skip, take), done);
      done += take;
      skip = 0;
    }
    return out;
  }

  /** Copies `data` into the device-writable buffers starting `offset` bytes in; returns bytes copied (short at the end). */
  write(offset: number, data: Uint8Array): number {
    const n = Math.max(0, Math.min(data.length, this.writableLength - offset));
    let done = 0;
    let skip = offset;
    for (const s of this.writable) {
      if (done === n) break;
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      const take = Math.min(s.len - skip, n - done);
      this.mem.write(s.addr + skip, data.subarray(done, done + take));
      done += take;
      skip = 0;
    }
    return done;
  }
}

/** Guest-physical addresses of a queue's three areas and its size, fixed when the queue is enabled. */
export interface QueueLayout {
  readonly size: number;
  readonly desc: number;
  readonly driver: number;
  readonly device: number;
}

export interface RingFeatures {
  indirect: boolean;
  eventIdx: boolean;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Bytes of the driver area (with used_event) and device area (with avail_event) of a queue of `size`. */
export function driverAreaSize(size: number): number {
  return 6 + 2 * size;
}
export function deviceAreaSize(size: number): number {
  return 6 + 8 * size;
}

/** Legacy (virtio 0.9.5 / spec 1.2 section 2.7.2) contiguous layout from a page frame number. */
export function legacyLayout(size: number, pfn: number, pageSize: number, align: number): QueueLayout {
  const desc = pfn * pageSize;
  const driver = desc + DESC_SIZE * size;
  const device = Math.ceil((driver + driverAreaSize(size)) / align) * align;
  return { size, desc, driver, device };
}

/**
 * Checks a layout the driver asks for: size a power of two in 1..maxSize,
 * areas aligned (16/2/4) and inside RAM. Throws VirtioError.
 */
export function checkLayout(mem: GuestMemory, l: QueueLayout, maxSize: number): void {
  if (!isPowerOfTwo(l.size)) throw new VirtioError(`queue size ${l.size} is not a power of two`);
  if (l.size > maxSize) throw new VirtioError(`queue size ${l.size} exceeds the maximum ${maxSize}`);
  const areas: [string, number, number, number][] = [
    ['descriptor table', l.desc, DESC_SIZE * l.size, 16],
    ['driver area', l.driver, driverAreaSize(l.size), 2],
    ['device area', l.device, deviceAreaSize(l.size), 4],
  ];
  for (const [what, addr, len, align] of areas) {
    if (!mem.contains(addr, len)) {
      throw new VirtioError(`${what} at ${hex(addr)} (${len} bytes) is outside guest RAM`);
    }
    if (addr % align !== 0) throw new VirtioError(`${what} at ${hex(addr)} is not ${align}-byte aligned`);
  }
}

export function hex(n: number): string {
  return Number.isFinite(n) && n >= 0 ? `0x${Math.floor(n).toString(16)}` : String(n);
}

/** A 64-bit little-endian guest value as a number (rounds above 2^53: still far outside RAM). */
function addr64(mem: GuestMemory, gpa: number): number {
  return mem.u32(gpa) + mem.u32(gpa + 4) * 0x1_0000_0000;
}

/** The device side of one enabled split virtqueue. */
export class SplitVirtqueue {
  /** Next available-ring slot to consume (free-running mod 2^16). */
  lastAvail = 0;
  /** Next used-ring slot to fill (free-running mod 2^16); also the used idx the device published. */
  usedIdx = 0;

  constructor(
    private readonly mem: GuestMemory,
    readonly layout: QueueLayout,
    private readonly features: RingFeatures,
  ) {}

  /** True when the driver has made buffers available that the device has not consumed. */
  hasWork(): boolean {
    return this.mem.u16(this.layout.driver + 2) !== this.lastAvail;
  }

  /** Takes the next available chain, or null when there is none. Throws VirtioError/DmaError for a malformed one. */
  pop(): DescriptorChain | null {
    const { size, driver } = this.layout;
    const availIdx = this.mem.u16(driver + 2);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > size) {
      throw new VirtioError(`avail idx ${availIdx} is ${pending} entries ahead of ${this.lastAvail} (queue size ${size})`);
    }
    const head = this.mem.u16(driver + 4 + 2 * (this.lastAvail % size));
    const chain = this.walk(head);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return chain;
  }

  /** Returns a chain to the driver with `len` bytes written. */
  push(head: number, len: number): void {
    const { size, device } = this.layout;
    const slot = device + 4 + 8 * (this.usedIdx % size);
    this.mem.setU32(slot, head);
    this.mem.setU32(slot + 4, len >>> 0);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.mem.setU16(device + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants an interrupt for the used entries published
   * since `oldUsed`: VIRTQ_AVAIL_F_NO_INTERRUPT, or with VIRTIO_F_EVENT_IDX
   * the used_event index (spec 2.7.10).
   */
  needsInterrupt(oldUsed: number): boolean {
    const { size, driver } = this.layout;
    if (oldUsed === this.usedIdx) return false;
    if (this.features.eventIdx) {
      const event = this.mem.u16(driver + 4 + 2 * size);
      return ((this.usedIdx - event - 1) & 0xffff) < ((this.usedIdx - oldUsed) & 0xffff);
    }
    return (this.mem.u16(driver) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** With VIRTIO_F_EVENT_IDX: asks for a notification as soon as the driver adds past what the device consumed. */
  publishAvailEvent(): void {
    if (!this.features.eventIdx) return;
    const { size, device } = this.layout;
    this.mem.setU16(device + 4 + 8 * size, this.lastAvail);
  }

  /** Follows the chain at `head` (direct descriptors, then at most one indirect table). */
  private walk(head: number): DescriptorChain {
    const mem = this.mem;
    const readable: Segment[] = [];
    const writable: Segment[] = [];
    let table = this.layout.desc;
    let max = this.layout.size;
    let i = head;
    let count = 0;
    let segments = 0;
    let indirect = false;
    if (i >= max) throw new VirtioError(`descriptor index ${i} out of range (queue size ${max})`);
    for (;;) {
      if (++count > max) {
        throw new VirtioError(`descriptor chain at ${head} is longer than ${indirect ? 'its indirect table' : 'the queue'} (a loop?)`);
      }
      const d = table + DESC_SIZE * i;
      const addr = addr64(mem, d);
      const len = mem.u32(d + 8);
      const flags = mem.u16(d + 12);
      const next = mem.u16(d + 14);

      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.features.indirect) throw new VirtioError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (indirect) throw new VirtioError('indirect descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtioError('indirect descriptor with VIRTQ_DESC_F_NEXT');
        if (len === 0 || len % DESC_SIZE !== 0) throw new VirtioError(`indirect table length ${len} is not a multiple of ${DESC_SIZE}`);
        if (!mem.contains(addr, len)) throw new DmaError(addr, len, `indirect table at ${hex(addr)}+${len} is outside guest RAM`);
        table = addr;
        max = len / DESC_SIZE;
        i = 0;
        count = 0;
        indirect = true;
        continue;
      }

      if (++segments > MAX_CHAIN_SEGMENTS) throw new VirtioError(`descriptor chain at ${head} has more than ${MAX_CHAIN_SEGMENTS} buffers`);
      if (!mem.contains(addr, len)) throw new DmaError(addr, len, `buffer at ${hex(addr)}+${len} is outside guest RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        if (len > 0) writable.push({ addr, len });
      } else {
        if (writable.length > 0) throw new VirtioError(`descriptor chain at ${head}: device-readable buffer after a device-writable one`);
        if (len > 0) readable.push({ addr, len });
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      if (next >= max) throw new VirtioError(`descriptor next index ${next} out of range (${max} descriptors)`);
      i = next;
    }
    return new DescriptorChain(mem, head, readable, writable);
  }
}

/** The registers of one queue as the driver programs them (transport state), plus the live ring when enabled. */
export class QueueState {
  /** QueueNum (the size the driver chose). */
  num = 0;
  /** Modern: QueueReady. Legacy: QueuePFN != 0. */
  ready = false;
  /** QueueDescLow/High, QueueDriverLow/High, QueueDeviceLow/High as written. */
  readonly addr = new Uint32Array(6);
  /** Legacy QueuePFN and QueueAlign. */
  pfn = 0;
  align = 4096;
  /** The ring the device serves while the queue is enabled. */
  ring: SplitVirtqueue | null = null;

  constructor(readonly maxSize: number) {
    this.num = maxSize;
  }

  reset(): void {
    this.num = this.maxSize;
    this.ready = false;
    this.addr.fill(0);
    this.pfn = 0;
    this.align = 4096;
    this.ring = null;
  }

  /** Modern layout from QueueDesc/Driver/Device. */
  modernLayout(): QueueLayout {
    const a = this.addr;
    return {
      size: this.num,
      desc: a[0]! + a[1]! * 0x1_0000_0000,
      driver: a[2]! + a[3]! * 0x1_0000_0000,
      device: a[4]! + a[5]! * 0x1_0000_0000,
    };
  }

  save(): object {
    return {
      num: this.num,
      ready: this.ready,
      addr: Array.from(this.addr),
      pfn: this.pfn,
      align: this.align,
      lastAvail: this.ring?.lastAvail ?? 0,
      usedIdx: this.ring?.usedIdx ?? 0,
    };
  }

  /**
   * Parses a snapshot made by save(); returns a function that loads it into a
   * queue (so a bad snapshot throws DeviceStateError before anything changes)
   * and gives back the ring indices to resume from.
   */
  static parse(state: unknown, who: string): (q: QueueState) => { lastAvail: number; usedIdx: number } {
    if (typeof state !== 'object' || state === null) throw new DeviceStateError(`${who}: queue snapshot is not an object`);
    const num = uintField(state, 'num', who, MAX_QUEUE_SIZE);
    const ready = boolField(state, 'ready', who);
    const addr = uintArrayField(state, 'addr', who, 0xffff_ffff, 6);
    const pfn = uintField(state, 'pfn', who);
    const align = uintField(state, 'align', who);
    const lastAvail = uintField(state, 'lastAvail', who, 0xffff);
    const usedIdx = uintField(state, 'usedIdx', who, 0xffff);
    return (q) => {
      q.num = num;
      q.ready = ready;
      q.addr.set(addr);
      q.pfn = pfn;
      q.align = align;
      q.ring = null;
      return { lastAvail, usedIdx };
    };
  }
}
