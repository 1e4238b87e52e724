// The control plane: what the CLI and the playground ask of a running host,
// as one typed interface. The root partition implements it (root.ts) on its
// own thread; other threads reach it over comlink (host.ts). Everything here
// is plain data, so it crosses threads by structured clone.
import type { SaveInfo, SaveMeta } from '../persist/partition.ts';
import type { Manifest } from '../persist/snapshot-manifest.ts';
import type { StateRecord } from '../persist/record.ts';
import type { MigrateInfo, MigrateTarget } from '../migrate/source.ts';
import type { ExitReason, MachineStats, RunResult } from '../machine/machine.ts';
import type { BalloonStatus, SharingCounters } from '../machine/overcommit.ts';
import type { SwapCounters } from '../machine/swap.ts';
import type { BalloonPolicyConfig } from './balloon-policy.ts';

/** HostController.balloonPolicy's knobs (each optional). */
export interface BalloonPolicyOptions {
  budgetBytes?: number;
  stepBytes?: number;
  /** Headroom over a guest's use, percent (default 20: Hyper-V's memory buffer). */
  bufferPercent?: number;
  intervalMs?: number;
}
import type { VcpuCounters } from '../machine/vcpu-view.ts';
import type { DiskSpec, NicSpec, PagingMode, PartitionSpec, SchedSpec } from './spec.ts';
import type { ChannelStatus, IcStatus } from '../../drivers/vmbus/status.ts';
import type { HeartbeatInfo, KvpPools } from '../../drivers/vmbus/ic-control.ts';
import type { PortInfo } from '../../drivers/net/vswitch.ts';

export type { ChannelStatus, HeartbeatInfo, IcStatus, KvpPools };

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
  /** A partition with VMBus: its channels and integration components (docs/vmbus.md). */
  vmbus?: { channels: ChannelStatus[]; ics: IcStatus[] };
}

/** A port of the host's virtual switch (docs/vmbus.md): a partition's NIC, its MAC and counters. */
export interface SwitchPortStatus extends PortInfo {
  /** The partition the NIC belongs to. */
  partition: number;
}

/** Host memory as the root partition sees it (docs/memory.md, "Density"). */
export interface HostMemoryStats {
  /** The frame pool: guest RAM, second-stage tables, page-sharing metadata. */
  poolBytes: number;
  /** Bytes of it handed out (frames in use). */
  usedBytes: number;
  /**
   * Of usedBytes, the frames holding the partitions' guest RAM: all of it for
   * a partition without overcommit, its private pages for one with, and every
   * shared frame once (the zero frame, ballooned pages: none).
   */
  ramBytes: number;
  /** The live partitions' vCPU blocks and descriptors, in the kernel's fixed regions below the pool. */
  vcpuBytes: number;
  /**
   * JS heap in use on the root partition's thread (Machines, device models,
   * console buffers), after a full collection when the process allows one
   * (node --expose-gc); otherwise it includes garbage not collected yet.
   */
  rootHeapBytes: number;
  /** Page sharing's host-wide counters (zero while no partition shares). */
  sharing: SharingCounters;
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

/** What a migration stream delivered: META and records; the RAM is in place at `ramHost` (reserveRam). */
export interface IncomingState {
  meta: SaveMeta;
  records: StateRecord[];
  ramHost: number;
}

/** A live snapshot taken (HostController.snapshot): its state file's figures, and where it sits. */
export interface SnapshotInfo extends SaveInfo {
  /** Its id in the directory's tree, and its name. */
  id: string;
  name: string;
  /** The guest's step count when it was taken (instructions, traps, idle steps). */
  steps: number;
  /** Bytes the guest had written to its console by then: what a revert prints continues from there. */
  consoleBytes: number;
}

/** How far a disk move's copy is (HostController.moveDisk). */
export interface MoveProgress {
  disk: number;
  copied: number;
  total: number;
}

/** A disk move done: the partition runs on `path` now. */
export interface MoveInfo {
  disk: number;
  path: string;
  format: 'raw' | 'vpc';
  /** The disk's size, and the guest writes that went to both images during the copy. */
  bytes: number;
  mirroredWrites: number;
  ms: number;
}

export type { Manifest };

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
   * Hard reset (Hyper-V's Reset, QEMU's system_reset): the running or
   * paused partition reboots at once, as after its guest's own SBI system
   * reset: devices to their power-on state, a fresh VMBus, its images
   * loaded again; a paused one stays paused. Resolves once it is booting
   * again. Rejects with a ControlError for a partition not running or
   * made not to reboot (`reboot: false`).
   */
  reset(id: number): Promise<void>;
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
   * saved paging mode (the guest cannot tell). `disks` (with `name`): run
   * it on these images in place of the saved ones, unchecked (copies of
   * them: a snapshot's differencing children, as hv snapshot revert and
   * clone make), under this name.
   */
  restore(path: string, console?: ConsoleSink, options?: { paging?: PagingMode; disks?: DiskSpec[]; name?: string }): Promise<number>;
  /**
   * Live migration of a running partition to the host listening at
   * `target` (hv serve; docs/migration.md): pre-copy rounds while it runs,
   * then a short stop-and-copy. Resolves once the target runs it (this copy
   * ends, result 'migrated'); on failure it runs on here, unharmed, and the
   * MigrationError says which phase failed. `progress`: a line per round on stderr.
   */
  migrate(id: number, target: MigrateTarget, options?: { maxDowntimeMs?: number; progress?: boolean; linkRate?: number }): Promise<MigrateInfo>;
  /**
   * Zeroed guest RAM for an incoming partition, reserved when its stream
   * starts: the host address in the host's shared memory, where the stream
   * writes pages as they arrive (no copy at the stop). receive() takes it
   * over; releaseRam() gives back one it did not.
   */
  reserveRam(bytes: number): Promise<number>;
  releaseRam(address: number): Promise<void>;
  /**
   * An incoming partition (runtime/migrate/target.ts): created on the RAM
   * the stream wrote (`ramHost`, from reserveRam) from the stream's
   * records, loaded, state 'created'.
   */
  receive(state: IncomingState, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number>;
  /**
   * A live snapshot of a running (or paused) partition into directory
   * `dir`, its snapshot tree (docs/migration.md, "Snapshots"): paused, its
   * state written, a differencing VHD made over each writable disk and the
   * partition switched onto them, resumed. It keeps running.
   */
  snapshot(id: number, dir: string, options?: { name?: string }): Promise<SnapshotInfo>;
  /** The snapshot tree of `dir` (snapshotTree() in runtime/persist/snapshot.ts prints it). */
  listSnapshots(dir: string): Promise<Manifest>;
  /**
   * Reverts to snapshot `snapshotId` (an id or a name), as Hyper-V's Apply:
   * `target` is a partition of this host that took snapshots (it is turned
   * off and replaced; its disks since the snapshot are deleted) or the
   * directory of a tree no partition here runs on. Returns the new
   * partition's id (state 'created'; its console goes to `console`, or to
   * the replaced partition's).
   */
  revert(target: number | string, snapshotId: string, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number>;
  /** Deletes a snapshot, merging its disk (a partition running on the tree is paused meanwhile). */
  deleteSnapshot(dir: string, snapshotId: string): Promise<void>;
  /**
   * A linked clone of a snapshot: differencing disks of its own in
   * `newDir` (its own tree) over the snapshot's, a new partition (state
   * 'created') from the snapshot's state; returns its id.
   */
  clone(dir: string, snapshotId: string, newDir: string, console?: ConsoleSink, options?: { name?: string; paging?: PagingMode }): Promise<number>;
  /**
   * Storage live migration: copies disk `disk` of a live partition to a new
   * image at `path` (.vhd: a dynamic VHD, else raw) while the guest keeps
   * using it, its writes mirrored past the copy, then switches it there and
   * closes the old image. Resolves once switched; if the new image fails,
   * the guest stays on the old one and it rejects. A partition that ends
   * meanwhile has its copy completed (saved or migrated away: abandoned).
   */
  moveDisk(id: number, disk: number, path: string, onProgress?: (p: MoveProgress) => void): Promise<MoveInfo>;
  /** Stops it if needed and releases its RAM. */
  destroy(id: number): Promise<void>;
  /** Resolves with its result once it finishes. */
  wait(id: number): Promise<RunResult>;
  /** Console input (UART, and the SBI console of an enlightened guest). */
  input(id: number, bytes: Uint8Array): Promise<void>;
  list(): Promise<PartitionInfo[]>;
  stats(id: number): Promise<PartitionStats>;
  /**
   * Memory overcommit (docs/memory.md): asks the guest of partition `id` to
   * keep `targetBytes` of its RAM; its balloon driver (virtio-balloon, or
   * Hyper-V Dynamic Memory's with overcommit.dynamicMemory) inflates or
   * deflates toward it. Resolves with where the balloon is now (the guest
   * moves it over the next moments; stats() shows its progress).
   */
  balloon(id: number, targetBytes: number): Promise<BalloonStatus>;
  /**
   * Hypervisor swap (docs/memory.md; the partition needs overcommit.swap):
   * evicts up to `pages` of partition `id`'s least recently used private
   * pages to its swap file now, as the host does when frames run low (the
   * lab's knob). Resolves with its swap figures afterwards.
   */
  swapOut(id: number, pages: number): Promise<SwapCounters>;
  /**
   * The automatic balloon policy (runtime/host/balloon-policy.ts, opt-in):
   * every `intervalMs` (default 1000) it moves the balloon targets of the
   * running partitions that have a balloon toward those under memory
   * pressure, at most `stepBytes` (default 16 MiB) per partition per step,
   * within `budgetBytes` (default: what their targets add up to when it is
   * switched on). null switches it off. Resolves with the configuration in
   * force (null: off).
   */
  balloonPolicy(options: BalloonPolicyOptions | null): Promise<BalloonPolicyConfig | null>;
  pcpuStats(): Promise<PcpuStats[]>;
  /**
   * The endpoint worker (docs/vmbus.md): VMBus channels lent to it so far
   * (storvsc's, while their partition runs) and its wake-ups that served a
   * guest's signal. Zero on a host that has lent none.
   */
  endpointStats(): Promise<{ lends: number; serves: number }>;
  /**
   * Milliseconds the root partition's thread has been busy since the host
   * started (its event loop's active time: exits, devices, the control
   * plane, its spins before sleeping); NaN where the platform cannot tell.
   */
  rootBusyMs(): Promise<number>;
  /** What the host's memory holds: frames in use, the root thread's heap, sharing (the density figures). */
  hostMemory(): Promise<HostMemoryStats>;
  /**
   * Integration components (docs/vmbus.md; the partition's spec offers
   * them with vmbus.ic). A graceful shutdown or restart through the shutdown
   * IC: resolves once the guest accepted; it then goes down by its own
   * path (wait() gives its result). Each rejects with a ControlError when
   * the IC is not offered, not negotiated yet, or the guest refuses or
   * does not answer.
   */
  guestShutdown(id: number, options?: { reboot?: boolean }): Promise<void>;
  /** The guest's KVP pools (read afresh) and the keys the host pushed. */
  kvpRead(id: number): Promise<KvpPools>;
  /** Pushes a key into the guest's external KVP pool; resolves once the guest took it. */
  kvpWrite(id: number, key: string, value: string): Promise<void>;
  /** The heartbeat IC: its state, the guest's last sequence number and when it answered (guest clock ticks). */
  heartbeat(id: number): Promise<HeartbeatInfo>;
  /** The partition's VMBus channels: device, state, bytes waiting in each ring. */
  channels(id: number): Promise<ChannelStatus[]>;
  /**
   * Hot add (docs/vmbus.md): opens image `disk` and offers it to the running
   * (or paused) partition's guest as a synthetic SCSI disk, at once if its
   * VMBus client is connected. Resolves with the channel's relid. Rejects
   * with a ControlError when the partition has no VMBus or the image is
   * open writable on this host (or this one would write it), an
   * InputError when it cannot be opened.
   */
  addVmbusDisk(id: number, disk: DiskSpec): Promise<number>;
  /**
   * Hot add of a synthetic NIC (docs/vmbus.md): a new port of the host's
   * virtual switch, named `partition/index`, with MAC `nic.mac` or one made
   * from the partition's name and the NIC's index, offered to the running
   * (or paused) partition's guest at once if its VMBus client is connected.
   * Resolves with the channel's relid; removeVmbusDevice takes it away (and
   * its port off the switch). Rejects with a ControlError when the
   * partition has no VMBus, or the MAC is not unicast or is already a
   * port's.
   */
  addVmbusNic(id: number, nic?: NicSpec): Promise<number>;
  /**
   * Hot remove: channel `relid` is no longer served from now on and its
   * offer is rescinded (the guest closes its end and releases the relid);
   * a disk addVmbusDisk added is closed, a NIC leaves the virtual switch.
   * Other channels go on.
   */
  removeVmbusDevice(id: number, relid: number): Promise<void>;
  /** The virtual switch's ports, partition by partition: each NIC's MAC, frames and bytes each way, drops. */
  switchPorts(): Promise<SwitchPortStatus[]>;
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
