// What the root partition (root.ts) keeps of each child partition, and what
// the groups of its control-plane verbs (root-vmbus.ts, root-memory.ts,
// root-snapshots.ts, root-migrate.ts, root-stats.ts) need of it.
import type { ExitReason, Machine, PagingMode, RunResult } from '../machine/machine.ts';
import type { LoadedSave } from '../persist/partition.ts';
import type { DiskMove } from '../storage/move.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { ControlError, type ConsoleSink, type PartitionState } from './controller.ts';
import { InputError } from '../errors.ts';
import type { Hypervisor } from './hypervisor.ts';
import type { SchedExports } from './sched.ts';
import type { PartitionSpec } from './spec.ts';
import type { HotDisks } from './vmbus-hotplug.ts';

export interface Partition {
  spec: PartitionSpec;
  machine: Machine;
  disks: BlockDevice[];
  state: PartitionState;
  startedAt?: number;
  waiters: ((r: RunResult) => void)[];
  /** VM exits serviced, per vCPU (partition-relative) and reason. */
  exits: Record<ExitReason, number>[];
  /** Bytes written to its console (a snapshot notes where it was). */
  printed: number;
  /** The snapshot tree it runs on: where it took its last snapshot, or was reverted or cloned from. */
  snapshotDir?: string;
  /** Disks being moved (moveDisk), by index. */
  moves: Map<number, DiskMove>;
  /** VMBus disks added while it runs (addVmbusDisk), by relid. */
  hot: HotDisks;
}

/**
 * The root partition as its verb groups see it: the partitions, the
 * hypervisor and scheduler they run on, and the lifecycle steps the verbs
 * are made of. Built by RootPartition over its own private members.
 */
export interface Root {
  readonly hv: Hypervisor;
  readonly sched: SchedExports;
  /** Every partition until destroyed (finished ones too), by id. */
  readonly parts: ReadonlyMap<number, Partition>;
  /** Partition `id`, or a ControlError. */
  get(id: number): Partition;
  pause(id: number): Promise<void>;
  resume(id: number): Promise<void>;
  destroy(id: number): Promise<void>;
  /** Waits until paused partition `p`'s vCPUs are at rest (root.ts). */
  quiesce(p: Partition): Promise<void>;
  /** Ends `p` with `result` (its disks closed, its waiters told). */
  finish(p: Partition, result: RunResult): void;
  /** A partition (state 'created') from a save file read and checked. */
  restoreSave(save: LoadedSave, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number>;
  /** Lets `p`'s channel endpoints be lent to the endpoint worker (root-vmbus.ts). */
  offload(p: Partition): void;
}

/** Runs `f`; an InputError of a subclass (ElfError, SnapshotError...) comes out as an InputError, which crosses threads by name. */
export function asInput<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError && e.name !== 'InputError') throw new InputError(e.message);
    throw e;
  }
}

/** Refuses a verb that needs `p` running or paused (its devices live). */
export function mustBeLive(p: Partition): void {
  if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
}

/** Refuses a partition named `name` while another (not `except`, the one it replaces) has that name. */
export function nameFree(parts: ReadonlyMap<number, Partition>, name: string, except?: Partition): void {
  for (const p of parts.values()) if (p !== except && p.spec.name === name) throw new ControlError(`a partition named ${name} exists`);
}

/** A partition's VMBus devices: those on its bus now once it booted (hot add and remove), else its config's. */
export const vmbusDevices = (m: Machine) => m.vmbus?.deviceList ?? m.config.vmbus;
