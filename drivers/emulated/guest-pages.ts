// Guest RAM reached page by page through the kernel's guest-physical map,
// for partitions whose pages may move (page sharing, ballooning:
// kernel/mm/share.ts). Every write asks the kernel's store choke point for
// the page's host address, which breaks copy-on-write sharing (the page
// gets a private copy), gives a ballooned page a fresh frame and marks the
// dirty log; reads take the page's current frame (a ballooned page reads
// as zeros). So a device's DMA can never write into a frame other
// partitions share.
//
// Addresses and errors as RamGuestMemory (dma.ts): anything outside RAM is
// a DmaError. A host address stays valid only until the partition's next
// instruction or scanner slice: callers copy, and view() returns a copy
// when the range crosses pages (there is no contiguous run to view).
import { DmaError, type GuestMemory } from './dma.ts';

const PAGE = 4096;

/** The kernel's per-page translation: host address of `gpa` for a read or a write, -1 when there is none. */
export type PageTranslate = (gpa: number, write: boolean) => number;

/** What the translation gives a write to a page that needed a host frame when the pool had none (kernel/mm/gpa.ts NO_FRAME). */
export const NO_FRAME = -3;

export class PagedGuestMemory implements GuestMemory {
  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly base: number,
    readonly size: number,
    private readonly translate: PageTranslate,
  ) {}

  /**
   * Asked when a write found no free host frame: true if frames were
   * reclaimed (the write is tried once more). Set by the host where
   * reclaiming is safe (runtime/host/memory-pressure.ts); unset, such a
   * write is a DmaError.
   */
  reclaim: (() => boolean) | undefined;

  contains(gpa: number, len: number): boolean {
    return (
      Number.isSafeInteger(gpa) && Number.isSafeInteger(len) && len >= 0 && gpa >= this.base && gpa - this.base <= this.size - len
    );
  }

  private host(gpa: number, write: boolean): number {
    let h = this.translate(gpa, write);
    if (h === NO_FRAME && this.reclaim?.()) h = this.translate(gpa, write);
    if (h < 0) throw new DmaError(gpa, 1, write ? `no host frame for a write to 0x${gpa.toString(16)}` : undefined);
    return h;
  }

  /** Calls `fn(host, done, n)` for each page-bounded piece of [gpa, gpa + len). */
  private pieces(gpa: number, len: number, write: boolean, fn: (bytes: Uint8Array, done: number) => void): void {
    if (!this.contains(gpa, len)) throw new DmaError(gpa, len);
    const heap = new Uint8Array(this.memory.buffer);
    for (let done = 0; done < len; ) {
      const at = gpa + done;
      const n = Math.min(len - done, PAGE - (at % PAGE));
      const h = this.host(at, write);
      fn(heap.subarray(h, h + n), done);
      done += n;
    }
  }

  read(gpa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.pieces(gpa, len, false, (bytes, done) => out.set(bytes, done));
    return out;
  }

  view(gpa: number, len: number): Uint8Array {
    if (!this.contains(gpa, len)) throw new DmaError(gpa, len);
    if (len > 0 && Math.floor(gpa / PAGE) === Math.floor((gpa + len - 1) / PAGE)) {
      const h = this.host(gpa, false);
      return new Uint8Array(this.memory.buffer, h, len);
    }
    return this.read(gpa, len);
  }

  write(gpa: number, data: Uint8Array): void {
    this.pieces(gpa, data.length, true, (bytes, done) => bytes.set(data.subarray(done, done + bytes.length)));
  }

  /**
   * Fills [gpa, gpa + len) with zeros (a loader's .bss). A piece that reads
   * as zeros already is left alone: on demand-allocated RAM a write would
   * give a page that has no frame (unpopulated, or the zero frame's) a frame
   * of its own only to hold zeros; vmbus-dm's 8 MiB .bss took 9 MiB of a
   * capped host before the guest ran.
   */
  zero(gpa: number, len: number): void {
    if (!this.contains(gpa, len)) throw new DmaError(gpa, len);
    for (let done = 0; done < len; ) {
      const at = gpa + done;
      const n = Math.min(len - done, PAGE - (at % PAGE));
      const r = this.host(at, false);
      if (new Uint8Array(this.memory.buffer, r, n).some((b) => b !== 0)) {
        const h = this.host(at, true);
        new Uint8Array(this.memory.buffer, h, n).fill(0);
      }
      done += n;
    }
  }

  /**
   * A DataView and offset for the `n`-byte scalar at `gpa`: host memory when
   * it lies in one page (always, for aligned scalars), else a copy that
   * commit() writes back.
   */
  private scalar(gpa: number, n: number, write: boolean): [DataView, number] {
    if (!this.contains(gpa, n)) throw new DmaError(gpa, n);
    if ((gpa % PAGE) + n > PAGE) return [new DataView(this.read(gpa, n).buffer), 0];
    if (this.dvCache?.buffer !== this.memory.buffer) this.dvCache = new DataView(this.memory.buffer);
    return [this.dvCache, this.host(gpa, write)];
  }

  /** After a set through scalar(): a copy (a page-crossing scalar) goes to guest memory. */
  private commit(gpa: number, dv: DataView): void {
    if (dv !== this.dvCache) this.write(gpa, new Uint8Array(dv.buffer));
  }
  private dvCache: DataView | undefined;

  u8(gpa: number): number {
    const [dv, h] = this.scalar(gpa, 1, false);
    return dv.getUint8(h);
  }
  u16(gpa: number): number {
    const [dv, h] = this.scalar(gpa, 2, false);
    return dv.getUint16(h, true);
  }
  u32(gpa: number): number {
    const [dv, h] = this.scalar(gpa, 4, false);
    return dv.getUint32(h, true);
  }
  u64(gpa: number): bigint {
    const [dv, h] = this.scalar(gpa, 8, false);
    return dv.getBigUint64(h, true);
  }
  setU8(gpa: number, value: number): void {
    const [dv, h] = this.scalar(gpa, 1, true);
    dv.setUint8(h, value);
    this.commit(gpa, dv);
  }
  setU16(gpa: number, value: number): void {
    const [dv, h] = this.scalar(gpa, 2, true);
    dv.setUint16(h, value, true);
    this.commit(gpa, dv);
  }
  setU32(gpa: number, value: number): void {
    const [dv, h] = this.scalar(gpa, 4, true);
    dv.setUint32(h, value, true);
    this.commit(gpa, dv);
  }
  setU64(gpa: number, value: bigint): void {
    const [dv, h] = this.scalar(gpa, 8, true);
    dv.setBigUint64(h, value, true);
    this.commit(gpa, dv);
  }
}
