// What a Machine costs its hypervisor's frame pool: the whole (a hypervisor
// of its own is sized with it) and what creating it takes at once
// (admission control, Hypervisor.admit).
import { partitionOverhead, partitionTables } from '../host/hypervisor.ts';
import { SCRATCH_PAGES } from '../../drivers/vmbus/endpoint.ts';
import { overcommitOverhead } from './overcommit.ts';
import type { MachineConfig } from './types.ts';

/**
 * VMBus: each device's scratch pages and the event area. They used to come
 * out of the JIT's reserve (jitHostBytes), until the JIT took it.
 */
function vmbusBytes(config: MachineConfig): number {
  return config.vmbus?.length ? (config.vmbus.length * SCRATCH_PAGES + 1) * 4096 : 0;
}

/** Host memory a machine of this configuration needs in its hypervisor's pool. */
export function hostBytes(config: MachineConfig): number {
  const paging = config.paging ?? 'direct';
  return (
    config.ramSize +
    partitionOverhead(config.ramSize, paging) +
    (config.overcommit ? overcommitOverhead(config.ramSize + partitionOverhead(config.ramSize, paging)) : 0) +
    vmbusBytes(config)
  );
}

/**
 * Host memory creating a machine of this configuration takes from the
 * pool at once, what admission control checks: its RAM, unless it is
 * demand-allocated (overcommit) or already in place (ramHost), its
 * second-stage tables and its VMBus pages. Shadow tables and the dirty
 * log come later, and do without when the pool is dry.
 */
export function fixedBytes(config: MachineConfig): number {
  const paging = config.paging ?? 'direct';
  const ram = config.overcommit !== undefined || config.ramHost !== undefined ? 0 : config.ramSize;
  return ram + partitionTables(config.ramSize, paging, config.overcommit !== undefined) + vmbusBytes(config);
}
