// The control plane: what the CLI and the playground ask of a running host,
// as one typed interface. The root partition implements it (root.ts) on its
// own thread; other threads reach it over comlink (host.ts). Everything here
// is plain data, so it crosses threads by structured clone.
import type { SaveInfo, SaveMeta } from '../persist/partition.ts';
import type { StateRecord } from '../persist/record.ts';
import type { MigrateInfo, MigrateTarget } from '../migrate/source.ts';
import type { ExitReason, MachineStats, RunResult } from '../machine/machine.ts';
import type { VcpuCounters } from '../machine/vcpu-view.ts';
import type { PagingMode, PartitionSpec, SchedSpec } from './spec.ts';

export type PartitionState = 'created' | 'running' | 'paused' | 'rebooting' | 'finished';

export interface PartitionInfo {
  id: number;
  name: string;
  state: PartitionState;
  vcpus: number;
  memory: number;
  paging: PagingMode;
  boot: PartitionSpec['boot'];
  sched: SchedSpec;
  /** Instructions its vCPUs have retired (list() reads every partition at one moment). */
  instructions: number;
  /** Set once finished. */
  result?: RunResult;
}

export interface VcpuStats extends VcpuCounters {
  /** Index in the partition, and in the hypervisor's vCPU array. */
  index: number;
  vcpu: number;
  /** Where it is queued, running or blocked, and its scheduler state. */
  pcpu: number;
  state: 'none' | 'queued' | 'running' | 'blocked';
  instructions: number;
  /** Scheduler figures, in instructions of guest time (docs/scheduler.md). */
  picks: number;
  waitInsns: number;
  wakes: number;
  migrations: number;
  credit: number;
  /** VM exits to the root partition, by reason (threaded host). */
  exits: Record<ExitReason, number>;
}

export interface PartitionStats extends PartitionInfo {
  totals: MachineStats;
  vcpuStats: VcpuStats[];
}

export interface PcpuStats {
  pcpu: number;
  /** Instructions run, and idle time in instructions' worth. */
  busy: number;
  idle: number;
  runs: number;
  switches: number;
  steals: number;
}

export type { SaveInfo };
export type { MigrateInfo, MigrateTarget };

/** What a migration stream delivered: META, records, RAM, and which pages it wrote. */
export interface IncomingState {
  meta: SaveMeta;
  records: StateRecord[];
  ram: Uint8Array;
  received: Uint8Array;
}

/** Receives a partition's console output. */
export type ConsoleSink = (bytes: Uint8Array) => void;

export interface HostController {
  /** Creates a partition (loaded, not yet running); returns its id. */
  create(spec: PartitionSpec, console?: ConsoleSink): Promise<number>;
  /** Hands its vCPUs to the scheduler. */
  start(id: number): Promise<void>;
  /** Keeps its vCPUs off every pCPU, state intact (Hyper-V's Pause). */
  pause(id: number): Promise<void>;
  resume(id: number): Promise<void>;
  /** Turns it off now (result 'off', or 'timeout' when a deadline stopped it). */
  stop(id: number, why?: 'off' | 'timeout'): Promise<void>;
  /**
   * Writes a paused partition to a save file (docs/migration.md) and ends
   * it there (result 'saved'; its disks flushed and closed). Its vCPUs are
   * let finish the instruction they are in and its posted device accesses
   * are completed first.
   */
  save(id: number, path: string): Promise<SaveInfo>;
  /**
   * Creates a partition from a save file (state 'created': start() runs it
   * on from where it was saved); returns its id. `paging` overrides the
   * saved paging mode (the guest cannot tell).
   */
  restore(path: string, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number>;
  /**
   * Live migration of a running partition to the host listening at
   * `target` (hv serve; docs/migration.md): pre-copy rounds while it runs,
   * then a short stop-and-copy. Resolves once the target runs it (this copy
   * ends, result 'migrated'); on failure it runs on here, unharmed, and the
   * MigrationError says which phase failed. `progress`: a line per round on stderr.
   */
  migrate(id: number, target: MigrateTarget, options?: { maxDowntimeMs?: number; progress?: boolean }): Promise<MigrateInfo>;
  /**
   * An incoming partition (runtime/migrate/target.ts): created from a
   * migration stream's state and RAM (`received`: 1 per page the stream
   * wrote), loaded, state 'created'. Transfers `ram`.
   */
  receive(state: IncomingState, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number>;
  /** Stops it if needed and releases its RAM. */
  destroy(id: number): Promise<void>;
  /** Resolves with its result once it finishes. */
  wait(id: number): Promise<RunResult>;
  /** Console input (UART, and the SBI console of an enlightened guest). */
  input(id: number, bytes: Uint8Array): Promise<void>;
  list(): Promise<PartitionInfo[]>;
  stats(id: number): Promise<PartitionStats>;
  pcpuStats(): Promise<PcpuStats[]>;
  /** Stops everything, closes disks; pCPU threads leave their loops. */
  shutdown(): Promise<void>;
}

/** A bad request to the control plane (unknown partition, wrong state). */
export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}
