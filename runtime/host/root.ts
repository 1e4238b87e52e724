// The root (parent) partition of a threaded host: it owns the device models
// of every child partition and the control plane. vCPUs run on the pCPU
// threads (pcpu-worker.ts); a device access, an HTIF write or an SBI call
// that needs the host is a VM exit they post to this thread (shared.ts),
// which services it on the partition's Machine and wakes the vCPU.
//
// This file is the partitions' lifecycle and the service of an exit; the
// loop that takes exits, signals, consoles and the scanner in turn is
// root-loop.ts, console output leaves through root-console.ts, and the other
// verbs are in groups of their own, over the Root view of this
// (root-partition.ts): root-vmbus.ts, root-memory.ts, root-snapshots.ts,
// root-migrate.ts and root-stats.ts.
import type { Machine, PagingMode, RunResult } from '../machine/machine.ts';
import { closeDisks, createPartition, setupPartition } from '../machine/setup.ts';
import { loadSave, readSave, restorePartition, type LoadedSave } from '../persist/partition.ts';
import { loadedState } from '../migrate/state.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { ControlError, type ConsoleSink, type HostController, type IncomingState, type PartitionInfo, type PartitionStats, type PcpuStats } from './controller.ts';
import { InputError } from '../errors.ts';
import { Hypervisor } from './hypervisor.ts';
import { HostMemoryError } from './memory-pressure.ts';
import { schedExports, SState, type SchedExports } from './sched.ts';
import type { HostShared } from './shared.ts';
import { checkPartition, SpecError, type DiskSpec, type PartitionSpec } from './spec.ts';
import { closeHotDisks, noHotDisks } from './vmbus-hotplug.ts';
import { EndpointServer } from './endpoint-server.ts';
import { kernelModule } from './kernel.ts';
import { asInput, mustBeLive, nameFree, type Partition, type Root } from './root-partition.ts';
import { lendChannels, offloadChannels, recallChannels, RootVmbus } from './root-vmbus.ts';
import { RootMemory } from './root-memory.ts';
import { RootSnapshots } from './root-snapshots.ts';
import { RootMigration } from './root-migrate.ts';
import { partitionInfo, partitionStats, pcpuStats } from './root-stats.ts';
import { ConsoleChannel, type ConsolePort } from './root-console.ts';
import { ServiceLoop } from './root-loop.ts';

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
  consolePort?: ConsolePort;
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
  /** The data plane (root-loop.ts). */
  private readonly loop: ServiceLoop;
  private readonly consoles: ConsoleChannel;
  /** Serves partitions' storvsc channels on a thread of its own: lent while they run, recalled around what the root does to them. */
  private readonly endpoints: EndpointServer;

  // The verb groups, over a view of this object (root-partition.ts Root).
  private readonly root: Root;
  private readonly vmbus: RootVmbus;
  private readonly mem: RootMemory;
  private readonly snapshots: RootSnapshots;
  private readonly migration: RootMigration;

  constructor(o: RootOptions) {
    this.hv = new Hypervisor(o.poolBytes, o.memory, o.module);
    this.sched = schedExports(this.hv.kernel.exports);
    if (!this.sched.schedInit(o.pcpus, o.insnsPerMs)) throw new RangeError(`cannot schedule ${o.pcpus} pCPUs`);
    this.shared = o.shared;
    this.npcpus = o.pcpus;
    this.consoles = new ConsoleChannel(o.consolePort);
    this.endpoints = new EndpointServer({
      memory: o.memory, module: () => o.module ?? kernelModule(), shared: o.shared, alloc: (pages) => this.hv.kernel.exports.framesAllocContiguous(pages, 4096),
    });
    this.root = {
      hv: this.hv, sched: this.sched, parts: this.parts,
      get: (id) => this.get(id),
      pause: (id) => this.pause(id),
      resume: (id) => this.resume(id),
      destroy: (id) => this.destroy(id),
      quiesce: (p) => this.quiesce(p),
      finish: (p, result) => this.finish(p, result),
      restoreSave: (save, console, options) => this.restoreSave(save, console, options),
      offload: (p) => offloadChannels(this.endpoints, p),
    };
    this.vmbus = new RootVmbus(this.root);
    this.mem = new RootMemory(this.root);
    this.snapshots = new RootSnapshots(this.root);
    this.migration = new RootMigration(this.root);
    this.loop = new ServiceLoop({
      shared: this.shared, parts: this.parts,
      service: (v) => this.service(v),
      flushConsoles: () => this.consoles.flush(),
      shareScan: (pages) => this.hv.kernel.exports.shareScan(pages),
    });
  }

  /** Channels lent to the endpoint worker so far, and its wake-ups that served a signal (tests, --stats). */
  async endpointStats(): Promise<{ lends: number; serves: number }> {
    return this.endpoints.stats();
  }

  async rootBusyMs(): Promise<number> {
    const elu = (performance as { eventLoopUtilization?: () => { active: number } }).eventLoopUtilization;
    return elu ? elu().active : NaN;
  }

  // ---- the data plane: VM exits ------------------------------------------------

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
    recallChannels(p);
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
    recallChannels(p); // the worker lets go of its disks before they are closed
    for (let i = 0; i < m.vcpuCount; i++) this.sched.schedRemoveVcpu(m.firstVcpu + i);
    if (p.startedAt !== undefined) m.addWallMs(performance.now() - p.startedAt);
    p.state = 'finished';
    m.poll(); // the last console bytes
    this.consoles.flush(); // now: after a shutdown's finishes no poll comes
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
    const out = this.consoles.sink(console, id);
    return (bytes) => {
      const p = this.parts.get(id());
      if (p) p.printed += bytes.length;
      out(bytes);
    };
  }

  private notClosed(): void {
    if (this.closed) throw new ControlError('the host is shut down');
  }

  private get(id: number): Partition {
    const p = this.parts.get(id);
    if (!p) throw new ControlError(`no partition ${id}`);
    return p;
  }

  async create(spec: PartitionSpec, console?: ConsoleSink): Promise<number> {
    this.notClosed();
    nameFree(this.parts, spec.name);
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
    this.notClosed();
    let id = -1;
    const sink = this.sinkFor(console, () => id);
    let made;
    let spec: PartitionSpec;
    try {
      spec = { ...save.spec, paging: options.paging ?? save.spec.paging };
      nameFree(this.parts, spec.name);
      made = restorePartition(save, this.hv, { onConsole: (b) => void sink(b), exits: true, clock: 'realtime', paging: spec.paging });
    } catch (e) {
      if (e instanceof InputError && e.name !== 'InputError') throw new InputError(e.message);
      throw e;
    }
    id = this.register(spec, made);
    return id;
  }

  async receive(state: IncomingState, console?: ConsoleSink, options: { paging?: PagingMode } = {}): Promise<number> {
    this.notClosed();
    let id = -1;
    const sink = this.sinkFor(console, () => id);
    const save = loadedState(state.meta, state.records);
    const spec = { ...save.spec, paging: options.paging ?? save.spec.paging };
    nameFree(this.parts, spec.name);
    const ramHost = state.ramHost;
    if (!this.migration.reserved(ramHost, spec.memory)) throw new ControlError(`no reservation of ${spec.memory} bytes of RAM at ${ramHost}`);
    // The stream wrote the RAM in place: the partition is built around it.
    const made = createPartition(spec, this.hv, { onConsole: (b) => void sink(b), exits: true, clock: 'realtime', ramHost });
    this.migration.takeReservation(ramHost); // the partition's now (loadSave frees it if a record does not check)
    loadSave(save, made, this.hv);
    id = this.register(spec, made);
    return id;
  }

  async reserveRam(bytes: number): Promise<number> {
    this.notClosed();
    return this.migration.reserveRam(bytes);
  }

  readonly releaseRam: HostController['releaseRam'] = (...a) => this.migration.releaseRam(...a);

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
    this.root.offload(p);
    return machine.id;
  }

  async start(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'created') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not created`);
    const m = p.machine;
    p.state = 'running';
    p.startedAt = performance.now();
    lendChannels(p); // a restored partition's open channels
    // Spread the vCPUs: the scheduler puts each on the least loaded pCPU.
    for (let i = 0; i < m.vcpuCount; i++) this.sched.schedAddVcpu(m.firstVcpu + i, -1);
  }

  async pause(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'running') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    this.sched.partitionSetHalted(id, 1);
    p.state = 'paused';
    recallChannels(p); // saves, snapshots and migration read the devices' state and disks here
  }

  async resume(id: number): Promise<void> {
    const p = this.get(id);
    if (p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not paused`);
    p.state = 'running';
    lendChannels(p);
    this.sched.partitionSetHalted(id, 0);
    p.machine.vmbus?.resumed(); // timesync sets the guest's clock again: it stood still while paused
  }

  async reset(id: number): Promise<void> {
    const p = this.get(id);
    mustBeLive(p);
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
    return [...this.parts].map(([id, p]) => partitionInfo(id, p));
  }

  async stats(id: number): Promise<PartitionStats> {
    return partitionStats(id, this.get(id), this.sched);
  }

  async pcpuStats(): Promise<PcpuStats[]> {
    return pcpuStats(this.sched, this.npcpus);
  }

  // ---- the verb groups (root-*.ts), as HostController names them ---------------
  // Own properties of this object, which root-worker.ts exposes over comlink
  // (it calls them by name); typed by HostController, so a verb that changes
  // there fails to compile here.

  readonly save: HostController['save'] = (...a) => this.migration.save(...a);
  readonly migrate: HostController['migrate'] = (...a) => this.migration.migrate(...a);

  readonly snapshot: HostController['snapshot'] = (...a) => this.snapshots.snapshot(...a);
  readonly listSnapshots: HostController['listSnapshots'] = (...a) => this.snapshots.listSnapshots(...a);
  readonly revert: HostController['revert'] = (...a) => this.snapshots.revert(...a);
  readonly deleteSnapshot: HostController['deleteSnapshot'] = (...a) => this.snapshots.deleteSnapshot(...a);
  readonly clone: HostController['clone'] = (...a) => this.snapshots.clone(...a);
  readonly moveDisk: HostController['moveDisk'] = (...a) => this.snapshots.moveDisk(...a);

  readonly guestShutdown: HostController['guestShutdown'] = (...a) => this.vmbus.guestShutdown(...a);
  readonly kvpRead: HostController['kvpRead'] = (...a) => this.vmbus.kvpRead(...a);
  readonly kvpWrite: HostController['kvpWrite'] = (...a) => this.vmbus.kvpWrite(...a);
  readonly heartbeat: HostController['heartbeat'] = (...a) => this.vmbus.heartbeat(...a);
  readonly channels: HostController['channels'] = (...a) => this.vmbus.channels(...a);
  readonly addVmbusDisk: HostController['addVmbusDisk'] = (...a) => this.vmbus.addVmbusDisk(...a);
  readonly addVmbusNic: HostController['addVmbusNic'] = (...a) => this.vmbus.addVmbusNic(...a);
  readonly removeVmbusDevice: HostController['removeVmbusDevice'] = (...a) => this.vmbus.removeVmbusDevice(...a);
  readonly switchPorts: HostController['switchPorts'] = (...a) => this.vmbus.switchPorts(...a);

  readonly balloon: HostController['balloon'] = (...a) => this.mem.balloon(...a);
  readonly swapOut: HostController['swapOut'] = (...a) => this.mem.swapOut(...a);
  readonly balloonPolicy: HostController['balloonPolicy'] = (...a) => this.mem.balloonPolicy(...a);
  readonly hostMemory: HostController['hostMemory'] = (...a) => this.mem.hostMemory(...a);

  /** Posts `{ barrier: token }` on the console channel: everything written before it has arrived when it does. */
  async consoleBarrier(token: number): Promise<void> {
    this.consoles.barrier(token);
  }

  async shutdown(): Promise<void> {
    this.mem.stopPolicy();
    for (const p of this.parts.values()) this.finish(p, { kind: 'off' });
    await this.migration.settled(); // each answers: it failed or finished
    this.closed = true;
    this.shared.shutdown();
    await this.loop.stop();
    await this.endpoints.close();
  }
}
