// The host's calls for VMBus: exported through kernel/index.ts.
import { framesAllocContiguous, framesFreeRun } from '../mm/frames';
import { partitionAddr, P_VMBUS } from '../mm/partition';
import { HE_EXIT_ON_SIGNAL, HE_FLAGS } from './synic-defs';

export { synicDeliver, synicSignal } from './synic';

/**
 * Gives partition `id` a host event area (one page from the frame pool,
 * synic-defs.ts HE_*), where its vCPUs' signal-event calls land; with
 * `exitOnSignal` each such call also exits to the host (hosts that service
 * channels on the vCPU's own thread). Returns the area's host address, or 0
 * when the pool is exhausted. A second call returns the same area.
 */
export function partitionEnableVmbus(id: u32, exitOnSignal: bool): usize {
  const p = partitionAddr(id);
  let area = <usize>load<u32>(p, P_VMBUS);
  if (!area) {
    area = framesAllocContiguous(1, 4096); // zeroed
    if (!area) return 0;
    store<u32>(p, <u32>area, P_VMBUS);
  }
  atomic.store<u32>(area + HE_FLAGS, exitOnSignal ? HE_EXIT_ON_SIGNAL : 0);
  return area;
}

/**
 * Takes partition `id`'s host event area back to the frame pool (the
 * partition is destroyed: no vCPU of it runs any more). Returns the
 * address freed, 0 if it had none.
 */
export function partitionDisableVmbus(id: u32): usize {
  const p = partitionAddr(id);
  const area = <usize>load<u32>(p, P_VMBUS);
  if (!area) return 0;
  store<u32>(p, 0, P_VMBUS);
  framesFreeRun(<u32>area, 1);
  return area;
}
