// The VM exits of memory overcommit (docs/memory.md), serviced on the
// partition's host: a vCPU touched a swapped-out page, or its store needed
// a host frame the pool did not have. Each returns the partition's result
// when it cannot run on (this partition alone stops; the others run on).
import { MemoryExhaustedError, type MemoryPressure } from '../host/memory-pressure.ts';
import { SwapError, type Swap } from './swap.ts';
import type { RunResult } from './types.ts';
import type { VcpuView } from './vcpu-view.ts';

/**
 * The swap-in exit (kernel/mm/swap.ts): vCPU `i` touched a page that is
 * in the swap file; it is read back here, and the vCPU runs the same
 * instruction again when it next runs. A page that cannot come back (the
 * file cannot be read, no frame) stops the partition.
 */
export function serviceSwapIn(h: VcpuView, i: number, swap: Swap | undefined): RunResult | undefined {
  const gpa = h.takeSwapIn();
  if (gpa === undefined) return undefined;
  try {
    swap?.swapIn(gpa);
  } catch (e) {
    if (!(e instanceof SwapError)) throw e;
    return { kind: 'memory-exhausted', error: 'MemoryExhaustedError', message: `vCPU ${i}: ${e.message}` };
  }
  return undefined;
}

/**
 * The no-memory exit: vCPU `i`'s store needed a host frame and the pool
 * had none. Frames are reclaimed (page sharing, then what is registered
 * with the hypervisor's MemoryPressure: swap); with one free the vCPU runs
 * the store again, else the partition stops (MemoryExhaustedError in its result).
 */
export function serviceNoMemory(h: VcpuView, i: number, pressure: MemoryPressure): RunResult | undefined {
  const gpa = h.takeNoMemory();
  if (gpa === undefined) return undefined;
  if (pressure.reclaim(1) > 0) return undefined;
  const e = new MemoryExhaustedError(
    `out of host memory: vCPU ${i} wrote guest-physical 0x${gpa.toString(16)}, which needs a host frame, and none is free or could be reclaimed`,
  );
  return { kind: 'memory-exhausted', error: 'MemoryExhaustedError', message: e.message };
}
