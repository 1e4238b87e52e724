// A partition's share of memory overcommit (kernel/mm/share.ts,
// docs/memory.md): page sharing with its salt group and ballooning, the
// host's page-by-page view of its RAM, and its memory map in figures.
//
// Only nested and shadow partitions can have it: they reach RAM through a
// per-page guest-physical -> host map the kernel can change one page at a
// time. A direct partition's RAM is one run behind a range check.
import type { IrqLine } from '../../drivers/emulated/device.ts';
import { PagedGuestMemory } from '../../drivers/emulated/guest-pages.ts';
import { virtioBalloonFactory, type VirtioBalloon } from '../../drivers/emulated/virtio/balloon.ts';
import type { VirtioMmio } from '../../drivers/emulated/virtio/mmio.ts';
import type { KernelInstance } from '../host/kernel.ts';
import type { GpadlPinning } from '../../drivers/vmbus/host.ts';
import type { DynamicMemoryDevice } from '../../drivers/vmbus/dm.ts';
import { Swap, SwapError, SwapFile, SWAP_HOST, type SwapConfig, type SwapCounters } from './swap.ts';
import { HostMemoryError } from '../host/memory-pressure.ts';

export interface OvercommitConfig {
  /**
   * Which partitions may share frames with this one: undefined (or 0) none
   * but itself (ESX's default since 2014); a salt 1..0x7fffffff: every
   * partition with the same salt.
   */
  salt?: number;
  /** A virtio-balloon device (the next virtio-mmio slot after the disks) the host can set a target for. */
  balloon?: boolean;
  /** With balloon: RAM the guest should keep from the start (bytes; default all of it). */
  balloonTarget?: number;
  /**
   * Hyper-V Dynamic Memory (drivers/vmbus/dm.ts) instead of virtio-balloon:
   * the balloon is the enlightened guest's, on VMBus. The device is made by
   * whoever builds the partition's VMBus devices and joined with attachDynamicMemory.
   */
  dynamicMemory?: boolean;
  /** Hypervisor swap to a file of the partition's own (runtime/machine/swap.ts). */
  swap?: SwapConfig;
}

/** Where a partition's balloon is: what the host asked, what the guest gave. */
export interface BalloonStatus {
  /** RAM the host wants the guest to keep (its size minus the balloon's target). */
  targetBytes: number;
  /** RAM the guest keeps now (its size minus what its driver says the balloon holds). */
  actualBytes: number;
  /** The guest's last statistics (virtio-balloon stats queue), by name. */
  guestStats: Readonly<Record<string, number>>;
}

export type PagingMode = 'direct' | 'nested' | 'shadow';

/** Overcommit asked of a partition that cannot have it. */
export class OvercommitError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OvercommitError';
  }
}

/** A partition's pages by where they live (the playground draws these). */
export interface PartitionMemoryMap {
  /** Pages in frames of their own. */
  private: number;
  /** Pages mapped to a frame other pages share (copy-on-write). */
  shared: number;
  /** Pages mapped to the zero frame. */
  zero: number;
  /** Pages the guest gave to its balloon (no frame). */
  ballooned: number;
  /** Pages of demand-allocated RAM that never had a frame (they read as zeros). */
  unpopulated: number;
  /** Pages in the partition's swap file (no frame). */
  swapped: number;
  /** Copy-on-write breaks of this partition's pages. */
  cowBreaks: number;
  /** Of the private pages: those pinned for the host (VMBus GPADLs; never shared, ballooned or swapped). */
  pinned: number;
}

export const MAX_SALT = 0x7fff_ffff;

/** Free host frames the swap driver keeps by default (1 MiB): room for device DMA and copy-on-write breaks between its turns. */
const DEFAULT_LOW_WATERMARK = 256;

/** partitionPinPage's refusals (kernel/mm/pin.ts PIN_*), as a GPADL refusal says them. */
const PIN_REFUSALS: Record<number, string> = {
  1: "is not the partition's RAM",
  2: 'is not present (ballooned)',
  3: 'is in another GPADL already (pinned)',
};

/**
 * Host bytes page sharing needs for a frame pool of `poolBytes` (once per
 * host, kernel/mm/share.ts shareInit): 8 bytes of metadata per frame, a
 * hash table of at most half a 16-byte slot per frame (a power of two), and
 * fixed tables (partition records, frames waiting for a grace period, the
 * zero frame).
 */
export function overcommitOverhead(poolBytes: number): number {
  const frames = Math.ceil(poolBytes / 4096);
  return Math.ceil((frames * 16) / 4096) * 4096 + 0x1_4000 + 2 * 4096;
}

export class Overcommit {
  /** Guest RAM for the host's devices and loaders, page by page through the kernel's map. */
  readonly pages: PagedGuestMemory;
  private released = false;
  private readonly salt: number;
  private balloonDevice: { device: VirtioBalloon; transport: VirtioMmio } | undefined;
  private dynamicMemory: DynamicMemoryDevice | undefined;
  /** Hypervisor swap, with OvercommitConfig.swap. */
  readonly swap: Swap | undefined;
  /** Free host frames below which the eviction driver (balance()) swaps pages out, and up to which it does. */
  private readonly lowFrames: number;
  private readonly highFrames: number;

  /** Overcommit for partition `id`, checked (OvercommitError); enable() once its paging is set up. */
  constructor(
    private readonly kernel: KernelInstance,
    memory: WebAssembly.Memory,
    readonly id: number,
    readonly ramBase: number,
    readonly ramSize: number,
    paging: PagingMode,
    private readonly config: OvercommitConfig,
  ) {
    const salt = config.salt ?? 0;
    if (!Number.isInteger(salt) || salt < 0 || salt > MAX_SALT) {
      throw new OvercommitError(`salt must be an integer 1..${MAX_SALT} (or 0: share within the partition only), got ${salt}`);
    }
    if (paging === 'direct') {
      throw new OvercommitError(
        'memory overcommit (page sharing, ballooning) needs nested or shadow paging: direct paging maps RAM as one host run, with no per-page map to change',
      );
    }
    this.salt = salt;
    const k = kernel.exports;
    // No process in a browser's Web Worker (the playground): its file store is the root thread's own.
    const swapName = `hv-swap-${typeof process === 'undefined' ? 'web' : process.pid}-${id}-${Date.now().toString(36)}.swp`;
    const maxSlots = config.swap?.maxBytes === undefined ? Infinity : Math.floor(config.swap.maxBytes / 4096);
    this.swap = config.swap ? new Swap(kernel, memory, id, new SwapFile(config.swap.dir, swapName, maxSlots)) : undefined;
    this.lowFrames = config.swap?.lowWatermark ?? DEFAULT_LOW_WATERMARK;
    this.highFrames = 2 * this.lowFrames;
    const translate = (gpa: number, write: boolean) =>
      Number(write ? k.partitionHostWrite(id, BigInt(gpa)) : k.partitionHostRead(id, BigInt(gpa)));
    // A page that is swapped out (SWAP_HOST, kernel/mm/swap.ts) is read back
    // first, here on the root's thread: a host read never sees zeros for it.
    this.pages = new PagedGuestMemory(memory, ramBase, ramSize, (gpa, write) => {
      const host = translate(gpa, write);
      return host === SWAP_HOST && this.swap?.swapIn(gpa) ? translate(gpa, write) : host;
    });
  }

  /** Switches the partition's RAM to the per-page map (before its vCPUs run); throws OvercommitError when the pool cannot hold the tables. */
  enable(): void {
    if (!this.kernel.exports.partitionEnableOvercommit(this.id, this.salt)) {
      throw new HostMemoryError('host memory exhausted: no frames left for the page-sharing tables');
    }
    // The driver looks at the target when it starts (Linux's virtballoon_probe).
    if (this.config.balloonTarget !== undefined && this.config.balloon) this.setBalloonTarget(this.config.balloonTarget);
  }

  /** The balloon's virtio-mmio device for the board, if configured (none or one). */
  balloonDevices(): ((irq: IrqLine) => VirtioMmio)[] {
    if (!this.config.balloon) return [];
    return [virtioBalloonFactory(
      this.pages,
      { inflate: (gpa) => this.balloonPage(gpa), reclaim: () => void this.reclaim() },
      (device, transport) => (this.balloonDevice = { device, transport }),
    )];
  }

  /**
   * The partition's Dynamic Memory device (overcommit.dynamicMemory): pages
   * its guest gives leave RAM here, and setBalloonTarget drives it.
   */
  attachDynamicMemory(dm: DynamicMemoryDevice): void {
    dm.bind({ ramBase: this.ramBase, ramPages: this.ramSize / 4096, inflate: (gpa) => this.balloonPage(gpa), reclaim: () => void this.reclaim() });
    this.dynamicMemory = dm;
    if (this.config.balloonTarget !== undefined) this.setBalloonTarget(this.config.balloonTarget);
  }

  /**
   * Asks the guest to keep `bytes` of its RAM (QEMU's `balloon` command):
   * its driver (virtio-balloon, or Dynamic Memory's) inflates or deflates
   * toward it. Throws OvercommitError without a balloon device or for a
   * size outside 0..RAM.
   */
  setBalloonTarget(bytes: number): void {
    const b = this.balloonDevice;
    const dm = this.dynamicMemory;
    if (!b && !dm) throw new OvercommitError('this partition has no balloon device (overcommit.balloon or overcommit.dynamicMemory)');
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > this.ramSize) {
      throw new OvercommitError(`balloon target ${bytes} bytes is outside 0..${this.ramSize} (the partition's RAM)`);
    }
    const pages = Math.floor((this.ramSize - bytes) / 4096);
    if (dm) return dm.setTarget(pages);
    b!.device.setTarget(pages);
    b!.transport.configChanged();
  }

  /** The balloon's target and position, or undefined without a balloon device. */
  balloonStatus(): BalloonStatus | undefined {
    const dm = this.dynamicMemory;
    if (dm) {
      // DM_STATUS_REPORT in the names virtio-balloon's statistics use (bytes).
      const s = dm.status;
      return {
        targetBytes: this.ramSize - dm.target * 4096,
        actualBytes: this.ramSize - dm.ballooned * 4096,
        guestStats: s ? { availableMemory: s.numAvail * 4096, committedMemory: s.numCommitted * 4096 } : {},
      };
    }
    const b = this.balloonDevice;
    if (!b) return undefined;
    b.device.requestStats(); // the answer comes with the driver's next buffer
    return {
      targetBytes: this.ramSize - b.device.target * 4096,
      actualBytes: this.ramSize - b.device.actual * 4096,
      guestStats: b.device.guestStats,
    };
  }

  /** Everything --stats and the playground show about this partition's memory. */
  stats(): OvercommitStats {
    const balloon = this.balloonStatus();
    return { pages: this.map(), host: sharingCounters(this.kernel), ...(balloon ? { balloon } : {}), ...(this.swap ? { swap: this.swap.stats() } : {}) };
  }

  /** A copy of the whole RAM as the guest sees it (a save file's memory section). */
  snapshot(): Uint8Array {
    if (!this.swap) return this.pages.read(this.ramBase, this.ramSize);
    // Swapped pages come from the file as they are: a save takes no frames.
    const out = new Uint8Array(this.ramSize);
    for (let off = 0; off < this.ramSize; off += 4096) {
      out.set(this.swap.peek(this.ramBase + off) ?? this.pages.read(this.ramBase + off, 4096), off);
    }
    return out;
  }

  /** The guest's pages by where they live. */
  map(): PartitionMemoryMap {
    const k = this.kernel.exports;
    const shared = k.partitionMemPages(this.id, 0);
    const zero = k.partitionMemPages(this.id, 1);
    const ballooned = k.partitionMemPages(this.id, 2);
    const unpopulated = k.partitionMemPages(this.id, 5);
    const swapped = this.swap?.stats().swapped ?? 0;
    return {
      private: this.ramSize / 4096 - shared - zero - ballooned - unpopulated - swapped,
      unpopulated,
      swapped,
      shared,
      zero,
      ballooned,
      cowBreaks: k.partitionMemPages(this.id, 3),
      pinned: k.partitionMemPages(this.id, 4),
    };
  }

  /**
   * Takes guest page `gpa` out of RAM (balloon inflation); its frame returns
   * to the pool at the next reclaim(). False if it is not RAM or is already out.
   */
  balloonPage(gpa: number): boolean {
    if (this.swap?.discard(gpa)) return true; // swapped out: its slot is free, nothing to read
    return this.kernel.exports.partitionBalloonPage(this.id, BigInt(gpa)) !== 0;
  }

  /**
   * Evicts up to `pages` private pages to the swap file, least recently
   * used first; returns how many went out. The lab's knob (and the bench's).
   * Throws OvercommitError without swap, SwapError when the file cannot be
   * written (those pages stay in RAM).
   */
  swapOut(pages: number): number {
    if (!this.swap) throw new OvercommitError('this partition has no swap file (overcommit.swap)');
    return this.swap.swapOut(pages);
  }

  /**
   * The eviction driver (kswapd's part): when the host's free frames are
   * below the low watermark, swaps pages out until they reach twice it;
   * asked for `framesNeeded` (a vCPU found none: the host's MemoryPressure),
   * at least that many. Runs on the root's thread between exits; returns
   * the pages evicted. A file that cannot be written evicts nothing more
   * (counted in the swap figures): the pages stay and the guest runs on.
   */
  balance(framesNeeded = 0): number {
    if (!this.swap) return 0;
    const free = this.kernel.exports.framesAvailable();
    const want = Math.max(framesNeeded, free < this.lowFrames ? this.highFrames - free : 0);
    if (want <= 0) return 0;
    try {
      // The driver's turns: one turn of the clock, so a page a vCPU has
      // just had swapped back in (A set) runs before it can go again and a
      // thrashing guest still makes progress. A vCPU waiting for a frame
      // (framesNeeded): two, as many as it takes.
      return this.swap.swapOut(want, framesNeeded > 0 ? 2 : 1);
    } catch (e) {
      if (e instanceof SwapError) return 0;
      throw e;
    }
  }

  /**
   * VMBus GPADLs (drivers/vmbus/host.ts): a GPADL's pages move into one
   * fresh host-contiguous run and are pinned there (kernel/mm/pin.ts), so
   * its rings are one host run and no page of it is shared, ballooned or
   * swapped while the host may touch it.
   */
  gpadlPinning(): GpadlPinning {
    const k = this.kernel.exports;
    return {
      hostOf: (gpa) => {
        const host = Number(k.partitionHostPeek(this.id, BigInt(gpa)));
        return host < 0 ? undefined : host;
      },
      pin: (gpas) => {
        const run = k.framesAllocContiguous(gpas.length, 4096);
        if (!run) return `no run of ${gpas.length} free host frames to pin its pages into`;
        for (let i = 0; i < gpas.length; i++) {
          this.swap?.swapIn(gpas[i]!); // a pinned page must be present
          const r = k.partitionPinPage(this.id, BigInt(gpas[i]!), run + i * 4096);
          if (r === 0) continue;
          // Pages already moved keep their new frames (unpinned); the rest of the run goes back.
          for (let j = 0; j < i; j++) k.partitionUnpinPage(this.id, BigInt(gpas[j]!));
          k.framesFree(run + i * 4096, gpas.length - i);
          return `page 0x${gpas[i]!.toString(16)} ${PIN_REFUSALS[r] ?? `cannot be pinned (${r})`}`;
        }
        k.shareReclaim(); // the pages' old frames, after a grace period
        return undefined;
      },
      unpin: (gpas) => {
        for (const gpa of gpas) k.partitionUnpinPage(this.id, BigInt(gpa));
      },
    };
  }

  /** Frees frames whose last mapping went, once no vCPU can be using them; returns how many. */
  reclaim(): number {
    return this.kernel.exports.shareReclaim();
  }

  /** The partition is gone (no vCPU can run): its frames return to the pool, page by page. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.kernel.exports.shareRelease(this.id);
    this.kernel.exports.shareReclaim();
    this.swap?.release(); // its file is removed
  }
}

export interface OvercommitStats {
  pages: PartitionMemoryMap;
  host: SharingCounters;
  balloon?: BalloonStatus;
  swap?: SwapCounters;
}

/** The host-wide page-sharing counters, as KSM's /sys/kernel/mm/ksm. */
export interface SharingCounters {
  /** Shared frames in use (not the zero frame). */
  pagesShared: number;
  /** Guest pages mapped to them. */
  pagesSharing: number;
  /** Guest pages mapped to the zero frame. */
  zeroPages: number;
  /** Pages the last full scan found unique. */
  pagesUnshared: number;
  fullScans: number;
  pagesScanned: number;
  merges: number;
  cowBreaks: number;
  /** Frames waiting for a grace period before they are free. */
  pendingFree: number;
  /** Bytes of host memory sharing saves: (sharing - shared + zero) pages. */
  bytesSaved: number;
}

export function sharingCounters(kernel: KernelInstance): SharingCounters {
  const c = (i: number) => Number(kernel.exports.shareCounter(i));
  const pagesShared = c(0), pagesSharing = c(1), zeroPages = c(2);
  return {
    pagesShared, pagesSharing, zeroPages, pagesUnshared: c(3), fullScans: c(4), pagesScanned: c(5), merges: c(6), cowBreaks: c(7),
    pendingFree: c(8), bytesSaved: (pagesSharing - pagesShared + zeroPages) * 4096,
  };
}
