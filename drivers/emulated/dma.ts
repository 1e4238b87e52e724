// Device access to guest RAM (DMA). Device models that follow guest pointers
// (virtio rings and buffers) go through a GuestMemory, never through the RAM
// array directly: every address and length comes from the guest, so every
// access is bounds-checked and anything outside RAM raises a DmaError, which
// the device turns into its own error state (virtio: DEVICE_NEEDS_RESET).
//
// Addresses are guest-physical, as plain numbers. A 64-bit guest value above
// 2^53 rounds when converted to a number but stays far above any RAM, so the
// check still rejects it. Multi-byte values are little-endian (virtio 1.x and
// legacy virtio on RISC-V alike).
import type { DirtyMarker } from './dirty.ts';

/** A device access to guest-physical memory outside RAM (or with a nonsensical address or length). */
export class DmaError extends Error {
  constructor(
    readonly gpa: number,
    readonly length: number,
    message?: string,
  ) {
    super(message ?? `DMA outside guest RAM: ${describe(gpa)}+${length}`);
    this.name = 'DmaError';
  }
}

function describe(gpa: number): string {
  return Number.isFinite(gpa) && gpa >= 0 ? `0x${Math.floor(gpa).toString(16)}` : String(gpa);
}

export interface GuestMemory {
  /** First guest-physical address of RAM. */
  readonly base: number;
  /** Bytes of RAM. */
  readonly size: number;
  /** True when [gpa, gpa + len) lies inside RAM (len 0 included: gpa must still be in [base, base + size]). */
  contains(gpa: number, len: number): boolean;
  /** A copy of `len` bytes at `gpa`. */
  read(gpa: number, len: number): Uint8Array;
  /** A live view of `len` bytes at `gpa` (no copy; valid while RAM is). */
  view(gpa: number, len: number): Uint8Array;
  /** Copies `data` to `gpa`. */
  write(gpa: number, data: Uint8Array): void;
  u8(gpa: number): number;
  u16(gpa: number): number;
  u32(gpa: number): number;
  u64(gpa: number): bigint;
  setU8(gpa: number, value: number): void;
  setU16(gpa: number, value: number): void;
  setU32(gpa: number, value: number): void;
  setU64(gpa: number, value: bigint): void;
}

/**
 * GuestMemory over a Uint8Array holding guest RAM that starts at guest-physical
 * `base`. Every write goes through `dirty` (the partition's dirty log, for live
 * migration); view() is for reading.
 */
export class RamGuestMemory implements GuestMemory {
  readonly size: number;
  private readonly dv: DataView;

  constructor(
    private readonly ram: Uint8Array,
    readonly base: number,
    private readonly dirty?: DirtyMarker,
  ) {
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`bad RAM base ${base}`);
    this.size = ram.length;
    this.dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  contains(gpa: number, len: number): boolean {
    return (
      Number.isSafeInteger(gpa) &&
      Number.isSafeInteger(len) &&
      len >= 0 &&
      gpa >= this.base &&
      gpa - this.base <= this.size - len
    );
  }

  /** Offset into the RAM array of [gpa, gpa + len), or a DmaError. */
  private offset(gpa: number, len: number): number {
    if (!this.contains(gpa, len)) throw new DmaError(gpa, len);
    return gpa - this.base;
  }

  /** offset() for a write: the pages are marked dirty. */
  private writeOffset(gpa: number, len: number): number {
    const off = this.offset(gpa, len);
    this.dirty?.mark(off, len);
    return off;
  }

  read(gpa: number, len: number): Uint8Array {
    const off = this.offset(gpa, len);
    return this.ram.slice(off, off + len);
  }

  view(gpa: number, len: number): Uint8Array {
    const off = this.offset(gpa, len);
    return this.ram.subarray(off, off + len);
  }

  write(gpa: number, data: Uint8Array): void {
    this.ram.set(data, this.writeOffset(gpa, data.length));
  }

  u8(gpa: number): number {
    return this.ram[this.offset(gpa, 1)]!;
  }
  u16(gpa: number): number {
    return this.dv.getUint16(this.offset(gpa, 2), true);
  }
  u32(gpa: number): number {
    return this.dv.getUint32(this.offset(gpa, 4), true);
  }
  u64(gpa: number): bigint {
    return this.dv.getBigUint64(this.offset(gpa, 8), true);
  }
  setU8(gpa: number, value: number): void {
    this.ram[this.writeOffset(gpa, 1)] = value;
  }
  setU16(gpa: number, value: number): void {
    this.dv.setUint16(this.writeOffset(gpa, 2), value, true);
  }
  setU32(gpa: number, value: number): void {
    this.dv.setUint32(this.writeOffset(gpa, 4), value, true);
  }
  setU64(gpa: number, value: bigint): void {
    this.dv.setBigUint64(this.writeOffset(gpa, 8), value, true);
  }
}
