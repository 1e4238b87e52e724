// The root (parent) partition of a threaded host: it owns the device models
// of every child partition and the control plane. vCPUs run on the pCPU
// threads (pcpu-worker.ts); a device access, an HTIF write or an SBI call
// that needs the host is a VM exit they post to this thread (shared.ts),
// which services it on the partition's Machine and wakes the vCPU.
import type { ExitReason, Machine, MachineStats, PagingMode, RunResult } from '../machine/machine.ts';
import { closeDisks, createPartition, hostSwitch, setupPartition } from '../machine/setup.ts';
import { OvercommitError, sharingCounters, type BalloonStatus } from '../machine/overcommit.ts';
import { SwapError, type SwapCounters } from '../machine/swap.ts';
import { BalloonPolicy, type BalloonPolicyConfig, type PolicyPartition } from './balloon-policy.ts';
import { captureState, loadSave, readSave, restorePartition, savePartition, type LoadedSave, type SaveInfo } from '../persist/partition.ts';
import { cloneName, cloneSnapshot, deleteSnapshot, readManifest, revertSnapshot, takeSnapshot } from '../persist/snapshot.ts';
import { copyInTurns, startDiskMove, type DiskMove } from '../storage/move.ts';
import { releaseProxy } from 'comlink';
import { resolve } from 'node:path';
import { migrateOut, type MigrateInfo, type MigrateTarget } from '../migrate/source.ts';
import { loadedState } from '../migrate/state.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import {
  ControlError, type ConsoleSink, type HostController, type IncomingState, type Manifest, type MoveInfo, type MoveProgress, type PartitionInfo,
  type PartitionState, type PartitionStats, type PcpuStats, type SnapshotInfo, type SwitchPortStatus, type VcpuStats, type HostMemoryStats,
  type BalloonPolicyOptions,
} from './controller.ts';
import { InputError } from '../errors.ts';
import { Hypervisor } from './hypervisor.ts';
import { HostMemoryError } from './memory-pressure.ts';
import { PcpuStat, schedExports, SState, VcpuStat, type SchedExports } from './sched.ts';
import type { HostShared } from './shared.ts';
import { checkPartition, SpecError, type DiskSpec, type NicSpec, type PartitionSpec } from './spec.ts';
import { channelStatus, icStatus, type ChannelStatus } from '../../drivers/vmbus/status.ts';
import { nicPorts } from '../../drivers/vmbus/netvsc.ts';
import { guestShutdown, heartbeat, IcError, kvpRead, kvpWrite, type HeartbeatInfo, type KvpPools } from '../../drivers/vmbus/ic-control.ts';
import { closeHotDisks, hotAddDisk, hotAddNic, hotRemove, noHotDisks, openImages, type HotDisks } from './vmbus-hotplug.ts';
import { VmbusSignals } from './vmbus-signals.ts';
import type { VmbusHost } from '../../drivers/vmbus/host.ts';
import { ChannelEndpoint } from '../../drivers/vmbus/endpoint.ts';
import { StorvscDevice } from '../../drivers/vmbus/storvsc.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import { EndpointServer, type ServedPartition } from './endpoint-server.ts';
import { kernelModule } from './kernel.ts';

interface Partition {
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

/** Runs `f`; an InputError of a subclass (ElfError, SnapshotError...) comes out as an InputError, which crosses threads by name. */
function asInput<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError && e.name !== 'InputError') throw new InputError(e.message);
    throw e;
  }
}

/** A partition's VMBus devices: those on its bus now once it booted (hot add and remove), else its config's. */
const vmbusDevices = (m: Machine) => m.vmbus?.deviceList ?? m.config.vmbus;

/** How long the root watches for the next exit before sleeping (ms). */
const SPIN_MS = 0.05;
/**
 * Page sharing's scanner (kernel/mm/share-scan.ts) runs on this thread, as
 * KSM's defaults: 100 pages every 20 ms. Here, not on idle pCPU threads,
 * because this thread performs every host-side write into guest RAM (device
 * DMA): a merge cannot race one (docs/memory.md).
 */
const SCAN_MS = 20;
const SCAN_PAGES = 100;

const STATE_NAMES = ['none', 'queued', 'running', 'blocked'] as const;

export interface RootOptions {
  /** Host memory (created by the host's main thread), and the frame pool's size in it. */
  memory: WebAssembly.Memory;
  poolBytes: number;
  module?: WebAssembly.Module;
  shared: HostShared;
  pcpus: number;
  /** Guest instructions per ms of CPU, the scheduler's time unit (docs/scheduler.md). */
  insnsPerMs: number;
  /**
   * Where console output goes for partitions created without a sink: one
   * ordered channel for all of them, messages { batch: { id, bytes }[] }
   * and { barrier }.
   */
  consolePort?: { postMessage(message: unknown): void };
}

export class RootPartition implements HostController {
  private readonly hv: Hypervisor;
  private readonly sched: SchedExports;
  private readonly shared: HostShared;
  private readonly npcpus: number;
  private readonly parts = new Map<number, Partition>();
  /** Global vCPU index -> its partition. */
  private readonly byVcpu: Partition[] = [];
  private closed = false;
  /** RAM reserved for incoming partitions (reserveRam), by host address: its size. */
  private readonly reserved = new Map<number, number>();
  /**
   * Outgoing live migrations not settled yet. The partition ends here at
   * the target's RDY (result 'migrated'), before GO is sent and DONE comes
   * back: a caller that closes the host on that result would otherwise cut
   * the migration off, and migrate() would never answer. shutdown() waits
   * for them.
   */
  private readonly migrations = new Set<Promise<unknown>>();
  private readonly loopDone: Promise<void>;
  private readonly consolePort: RootOptions['consolePort'];

  constructor(o: RootOptions) {
    this.hv = new Hypervisor(o.poolBytes, o.memory, o.module);
    this.sched = schedExports(this.hv.kernel.exports);
    if (!this.sched.schedInit(o.pcpus, o.insnsPerMs)) throw new RangeError(`cannot schedule ${o.pcpus} pCPUs`);
    this.shared = o.shared;
    this.npcpus = o.pcpus;
    this.consolePort = o.consolePort;
    this.endpoints = new EndpointServer({
      memory: o.memory, module: () => o.module ?? kernelModule(), shared: o.shared, alloc: (pages) => this.hv.kernel.exports.framesAllocContiguous(pages, 4096),
    });
    this.loopDone = this.serviceLoop();
  }

  // ---- VMBus channels served by the endpoint worker (endpoint-server.ts) ----

  /** Serves partitions' storvsc channels on a thread of its own: lent while they run, recalled around what the root does to them. */
  private readonly endpoints: EndpointServer;

  /** Channels lent to the endpoint worker so far, and its wake-ups that served a signal (tests, --stats). */
  async endpointStats(): Promise<{ lends: number; serves: number }> {
    return this.endpoints.stats();
  }

  async rootBusyMs(): Promise<number> {
    const elu = (performance as { eventLoopUtilization?: () => { active: number } }).eventLoopUtilization;
    return elu ? elu().active : NaN;
  }

  /** Lets `p`'s channel endpoints be lent (each when its channel opens, or at once if open). */
  private offloadFor(p: Partition): void {
    const served: ServedPartition = {
      machine: p.machine,
      get lendable() {
        return p.state === 'running' && p.moves.size === 0;
      },
      diskOf: (device: StorvscDevice) => {
        const i = p.disks.indexOf(device.disk);
        const hot = p.hot.byDevice.get(device);
        const disk = i >= 0 ? p.disks[i] : hot?.disk;
        const spec = i >= 0 ? p.spec.disks[i] : hot?.spec;
        return disk instanceof SwitchableDevice && spec ? { disk, spec } : undefined;
      },
    };
    const offload = this.endpoints.offload(() => served);
    for (const d of vmbusDevices(p.machine) ?? []) if (d instanceof ChannelEndpoint) d.offload = offload;
  }

  /** Every lent channel of `p` back on this thread (the device's state with it), before the root touches them or their disks. */
  private recallChannels(p: Partition): void {
    for (const d of vmbusDevices(p.machine) ?? []) if (d instanceof ChannelEndpoint) d.takeBack();
  }

  /** `p`'s open channels lent again (it runs, no disk of it moves). */
  private lendChannels(p: Partition): void {
    for (const d of vmbusDevices(p.machine) ?? []) if (d instanceof ChannelEndpoint) d.handOff();
  }

  // ---- the data plane: VM exits ------------------------------------------------

  private lastPoll = 0;

  /**
   * Console input and output of every live partition. Output goes out in
   * batches (every 10 ms, and before the loop sleeps): a message per exit of
   * a guest printing a byte at a time would cost more than the exits.
   */
  private pollAll(): void {
    this.lastPoll = performance.now();
    for (const p of this.parts.values()) if (p.state === 'running' || p.state === 'paused') p.machine.poll();
    this.flushConsoles();
  }

  /** Console output on its way to the host's console channel: { id, bytes } in the order printed. */
  private outbox: { id: number; bytes: Uint8Array }[] = [];

  /**
   * Posts every partition's output since the last flush as one message: a
   * message per partition per poll was most of the root's time with 1,000
   * partitions printing (docs/memory.md, "Density").
   */
  private flushConsoles(): void {
    if (this.outbox.length === 0) return;
    this.consolePort?.postMessage({ batch: this.outbox });
    this.outbox = [];
  }

  private readonly signals = new VmbusSignals();

  /** The VMBus of each running partition: its vCPUs signal channels without exits (vmbus-signals.ts). */
  private vmbusHosts(): VmbusHost[] {
    const out: VmbusHost[] = [];
    for (const p of this.parts.values()) if (p.state === 'running' && p.machine.vmbus) out.push(p.machine.vmbus);
    return out;
  }

  private async serviceLoop(): Promise<void> {
    const exits: number[] = [];
    let lastYield = performance.now();
    while (!this.closed) {
      const seen = this.shared.doorbell();
      exits.length = 0;
      for (const v of this.shared.takeExits(exits)) this.service(v);
      const signalled = this.signals.serve(this.vmbusHosts());
      const now = performance.now();
      if (now - this.lastPoll >= 10) this.pollAll();
      if (now - this.lastScan >= SCAN_MS) this.scanTick(now);
      if (exits.length === 0 && !signalled) {
        // A vCPU that just had an exit serviced often has the next one soon
        // (a driver polling a status register): watch the doorbell for a
        // moment before sleeping, as a waking thread costs far more.
        const hosts = this.vmbusHosts();
        if (!this.shared.spinDoorbell(seen, SPIN_MS, () => this.signals.rang(hosts))) {
          this.pollAll();
          await Promise.race([this.shared.waitDoorbell(seen, 10), ...this.signals.waits(hosts, 10)]);
          lastYield = performance.now();
          continue;
        }
      }
      // Busy: the control plane, sockets and timers of this thread (a live
      // migration's) still get a turn every 2 ms. A spin that found work is
      // no turn: a guest whose next exit always came within the spin (a
      // driver polling a register) held them off for hundreds of ms.
      if (performance.now() - lastYield >= 2) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
  }

  private lastScan = 0;

  /** One scanner slice when any partition shares pages. */
  private scanTick(now: number): void {
    this.lastScan = now;
    for (const p of this.parts.values()) {
      if (p.machine.overcommit && p.state !== 'finished') {
        this.hv.kernel.exports.shareScan(SCAN_PAGES);
        return;
      }
    }
  }

  private service(v: number): void {
    const p = this.byVcpu[v];
    if (!p || p.state === 'finished' || p.state === 'rebooting') return;
    const m = p.machine;
    const i = v - m.firstVcpu;
    try {
      p.exits[i]![m.serviceExit(i)]++;
    } catch (e) {
      // A bug in a device model stops its partition, not the host.
      console.error(`hv: partition ${p.spec.name}: the root partition failed servicing vCPU ${i}:`, e);
      this.finish(p, { kind: 'crashed', message: String((e as Error)?.message ?? e) });
      return;
    }
    if (m.result?.kind === 'reset' && m.config.reboot) void this.reboot(p);
    else if (m.result) this.finish(p, m.result);
    else this.sched.schedWake(v);
  }

  /**
   * A reset the guest asked for, as a reboot: its vCPUs leave the scheduler
   * (one may still be finishing a slice on another pCPU), the machine
   * reboots, and they come back. Exits posted meanwhile are dropped: a
   * rebooting partition's vCPUs start again from reset.
   */
  private async reboot(p: Partition): Promise<void> {
    if (p.state !== 'running' && p.state !== 'paused') return;
    const m = p.machine;
    const was = p.state;
    p.state = 'rebooting';
    for (let i = 0; i < m.vcpuCount; i++) this.sched.schedRemoveVcpu(m.firstVcpu + i);
    await this.vcpusGone(m);
    if (p.state !== 'rebooting') return; // stopped meanwhile
    this.recallChannels(p);
    m.rebootIfReset();
    if (was === 'paused') this.sched.partitionSetHalted(m.id, 1); // a reboot does not resume it
    p.state = was;
    for (let i = 0; i < m.vcpuCount; i++) this.sched.schedAddVcpu(m.firstVcpu + i, -1);
  }

  /** Resolves once no vCPU of `m` is queued or running (a running one leaves at its pCPU's next step). */
  private async vcpusGone(m: Machine): Promise<void> {
    for (let i = 0; i < m.vcpuCount; i++) {
      while (this.sched.schedVcpuState(m.firstVcpu + i) !== SState.NONE) await new Promise((r) => setTimeout(r, 1));
    }
  }

  private finish(p: Partition, result: RunResult): void {
    if (p.state === 'finished') return;
    const m = p.machine;
    m.result ??= result;
    this.recallChannels(p); // the worker lets go of its disks before they are closed
    for (let i = 0; i < m.vcpuCount; i++) this.sched.schedRemoveVcpu(m.firstVcpu + i);
    if (p.startedAt !== undefined) m.addWallMs(performance.now() - p.startedAt);
    p.state = 'finished';
    m.poll(); // the last console bytes
    this.flushConsoles(); // now: after a shutdown's finishes no poll comes
    // A disk being moved: the copy completes so the new file is whole, unless
    // the guest goes on elsewhere on the old images (saved, migrated).
    const away = m.result.kind === 'saved' || m.result.kind === 'migrated';
    for (const job of p.moves.values()) {
      try {
        if (away) job.abort();
        else job.complete();
      } catch {
        job.abort(); // the new image failed: moveDisk reports it
      }
    }
    closeDisks(p.disks);
    closeHotDisks(p.hot);
    for (const w of p.waiters.splice(0)) w(m.result);
  }

  // ---- the control plane ----------------------------------------------------------

  /** Where partition `id()`'s console goes (`console`, or the host's console channel), its bytes counted. */
  private sinkFor(console: ConsoleSink | undefined, id: () => number): ConsoleSink {
    const port = this.consolePort;
    const out: ConsoleSink = console ?? (port ? (bytes) => this.outbox.push({ id: id(), bytes }) : () => {});
    return (bytes) => {
      const p = this.parts.get(id());
      if (p) p.printed += bytes.length;
      out(bytes);
    };
  }

  private get(id: number): Partition {
    const p = this.parts.get(id);
    if (!p) throw new ControlError(`no partition ${id}`);
    return p;
  }

  async create(spec: PartitionSpec, console?: ConsoleSink): Promise<number> {
    if (this.closed) throw new ControlError('the host is shut down');
    for (const p of this.parts.values()) if (p.spec.name === spec.name) throw new ControlError(`a partition named ${spec.name} exists`);
    let id = -1;
    const sink = this.sinkFor(console, () => id);
    try {
      checkPartition(spec);
    } catch (e) {
      // A spec that breaks a rule (runtime/host/spec.ts) is a bad request.
      if (e instanceof SpecError) throw new ControlError(`partition ${String(spec.name)}: ${e.message}`);
      throw e;
    }
    let made;
    try {
      made = setupPartition(spec, this.hv, { onConsole: (b) => void sink(b), exits: true });
    } catch (e) {
      // Crosses to the caller's thread by name: ElfError, VhdError... arrive as InputError; HostMemoryError as itself.
      if (e instanceof InputError && e.name !== 'InputError' && !(e instanceof HostMemoryError)) throw new InputError(e.message);
      throw e;
    }
    id = this.register(spec, made);
    return id;
  }

  /**
   * `options.disks` and `name`: the partition runs on these images (copies
   * of the saved ones: a snapshot's differencing children) under this name
   * (hv snapshot revert and clone on this host).
   */
  async restore(path: string, console?: ConsoleSink, options: { paging?: PagingMode; disks?: DiskSpec[]; name?: string } = {}): Promise<number> {
    const save = asInput(() => readSave(path, { disks: options.disks }));
    if (options.name !== undefined) save.spec = { ...save.spec, name: options.name };
    return this.restoreSave(save, console, options);
  }

  /** A partition (state 'created') from a save file read and checked. */
  private async restoreSave(save: LoadedSave, console?: ConsoleSink, options: { paging?: PagingMode } = {}): Promise<number> {
    if (this.closed) throw new ControlError('the host is shut down');
    let id = -1;
    const sink = this.sinkFor(console, () => id);
    let made;
    let spec: PartitionSpec;
    try {
      spec = { ...save.spec, paging: options.paging ?? save.spec.paging };
      for (const p of this.parts.values()) if (p.spec.name === spec.name) throw new ControlError(`a partition named ${spec.name} exists`);
      made = restorePartition(save, this.hv, { onConsole: (b) => void sink(b), exits: true, clock: 'realtime', paging: spec.paging });
    } catch (e) {
      if (e instanceof InputError && e.name !== 'InputError') throw new InputError(e.message);
      throw e;
    }
    id = this.register(spec, made);
    return id;
  }

  async save(id: number, path: string): Promise<SaveInfo> {
    const p = this.get(id);
    if (p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not paused`);
    const m = p.machine;
    await this.quiesce(p);
    m.poll(); // console output and input of the SBI console
    let info: SaveInfo;
    try {
      info = savePartition(path, m, p.spec, () => p.disks.forEach((d) => d.flush()));
    } catch (e) {
      if (e instanceof InputError) throw new InputError(e.message);
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(`cannot write save file '${path}': ${code ?? (e as Error).message}`);
    }
    this.finish(p, { kind: 'saved', path });
    return info;
  }

  async migrate(id: number, target: MigrateTarget, options: { maxDowntimeMs?: number; progress?: boolean; linkRate?: number } = {}): Promise<MigrateInfo> {
    const p = this.get(id);
    if (p.state !== 'running') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    // Live migration copies RAM as one host run; an overcommit partition's pages move (docs/memory.md).
    if (p.machine.overcommit) throw new ControlError(`partition ${p.spec.name} has memory overcommit, which live migration does not support yet`);
    const m = p.machine;
    const s = p.spec.sched;
    const where = `${target.host}:${target.port}`;
    const moving = migrateOut(
      target,
      {
        id, kernel: this.hv.kernel.exports, memory: m.memory, ram: m.ram, spec: p.spec,
        shouldStop: (converged) => converged,
        cancelled: () => (p.state === 'running' || p.state === 'paused' ? undefined : `the guest ended (${m.result?.kind ?? p.state})`),
        pause: async () => {
          await this.pause(id);
          await this.quiesce(p);
          m.poll();
        },
        resume: () => this.resume(id),
        // Auto-converge: a cap of what is left of its vCPUs' time (and never above its own cap).
        throttle: (percent) => {
          let cap = percent ? Math.max(1, Math.round((m.vcpuCount * (100 - percent)))) : s.cap;
          if (percent && s.cap) cap = Math.min(cap, s.cap);
          this.sched.schedSetParams(id, s.weight, cap, Math.min(s.reservation, cap || s.reservation));
        },
        capture: () => captureState(m, p.spec, () => p.disks.forEach((d) => d.flush())),
        release: () => this.finish(p, { kind: 'migrated', to: where }),
      },
      { maxDowntimeMs: options.maxDowntimeMs, linkRate: options.linkRate, progress: options.progress ? (line) => process.stderr.write(`hv: migrating ${p.spec.name} to ${where}: ${line}\n`) : undefined },
    );
    const settled = moving.catch(() => {});
    this.migrations.add(settled);
    void settled.then(() => this.migrations.delete(settled));
    return moving;
  }

  async receive(state: IncomingState, console?: ConsoleSink, options: { paging?: PagingMode } = {}): Promise<number> {
    if (this.closed) throw new ControlError('the host is shut down');
    let id = -1;
    const sink = this.sinkFor(console, () => id);
    const save = loadedState(state.meta, state.records);
    const spec = { ...save.spec, paging: options.paging ?? save.spec.paging };
    for (const p of this.parts.values()) if (p.spec.name === spec.name) throw new ControlError(`a partition named ${spec.name} exists`);
    const ramHost = state.ramHost;
    if (this.reserved.get(ramHost) !== spec.memory) throw new ControlError(`no reservation of ${spec.memory} bytes of RAM at ${ramHost}`);
    // The stream wrote the RAM in place: the partition is built around it.
    const made = createPartition(spec, this.hv, { onConsole: (b) => void sink(b), exits: true, clock: 'realtime', ramHost });
    this.reserved.delete(ramHost); // the partition's now (loadSave frees it if a record does not check)
    loadSave(save, made, this.hv);
    id = this.register(spec, made);
    return id;
  }

  async reserveRam(bytes: number): Promise<number> {
    if (this.closed) throw new ControlError('the host is shut down');
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes % 4096) throw new ControlError(`RAM of ${bytes} bytes is not a whole number of pages`);
    const address = this.hv.reserveRam(bytes);
    this.reserved.set(address, bytes);
    return address;
  }

  async releaseRam(address: number): Promise<void> {
    const bytes = this.reserved.get(address);
    if (bytes === undefined) return; // taken over by receive(), or released already
    this.reserved.delete(address);
    this.hv.kernel.exports.framesFree(address, bytes / 4096);
  }

  /**
   * Waits until paused partition `p` is still: no vCPU of it on a pCPU,
   * and none waiting on an exit the root has not serviced yet (its service
   * completes the access; the halted partition's vCPU is then not picked).
   */
  private async quiesce(p: Partition): Promise<void> {
    const m = p.machine;
    const busy = () =>
      m.harts.some((h, i) => {
        const s = this.sched.schedVcpuState(m.firstVcpu + i);
        return s === SState.RUNNING || h.mmioRequest() !== undefined || (s === SState.BLOCKED && h.runnable && !h.inWfi);
      });
    // Asked to leave at their next instruction (partitionSetHalted), they
    // usually are within microseconds: look again at once for a moment
    // (a pause is part of a live migration's downtime), then every ms.
    const t0 = performance.now();
    while (busy()) {
      const waited = performance.now() - t0;
      if (waited > 5000) throw new ControlError(`partition ${p.spec.name}: its vCPUs did not come to rest`);
      await new Promise((r) => (waited < 2 ? setImmediate(r) : setTimeout(r, 1)));
    }
  }

  // ---- snapshots and disk moves (docs/migration.md): runtime/persist/snapshot.ts and runtime/storage/move.ts do them, as on the deterministic host

  /** Runs `f` with `p` still (paused, its vCPUs at rest, its console polled), then lets it run again if it was running. */
  private async whileStill<T>(p: Partition, f: () => T): Promise<T> {
    if (p.state === 'created') return f(); // no vCPU of it has run
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}`);
    const wasRunning = p.state === 'running';
    if (wasRunning) await this.pause(p.machine.id);
    try {
      await this.quiesce(p);
      p.machine.poll();
      return f();
    } finally {
      if (wasRunning && p.state === 'paused') await this.resume(p.machine.id);
    }
  }

  /** Refuses what would change the images under a disk move. */
  private notMoving(p: Partition, what: string): void {
    const [disk] = p.moves.keys();
    if (disk !== undefined) throw new ControlError(`partition ${p.spec.name}: disk ${disk} is being moved; ${what} once the move is done`);
  }

  /** The live partition that runs on the current disks of snapshot tree `dir`, if any. */
  private onTree(dir: string): Partition | undefined {
    const current = new Set(asInput(() => readManifest(dir)).current.disks);
    for (const p of this.parts.values()) {
      if (p.state !== 'finished' && p.spec.disks.some((d) => !d.readonly && current.has(resolve(d.path)))) return p;
    }
    return undefined;
  }

  async snapshot(id: number, dir: string, options: { name?: string } = {}): Promise<SnapshotInfo> {
    const p = this.get(id);
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    this.notMoving(p, 'take the snapshot');
    return this.whileStill(p, () => {
      const { entry, info } = asInput(() => takeSnapshot(dir, p.machine, p, options.name));
      p.snapshotDir = resolve(dir);
      return { ...info, id: entry.id, name: entry.name, steps: entry.steps, consoleBytes: p.printed };
    });
  }

  async listSnapshots(dir: string): Promise<Manifest> {
    return asInput(() => readManifest(dir));
  }

  async revert(target: number | string, snapshotId: string, console?: ConsoleSink, options: { paging?: PagingMode } = {}): Promise<number> {
    let old: Partition | undefined;
    let dir: string;
    if (typeof target === 'number') {
      old = this.get(target);
      if (old.snapshotDir === undefined) throw new ControlError(`partition ${old.spec.name} runs on no snapshot tree: give the snapshot directory`);
      this.notMoving(old, 'revert');
      dir = old.snapshotDir;
    } else {
      dir = resolve(target);
      const on = this.onTree(dir);
      if (on) throw new ControlError(`partition ${on.spec.name} runs on the snapshot tree in '${target}': revert it by its id`);
    }
    // The state's partition is the tree's: its name must be free (or be the one replaced).
    const name = asInput(() => readManifest(dir)).partition;
    for (const p of this.parts.values()) if (p !== old && p.spec.name === name) throw new ControlError(`a partition named ${name} exists`);
    // New files and the manifest first: if they fail, the partition runs on unharmed.
    const { save, discard } = asInput(() => revertSnapshot(dir, snapshotId));
    if (old) await this.destroy(old.machine.id); // Hyper-V's Apply gives up the state it was in
    discard();
    const id = await this.restoreSave(save, console, options);
    this.get(id).snapshotDir = dir;
    return id;
  }

  async deleteSnapshot(dir: string, snapshotId: string): Promise<void> {
    const p = this.onTree(dir);
    if (!p) return asInput(() => deleteSnapshot(dir, snapshotId));
    this.notMoving(p, 'delete the snapshot');
    // The merge rewrites files under its disk chain: it waits, still.
    await this.whileStill(p, () => asInput(() => deleteSnapshot(dir, snapshotId, p)));
  }

  async clone(dir: string, snapshotId: string, newDir: string, console?: ConsoleSink, options: { name?: string; paging?: PagingMode } = {}): Promise<number> {
    const name = options.name ?? cloneName(asInput(() => readManifest(dir)));
    for (const p of this.parts.values()) if (p.spec.name === name) throw new ControlError(`a partition named ${name} exists`);
    const save = asInput(() => cloneSnapshot(dir, snapshotId, newDir, name));
    const id = await this.restoreSave(save, console, options);
    this.get(id).snapshotDir = resolve(newDir);
    return id;
  }

  async moveDisk(id: number, disk: number, path: string, onProgress?: (p: MoveProgress) => void): Promise<MoveInfo> {
    const p = this.get(id);
    try {
      if (p.state === 'finished' || p.state === 'rebooting') throw new ControlError(`partition ${p.spec.name} is ${p.state}`);
      const t0 = performance.now();
      this.recallChannels(p); // the mirror copies between requests on this thread: the disk stays here until the move ends
      const job = asInput(() => startDiskMove(p, disk, path));
      p.moves.set(disk, job);
      // The caller's callback (from another thread, through comlink: a promise) never stops the move.
      const tell = async (copied: number) => {
        try {
          await onProgress?.({ disk, copied, total: job.mirror.size });
        } catch {}
      };
      try {
        // Copies between VM exits: the service loop gets a turn every millisecond.
        if (await copyInTurns(job, { sliceMs: 1, onProgress: onProgress && ((copied) => void tell(copied)) })) job.finish();
      } catch (e) {
        job.abort();
        throw new InputError(`writing '${path}' failed: ${(e as Error).message}`); // the guest is on its old image still
      } finally {
        p.moves.delete(disk);
        this.lendChannels(p);
      }
      if (job.state !== 'done') throw new ControlError(`partition ${p.spec.name} ended (${p.machine.result?.kind}) before disk ${disk} was moved: the copy is deleted`);
      await tell(job.mirror.size); // the whole copy (here, or at the partition's end), heard before the result
      return { disk, path: job.path, format: job.format, bytes: job.mirror.size, mirroredWrites: job.mirror.mirroredWrites, ms: performance.now() - t0 };
    } finally {
      // A callback from another thread (comlink) holds a port open until released.
      (onProgress as { [releaseProxy]?: () => void } | undefined)?.[releaseProxy]?.();
    }
  }

  /** Takes a partition made for `spec` into the host (state 'created'); returns its id. */
  private register(spec: PartitionSpec, made: { machine: Machine; disks: BlockDevice[] }): number {
    const { machine, disks } = made;
    const id = machine.id;
    const exits = Array.from({ length: machine.vcpuCount }, () => ({ mmio: 0, sbi: 0, htif: 0, memory: 0, swap: 0, other: 0 }));
    // Its own disk list: snapshots and disk moves point it at new images.
    const p: Partition = { spec: { ...spec, disks: [...spec.disks] }, machine, disks, state: 'created', waiters: [], exits, printed: 0, moves: new Map(), hot: noHotDisks() };
    this.shared.setEpoch(machine.id, machine.clockEpochMs);
    const s = spec.sched;
    if (!this.sched.schedSetParams(machine.id, s.weight, s.cap, s.reservation)) {
      closeDisks(disks);
      this.hv.unregister(machine.id);
      machine.releaseMemory();
      throw new ControlError(`partition ${spec.name}: bad scheduling parameters ${JSON.stringify(s)}`);
    }
    this.parts.set(machine.id, p);
    for (let i = 0; i < machine.vcpuCount; i++) this.byVcpu[machine.firstVcpu + i] = p;
    this.offloadFor(p);
    return machine.id;
  }

  async start(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'created') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not created`);
    const m = p.machine;
    p.state = 'running';
    p.startedAt = performance.now();
    this.lendChannels(p); // a restored partition's open channels
    // Spread the vCPUs: the scheduler puts each on the least loaded pCPU.
    for (let i = 0; i < m.vcpuCount; i++) this.sched.schedAddVcpu(m.firstVcpu + i, -1);
  }

  async pause(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'running') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    this.sched.partitionSetHalted(id, 1);
    p.state = 'paused';
    this.recallChannels(p); // saves, snapshots and migration read the devices' state and disks here
  }

  async resume(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not paused`);
    p.state = 'running';
    this.lendChannels(p);
    this.sched.partitionSetHalted(id, 0);
    p.machine.vmbus?.resumed(); // timesync sets the guest's clock again: it stood still while paused
  }

  async reset(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    if (!p.machine.config.reboot) throw new ControlError(`partition ${p.spec.name} does not reboot (reboot: false): stop it instead`);
    // The guest's SBI system reset ends in the same state (Machine.result 'reset', then reboot()).
    p.machine.result = { kind: 'reset' };
    await this.reboot(p);
  }

  async stop(id: number, why: 'off' | 'timeout' = 'off'): Promise<void> {
    const p = this.get(id);
    if (p.state === 'finished') return;
    this.finish(p, { kind: why });
  }

  async destroy(id: number): Promise<void> {
    const p = this.get(id);
    await this.stop(id);
    const m = p.machine;
    await this.vcpusGone(m);
    this.parts.delete(id);
    for (let i = 0; i < m.vcpuCount; i++) delete this.byVcpu[m.firstVcpu + i];
    this.hv.unregister(id);
    this.hv.kernel.exports.dirtyLogRelease(id); // its vCPUs are gone: nothing marks any more
    m.releaseMemory();
  }

  async wait(id: number): Promise<RunResult> {
    const p = this.get(id);
    if (p.state === 'finished') return p.machine.result!;
    return new Promise((resolve) => p.waiters.push(resolve));
  }

  async input(id: number, bytes: Uint8Array): Promise<void> {
    this.get(id).machine.input(bytes);
  }

  async list(): Promise<PartitionInfo[]> {
    return [...this.parts.keys()].map((id) => this.info(id));
  }

  private info(id: number): PartitionInfo {
    const { spec, state, machine } = this.get(id);
    const info: PartitionInfo = {
      id, name: spec.name, state, vcpus: spec.vcpus, memory: spec.memory, paging: spec.paging, boot: spec.boot, sched: spec.sched,
      instructions: machine.instructions(),
    };
    if (state === 'finished') info.result = machine.result;
    return info;
  }

  async stats(id: number): Promise<PartitionStats> {
    const p = this.get(id);
    const m = p.machine;
    const totals: MachineStats = m.stats();
    if (p.state !== 'finished' && p.startedAt !== undefined) {
      totals.seconds = (performance.now() - p.startedAt) / 1000;
      totals.mips = totals.seconds > 0 ? totals.instructions / totals.seconds / 1e6 : 0;
    }
    const s = this.sched;
    const vcpuStats = m.harts.map((h, index): VcpuStats => {
      const v = m.firstVcpu + index;
      const st = (which: number) => Number(s.schedVcpuStat(v, which));
      return {
        index, vcpu: v, pcpu: s.schedVcpuPcpu(v), state: STATE_NAMES[s.schedVcpuState(v)] ?? 'none',
        instructions: h.instret, picks: st(VcpuStat.PICKS), waitInsns: st(VcpuStat.WAIT), wakes: st(VcpuStat.WAKES),
        migrations: st(VcpuStat.MIGRATIONS), credit: Number(s.schedVcpuCredit(v)),
        ...h.counters(),
        exits: { ...p.exits[index]! },
      };
    });
    const vmbus = m.vmbus && { channels: channelStatus(m.vmbus, m.memory, m.vmbus.deviceList), ics: icStatus(m.vmbus.deviceList) };
    return { ...this.info(id), totals, vcpuStats, ...(vmbus ? { vmbus } : {}) };
  }

  // ---- integration components (drivers/vmbus/ic-control.ts), on this thread, where the devices run

  /**
   * Runs IC request `f` on partition `id`'s VMBus devices; an IcError comes
   * out as a ControlError naming the partition. A request needs the guest
   * running: a paused one could not answer it.
   */
  private async ic<T>(id: number, f: (devices: Machine['config']['vmbus']) => T | Promise<T>, running = true): Promise<T> {
    const p = this.get(id);
    if (running && p.state !== 'running') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    try {
      return await f(vmbusDevices(p.machine)); // an IC removed while it ran is not asked
    } catch (e) {
      if (e instanceof IcError) throw new ControlError(`partition ${p.spec.name}: ${e.message}`);
      throw e;
    }
  }

  async guestShutdown(id: number, options: { reboot?: boolean } = {}): Promise<void> {
    return this.ic(id, (d) => guestShutdown(d, options.reboot === true));
  }

  async kvpRead(id: number): Promise<KvpPools> {
    return this.ic(id, kvpRead);
  }

  async kvpWrite(id: number, key: string, value: string): Promise<void> {
    return this.ic(id, (d) => kvpWrite(d, key, value));
  }

  async heartbeat(id: number): Promise<HeartbeatInfo> {
    return this.ic(id, heartbeat, false);
  }

  async channels(id: number): Promise<ChannelStatus[]> {
    const m = this.get(id).machine;
    return m.vmbus ? channelStatus(m.vmbus, m.memory, m.vmbus.deviceList) : [];
  }

  // ---- hot add and remove of VMBus devices (vmbus-hotplug.ts), on this thread, where the devices run

  async addVmbusDisk(id: number, disk: DiskSpec): Promise<number> {
    const p = this.get(id);
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    const inUse = [...this.parts.values()].filter((q) => q.state !== 'finished').flatMap((q) => openImages(q.spec, q.hot));
    const relid = asInput(() => hotAddDisk(p.machine, p.spec.name, p.hot, disk, inUse));
    this.offloadFor(p); // the new disk's channel is lent once the guest opens it
    return relid;
  }

  async addVmbusNic(id: number, nic: NicSpec = {}): Promise<number> {
    const p = this.get(id);
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    const relid = hotAddNic(p.machine, p.spec.name, p.hot, hostSwitch(this.hv), nic);
    this.offloadFor(p); // as a spec's NIC
    return relid;
  }

  async removeVmbusDevice(id: number, relid: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    hotRemove(p.machine, p.spec.name, p.hot, relid);
  }

  async switchPorts(): Promise<SwitchPortStatus[]> {
    return [...this.parts].flatMap(([id, p]) => nicPorts(vmbusDevices(p.machine) ?? []).map((port) => ({ ...port, partition: id })));
  }

  async balloon(id: number, targetBytes: number): Promise<BalloonStatus> {
    const p = this.get(id);
    const oc = p.machine.overcommit;
    if (!oc) throw new ControlError(`partition ${p.spec.name} has no memory overcommit (and so no balloon)`);
    try {
      oc.setBalloonTarget(targetBytes);
    } catch (e) {
      if (e instanceof OvercommitError) throw new ControlError(`partition ${p.spec.name}: ${e.message}`);
      throw e;
    }
    return oc.balloonStatus()!;
  }

  async swapOut(id: number, pages: number): Promise<SwapCounters> {
    const p = this.get(id);
    const swap = p.machine.overcommit?.swap;
    if (!swap) throw new ControlError(`partition ${p.spec.name} has no swap file (overcommit.swap, hv run --swap DIR)`);
    if (!Number.isSafeInteger(pages) || pages < 0) throw new ControlError(`pages must be a whole number, got ${pages}`);
    if (p.state === 'finished') throw new ControlError(`partition ${p.spec.name} is finished`);
    try {
      swap.swapOut(pages); // on the root's thread, between exits: as the eviction driver
    } catch (e) {
      if (e instanceof SwapError) throw new ControlError(`partition ${p.spec.name}: ${e.message}`);
      throw e;
    }
    return swap.stats();
  }

  /** The automatic balloon policy, while switched on: it and its timer. */
  private policy: { policy: BalloonPolicy; timer: ReturnType<typeof setInterval> } | undefined;

  async balloonPolicy(options: BalloonPolicyOptions | null): Promise<BalloonPolicyConfig | null> {
    if (this.policy) clearInterval(this.policy.timer);
    this.policy = undefined;
    if (!options) return null;
    const balloons = (): PolicyPartition[] =>
      [...this.parts].flatMap(([id, p]) => {
        const oc = p.machine.overcommit;
        if (p.state !== 'running' || !oc?.balloonStatus()) return [];
        return [{ id, ramBytes: p.spec.memory, balloonStatus: () => oc.balloonStatus(), setBalloonTarget: (b: number) => oc.setBalloonTarget(b) }];
      });
    const held = balloons().reduce((sum, p) => sum + p.balloonStatus()!.targetBytes, 0);
    if (options.budgetBytes === undefined && held === 0) {
      throw new ControlError('balloon policy: no running partition has a balloon to take its budget from (give budgetBytes)');
    }
    const config = {
      budgetBytes: options.budgetBytes ?? held,
      stepBytes: options.stepBytes ?? 16 << 20,
      ...(options.bufferPercent !== undefined ? { bufferPercent: options.bufferPercent } : {}),
    };
    const interval = options.intervalMs ?? 1000;
    if (!Number.isSafeInteger(interval) || interval < 10) throw new ControlError(`balloon policy: intervalMs must be at least 10, got ${interval}`);
    let policy: BalloonPolicy;
    try {
      policy = new BalloonPolicy(balloons, config);
    } catch (e) {
      if (e instanceof RangeError) throw new ControlError(e.message);
      throw e;
    }
    this.policy = { policy, timer: setInterval(() => policy.step(), interval) };
    return config;
  }

  async pcpuStats(): Promise<PcpuStats[]> {
    const s = this.sched;
    return Array.from({ length: this.npcpus }, (_, pcpu) => {
      const st = (which: number) => Number(s.schedPcpuStat(pcpu, which));
      return { pcpu, busy: st(PcpuStat.BUSY), idle: st(PcpuStat.IDLE), runs: st(PcpuStat.RUNS), switches: st(PcpuStat.SWITCHES), steals: st(PcpuStat.STEALS) };
    });
  }

  async hostMemory(): Promise<HostMemoryStats> {
    const k = this.hv.kernel;
    const sharing = sharingCounters(k);
    let vcpus = 0;
    let ramPages = sharing.pagesShared;
    // A finished partition holds its RAM until it is destroyed (the playground's finished cards).
    for (const { machine: m } of this.parts.values()) {
      vcpus += m.vcpuCount;
      ramPages += m.overcommit?.map().private ?? m.config.ramSize / 4096;
    }
    (globalThis as { gc?: () => void }).gc?.();
    const used = k.exports.framesUsed();
    return {
      poolBytes: (used + k.exports.framesAvailable()) * 4096,
      usedBytes: used * 4096,
      ramBytes: ramPages * 4096,
      vcpuBytes: vcpus * k.layout.vcpuSize + this.parts.size * k.layout.partSize,
      rootHeapBytes: typeof process === 'undefined' ? 0 : process.memoryUsage().heapUsed,
      sharing,
    };
  }

  /** Posts `{ barrier: token }` on the console channel: everything written before it has arrived when it does. */
  async consoleBarrier(token: number): Promise<void> {
    this.flushConsoles();
    this.consolePort?.postMessage({ barrier: token });
  }

  async shutdown(): Promise<void> {
    if (this.policy) clearInterval(this.policy.timer);
    for (const p of this.parts.values()) this.finish(p, { kind: 'off' });
    // A migration before its point of no return fails (its partition
    // ended; at the latest when RDY comes) and one past it finishes (GO,
    // DONE): either way it answers.
    await Promise.all(this.migrations);
    this.closed = true;
    this.shared.shutdown();
    this.shared.postExit(0); // wakes the service loop so that it sees `closed`
    await this.loopDone;
    await this.endpoints.close();
  }
}
