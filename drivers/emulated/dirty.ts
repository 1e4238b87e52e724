// Host-side writes into guest RAM (device DMA, HTIF) in the partition's
// dirty log (kernel/mm/dirty.ts), so that live migration copies what a
// device wrote as it copies what a vCPU stored; and, logging or not, to the
// JIT tier, which drops translations of code a device overwrote (a
// virtio-blk read into a page of code), as it does for a vCPU's store
// (kernel/jit/code.ts). One choke point for every host-side write. The kernel's bitmap lives in
// host memory; bits are set with Atomics.or, as vCPUs on other threads set
// theirs, so none is lost against the host's fetch-and-clear (an atomic swap).

/** Marks guest RAM written by the host. `offset` is from the start of RAM. */
export interface DirtyMarker {
  mark(offset: number, length: number): void;
}

/** The partition descriptor fields the marker reads (kernel exports OFF_P_DIRTY_*). */
export interface DirtyLogPlace {
  /** Host address of the partition descriptor. */
  descriptor: number;
  /** Offsets in it: the bitmap's host address (u32) and the logging flag (u32). */
  bitmapOff: number;
  onOff: number;
}

/** Told of every host-side write (offset from the start of RAM), before the dirty log: kernel/jit/code.ts jitRangeWritten. */
export type CodeWritten = (offset: number, length: number) => void;

/** Marks pages in the kernel's live bitmap of one partition (a no-op while it is not logging). */
export class KernelDirtyLog implements DirtyMarker {
  private readonly words: Int32Array;

  constructor(
    buffer: ArrayBufferLike,
    private readonly place: DirtyLogPlace,
    private readonly codeWritten?: CodeWritten,
  ) {
    this.words = new Int32Array(buffer);
  }

  mark(offset: number, length: number): void {
    const { descriptor, bitmapOff, onOff } = this.place;
    if (length <= 0) return;
    this.codeWritten?.(offset, length);
    if (Atomics.load(this.words, (descriptor + onOff) >> 2) === 0) return;
    const bitmap = Atomics.load(this.words, (descriptor + bitmapOff) >> 2) >>> 0;
    for (let page = Math.floor(offset / 4096), last = Math.floor((offset + length - 1) / 4096); page <= last; page++) {
      Atomics.or(this.words, (bitmap >> 2) + (page >> 5), 1 << (page & 31));
    }
  }
}
