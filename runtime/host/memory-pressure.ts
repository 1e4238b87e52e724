// Memory pressure on a host whose partitions overcommit RAM (docs/memory.md):
// what the root does when the frame pool runs dry.
//
// An overcommit partition's RAM is demand-allocated: a page gets a host
// frame on its first write. When a vCPU's store finds the pool empty, the
// kernel abandons the instruction and the vCPU exits to the root with the
// no-memory exit (kernel/mm/gpa.ts NO_FRAME). The root calls reclaim():
// page sharing first (the scanner over every sharing partition at once, then
// the frames that waited for a grace period), then each reclaimer registered
// here, in order. If frames are free afterwards the vCPU runs the store
// again; if not, its partition alone stops with MemoryExhaustedError and the
// others run on.
//
// Hypervisor swap registers its eviction here (register()): it is asked
// only after sharing has given back what it could.
import { InputError } from '../errors.ts';
import type { KernelInstance } from './kernel.ts';

/**
 * A partition the host cannot admit: its fixed needs (tables, RAM that is
 * not overcommitted) do not fit in what the frame pool has left. An
 * InputError: the CLI prints it as one line.
 */
export class HostMemoryError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'HostMemoryError';
  }
}

/** A running partition needed a host frame and none could be reclaimed: it is stopped (RunResult 'memory-exhausted'). */
export class MemoryExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryExhaustedError';
  }
}

/**
 * Frees host frames for a vCPU that found none: asked for `framesNeeded`
 * (at least 1), it may free fewer or more. Returns how many it freed. Runs
 * on the thread that services exits (the root partition's, or the
 * deterministic host's), while the vCPU that exited waits.
 */
export type Reclaimer = (framesNeeded: number) => number;

export class MemoryPressure {
  private readonly reclaimers: Reclaimer[] = [];

  constructor(private readonly kernel: KernelInstance) {}

  /**
   * Adds a way to free frames, asked after page sharing (hypervisor swap
   * registers its eviction here). Returns the function that removes it.
   */
  register(reclaimer: Reclaimer): () => void {
    this.reclaimers.push(reclaimer);
    return () => {
      const i = this.reclaimers.indexOf(reclaimer);
      if (i >= 0) this.reclaimers.splice(i, 1);
    };
  }

  /** Frames of the pool not handed out. */
  available(): number {
    return this.kernel.exports.framesAvailable();
  }

  /**
   * Tries to make `framesNeeded` frames free: page sharing over everything,
   * then the registered reclaimers until enough are. Returns the frames
   * free afterwards (0: nothing could be reclaimed).
   */
  reclaim(framesNeeded = 1): number {
    const k = this.kernel.exports;
    const pages = k.sharePages();
    if (pages > 0) {
      k.shareScan(pages);
      k.shareReclaim();
    }
    for (const r of this.reclaimers) {
      const short = framesNeeded - this.available();
      if (short <= 0) break;
      r(short);
    }
    return this.available();
  }
}
