// Hypervisor swap, the root's half (kernel/mm/swap.ts has the kernel's;
// docs/memory.md): a partition's swap file, eviction in batches, swap-in.
//
// Everything here runs on the thread that services the partition's exits
// (the root partition's on a threaded host, the only one on a
// deterministic host), between kernel calls: the file I/O is synchronous,
// so no vCPU exit, device DMA or scanner slice of this thread can come
// between a page's eviction and its commit. vCPUs on other threads meet
// an evicting or swapped page in the kernel and exit here.
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import type { KernelInstance } from '../host/kernel.ts';

const PAGE = 4096;
/** Victims per kernel call: the eviction list is one frame (next hand, count, then page and frame per victim). */
const BATCH_MAX = (PAGE - 8) / 8;

/**
 * A swap file that cannot be created, written or read, or a page that
 * cannot come back. An InputError (the directory given, the disk under
 * it): the CLI prints it as one line.
 */
export class SwapError extends InputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SwapError';
  }
}

export interface SwapConfig {
  /** Directory the partition's swap file is created in (removed when the partition ends). */
  dir: string;
  /**
   * Free host frames below which the root swaps this partition's pages out
   * (up to twice as many free), as kswapd keeps its watermarks (default
   * 256, 1 MiB). 0: only when asked (Overcommit.swapOut) or when a vCPU
   * finds no frame (the host's MemoryPressure).
   */
  lowWatermark?: number;
  /** The most the file may hold (bytes, whole pages; default: no limit but the disk's). */
  maxBytes?: number;
}

/** What the kernel's host translations return for a page that is swapped out (kernel/mm/swap.ts SWAP_HOST). */
export const SWAP_HOST = -2;

/** A partition's swap figures. */
export interface SwapCounters {
  /** Pages in the swap file now. */
  swapped: number;
  /** Pages written out and read back since the partition started. */
  swappedOut: number;
  swappedIn: number;
  /** Slots the file has (its size / 4 KiB): the most pages ever out at once. */
  fileSlots: number;
  /** Swap-ins, their total and worst time (read + map, host time, ns). */
  swapInNsTotal: number;
  swapInNsMax: number;
  /** Evictions given up because the file could not take the page (a write error, or full): the pages stayed. */
  writeErrors: number;
}

/**
 * Slots of 4 KiB in a file of its own; freed slots are reused before the
 * file grows. The file is removed from its directory as soon as it is
 * open (as tmpfile(3) does): its space goes back when the partition ends,
 * or when the process does, however it ends.
 */
export class SwapFile {
  readonly path: string;
  private fd: number | undefined;
  private readonly freeSlots: number[] = [];
  /** Slots the file has. */
  size = 0;

  constructor(
    dir: string,
    name: string,
    /** Slots the file may have at most. */
    private readonly maxSlots = Infinity,
  ) {
    this.path = join(dir, name);
    try {
      this.fd = openSync(this.path, 'wx+', 0o600); // never someone else's file
    } catch (e) {
      throw new SwapError(`cannot create the swap file '${this.path}': ${(e as Error).message}`, { cause: e });
    }
    unlinkSync(this.path);
  }

  /** A free slot; SwapError when the file is full. */
  alloc(): number {
    const slot = this.freeSlots.pop();
    if (slot !== undefined) return slot;
    if (this.size >= this.maxSlots) throw new SwapError(`the swap file '${this.path}' is full (${this.maxSlots} pages)`);
    return this.size++;
  }

  free(slot: number): void {
    this.freeSlots.push(slot);
  }

  write(slot: number, bytes: Uint8Array): void {
    let done = 0;
    try {
      while (done < PAGE) done += writeSync(this.open(), bytes, done, PAGE - done, slot * PAGE + done);
    } catch (e) {
      throw new SwapError(`writing slot ${slot} of '${this.path}' failed: ${(e as Error).message}`, { cause: e });
    }
  }

  read(slot: number, into: Uint8Array): void {
    let done = 0;
    try {
      while (done < PAGE) {
        const n = readSync(this.open(), into, done, PAGE - done, slot * PAGE + done);
        if (n === 0) throw new Error('the file ends before the slot');
        done += n;
      }
    } catch (e) {
      throw new SwapError(`reading slot ${slot} of '${this.path}' failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Closes the file: its pages are gone with the partition, and so is its space. */
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd === undefined) throw new Error('the swap file is closed');
    return this.fd;
  }
}

/** Hypervisor swap for one overcommit partition. */
export class Swap {
  private hand = 0;
  /** The kernel's eviction list: one frame of the pool, the partition's for its life. */
  private readonly list: number;
  private readonly counters: SwapCounters = {
    swapped: 0, swappedOut: 0, swappedIn: 0, fileSlots: 0, swapInNsTotal: 0, swapInNsMax: 0, writeErrors: 0,
  };

  constructor(
    private readonly kernel: KernelInstance,
    private readonly memory: WebAssembly.Memory,
    readonly id: number,
    readonly file: SwapFile,
  ) {
    this.list = kernel.exports.frameAlloc();
    if (!this.list) {
      file.close();
      throw new SwapError('out of host frames for the swap eviction list');
    }
  }

  private frame(host: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, host, PAGE);
  }

  /**
   * Evicts up to `pages` of the partition's private pages, least recently
   * used first (clock over the G-stage A bits), in at most `laps` turns of
   * the hand: the first turn over a page used since the last one only
   * clears its A bit. Returns how many went out. A write that fails leaves
   * that page and the rest of its batch in RAM and throws SwapError; what
   * went out before stays out.
   */
  swapOut(pages: number, laps = 2): number {
    const k = this.kernel.exports;
    const dv = new DataView(this.memory.buffer, this.list, PAGE);
    let out = 0;
    while (out < pages) {
      const max = Math.min(BATCH_MAX, pages - out);
      const n = k.swapEvictBegin(this.id, this.hand, max, this.list);
      this.hand = dv.getUint32(0, true);
      for (let i = 0; i < n; i++) {
        const page = dv.getUint32(8 + i * 8, true);
        const frame = dv.getUint32(12 + i * 8, true);
        let slot = -1;
        try {
          slot = this.file.alloc();
          this.file.write(slot, this.frame(frame));
        } catch (e) {
          if (slot >= 0) this.file.free(slot);
          this.counters.writeErrors++;
          // This page and the rest of the batch stay where they are.
          for (let j = i; j < n; j++) k.swapEvictAbort(this.id, dv.getUint32(8 + j * 8, true), dv.getUint32(12 + j * 8, true));
          throw e;
        }
        if (k.swapEvictCommit(this.id, page, frame, BigInt(slot))) {
          out++;
          this.counters.swapped++;
          this.counters.swappedOut++;
        } else {
          this.file.free(slot);
        }
      }
      // A short batch: the hand went round once (the kernel goes a lap per
      // call at most).
      if (n < max && --laps <= 0) break;
    }
    this.counters.fileSlots = this.file.size;
    return out;
  }

  /**
   * Reads page `gpa` back if it is swapped out (a vCPU's swap-in exit, or a
   * host access); true if it did. A frame comes from the pool, or from
   * evicting another page of the partition when the pool is empty.
   */
  swapIn(gpa: number): boolean {
    const k = this.kernel.exports;
    const page = BigInt(gpa - (gpa % PAGE));
    const slot = Number(k.swapSlotOf(this.id, page));
    if (slot === -1) return false;
    if (slot < 0) throw new SwapError(`page 0x${gpa.toString(16)} is being evicted outside an eviction`); // a broken invariant: eviction is synchronous here
    const t0 = performance.now(); // not process.hrtime: this runs in the playground's Web Workers too
    let frame = k.frameAlloc();
    if (!frame && this.swapOut(1, 1) > 0) {
      k.shareReclaim();
      frame = k.frameAlloc();
    }
    if (!frame) throw new SwapError(`no host frame to swap page 0x${gpa.toString(16)} of partition ${this.id} back in`);
    this.file.read(slot, this.frame(frame));
    if (!k.swapInInstall(this.id, page, BigInt(slot), frame)) return false; // the kernel took the frame back
    this.file.free(slot);
    const ns = Math.round((performance.now() - t0) * 1e6);
    const c = this.counters;
    c.swapped--;
    c.swappedIn++;
    c.swapInNsTotal += ns;
    if (ns > c.swapInNsMax) c.swapInNsMax = ns;
    return true;
  }

  /** Swapped page `gpa` goes to the balloon unread: its slot is free. False if it was not swapped. */
  discard(gpa: number): boolean {
    const slot = Number(this.kernel.exports.swapDiscard(this.id, BigInt(gpa - (gpa % PAGE))));
    if (slot < 0) return false;
    this.file.free(slot);
    this.counters.swapped--;
    return true;
  }

  /** The bytes of page `gpa` if it is swapped out (read from the file, not swapped in), else undefined. */
  peek(gpa: number): Uint8Array | undefined {
    const slot = Number(this.kernel.exports.swapSlotOf(this.id, BigInt(gpa - (gpa % PAGE))));
    if (slot < 0) return undefined;
    const bytes = new Uint8Array(PAGE);
    this.file.read(slot, bytes);
    return bytes;
  }

  stats(): SwapCounters {
    return { ...this.counters, fileSlots: this.file.size };
  }

  /** The partition is gone: the file goes, and the list's frame back to the pool. */
  release(): void {
    this.file.close();
    this.kernel.exports.frameFree(this.list);
  }
}
