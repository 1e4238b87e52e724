// A threaded host, from the main thread: host physical memory, the root
// partition's worker (devices, control plane) and one worker per pCPU,
// each instantiating the kernel over the one shared memory. The main thread
// keeps nothing but the HostController proxy: it can be a CLI, a test, or
// the playground's page.
//
//   const host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
//   const id = await host.create(spec, (bytes) => process.stdout.write(bytes));
//   await host.start(id);
//   const result = await host.wait(id);
//   await host.close();
import { defaultJitMode, jitHostBytes, type JitMode } from '../jit/tier.ts';
import { proxy, wrap, type Remote } from 'comlink';
import type { PagingMode, RunResult } from '../machine/machine.ts';
import type { BalloonStatus } from '../machine/overcommit.ts';
import type { SwapCounters } from '../machine/swap.ts';
import { InputError } from '../errors.ts';
import {
  ControlError, type ConsoleSink, type HostController, type IncomingState, type Manifest, type MigrateInfo, type MigrateTarget, type MoveInfo,
  type MoveProgress, type PartitionInfo, type PartitionStats, type PcpuStats, type HostMemoryStats, type SaveInfo, type SnapshotInfo,
  type ChannelStatus, type HeartbeatInfo, type KvpPools, type SwitchPortStatus, type BalloonPolicyOptions,
} from './controller.ts';
import type { BalloonPolicyConfig } from './balloon-policy.ts';
import { platform } from '../platform/current.ts';
import type { HostThread, LocalPort } from '../platform/platform.ts';
import { HOST_KERNEL_BYTES } from './hypervisor.ts';
import { HostMemoryError } from './memory-pressure.ts';
import { createHostMemory } from './kernel.ts';
import type { PcpuWorkerData } from './pcpu-worker.ts';
import type { RootWorkerData } from './root-worker.ts';
import type { RootPartition } from './root.ts';
import { HostShared } from './shared.ts';
import type { DiskSpec, NicSpec, PartitionSpec } from './spec.ts';

export interface HostOptions {
  /** pCPU worker threads (default: the machine's parallelism). */
  pcpus?: number;
  /**
   * Host memory for partitions (guest RAM, G-stage and shadow tables): the
   * frame pool, and so the host's memory cap. Overcommit partitions take
   * their RAM from it page by page as they write it; create() refuses a
   * partition whose fixed needs do not fit (HostMemoryError). Default 512 MiB.
   */
  memoryBytes?: number;
  /** Guest instructions per ms of CPU time, the scheduler's unit (default 100 000: ~100 MIPS). */
  insnsPerMs?: number;
  /** The JIT tier of every pCPU (docs/jit.md); default off. */
  jit?: JitMode;
}

export class Host implements HostController {
  /** Console sinks by partition, fed from the root's console channel. */
  private readonly sinks = new Map<number, ConsoleSink>();
  private readonly barriers = new Map<number, () => void>();
  private nextBarrier = 0;

  private constructor(
    private readonly root: HostThread,
    private readonly pcpuWorkers: HostThread[],
    private readonly remote: Remote<RootPartition>,
    private readonly consoles: LocalPort,
    readonly pcpus: number,
    /** Host physical memory, shared with every thread: read-only views for visualizations. */
    readonly memory: WebAssembly.Memory,
  ) {
    consoles.addEventListener('message', (e) => {
      const m = (e as MessageEvent<{ batch?: { id: number; bytes: Uint8Array }[]; barrier?: number }>).data;
      if (m.barrier !== undefined) {
        this.barriers.get(m.barrier)?.();
        this.barriers.delete(m.barrier);
      } else if (m.batch) {
        for (const { id, bytes } of m.batch) this.sinks.get(id)?.(bytes);
      }
    });
  }

  static async start(o: HostOptions = {}): Promise<Host> {
    const pcpus = o.pcpus ?? platform.parallelism();
    if (!Number.isInteger(pcpus) || pcpus < 1 || pcpus > 64) throw new RangeError(`pCPUs must be 1..64, got ${pcpus}`);
    const poolBytes = o.memoryBytes ?? 512 << 20;
    const insnsPerMs = o.insnsPerMs ?? 100_000;
    const memory = createHostMemory(HOST_KERNEL_BYTES + poolBytes + jitHostBytes(HOST_KERNEL_BYTES + poolBytes, pcpus + 1));
    const module = await platform.kernelModule();
    const shared = new HostShared();
    const consoles = platform.channel();
    const rootData: RootWorkerData = { memory, module, poolBytes, shared: shared.buffer, pcpus, insnsPerMs, consolePort: consoles.remote };
    const root = platform.spawn('root-worker', rootData, [consoles.remote]);
    const remote = wrap<RootPartition>(root.endpoint);
    // The pCPUs start meanwhile: until the root has initialized the
    // scheduler, pcpuRun finds no pCPU of theirs and they idle.
    const workers = Array.from({ length: pcpus }, (_, pcpu) => {
      const data: PcpuWorkerData = { memory, module, pcpu, shared: shared.buffer, insnsPerMs, jit: o.jit ?? defaultJitMode() };
      return platform.spawn('pcpu-worker', data);
    });
    await new Promise<void>((resolve, reject) => {
      root.onFailure(reject);
      remote.list().then(() => resolve(), reject);
    }).catch(async (e) => {
      await Promise.all([root, ...workers].map((w) => w.terminate()));
      throw e;
    });
    const host = new Host(root, workers, remote, consoles.local, pcpus, memory);
    host.dead.catch(() => {}); // observed through the calls it fails
    for (const w of [root, ...workers]) w.onFailure((e) => host.fail(e));
    return host;
  }

  private failure: Error | undefined;
  private failed!: (e: Error) => void;
  /** Rejects when a thread of the host dies: every pending call fails with its error. */
  private readonly dead = new Promise<never>((_, reject) => (this.failed = reject));
  private closing = false;
  private fail(e: Error): void {
    if (this.failure || this.closing) return;
    this.failure = e;
    this.failed(e);
  }

  /** Errors thrown on the root's thread arrive as plain Errors: give them back their class. */
  private async call<T>(f: () => Promise<T>): Promise<T> {
    if (this.failure) throw this.failure;
    try {
      return await Promise.race([f(), this.dead]);
    } catch (e) {
      const err = e as Error;
      const cls = { InputError, ControlError, RangeError, HostMemoryError }[err.name as 'InputError'];
      if (!cls || err instanceof cls) throw e;
      const revived = new cls(err.message);
      revived.name = err.name;
      throw revived;
    }
  }

  async create(spec: PartitionSpec, console?: ConsoleSink): Promise<number> {
    const id = await this.call(() => this.remote.create(spec));
    if (console) this.sinks.set(id, console);
    return id;
  }
  save(id: number, path: string): Promise<SaveInfo> {
    return this.call(() => this.remote.save(id, path));
  }
  async restore(path: string, console?: ConsoleSink, options?: { paging?: PagingMode; disks?: DiskSpec[]; name?: string }): Promise<number> {
    const id = await this.call(() => this.remote.restore(path, undefined, options));
    if (console) this.sinks.set(id, console);
    return id;
  }
  migrate(id: number, target: MigrateTarget, options?: { maxDowntimeMs?: number; progress?: boolean; linkRate?: number }): Promise<MigrateInfo> {
    return this.call(() => this.remote.migrate(id, target, options));
  }
  reserveRam(bytes: number): Promise<number> {
    return this.call(() => this.remote.reserveRam(bytes));
  }
  releaseRam(address: number): Promise<void> {
    return this.call(() => this.remote.releaseRam(address));
  }
  async receive(state: IncomingState, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number> {
    const id = await this.call(() => this.remote.receive(state, undefined, options));
    if (console) this.sinks.set(id, console);
    return id;
  }
  snapshot(id: number, dir: string, options?: { name?: string }): Promise<SnapshotInfo> {
    return this.call(() => this.remote.snapshot(id, dir, options));
  }
  listSnapshots(dir: string): Promise<Manifest> {
    return this.call(() => this.remote.listSnapshots(dir));
  }
  /** The new partition's console goes to `console`, or else to the reverted partition's. */
  async revert(target: number | string, snapshotId: string, console?: ConsoleSink, options?: { paging?: PagingMode }): Promise<number> {
    const id = await this.call(() => this.remote.revert(target, snapshotId, undefined, options));
    const sink = console ?? (typeof target === 'number' ? this.sinks.get(target) : undefined);
    if (sink) this.sinks.set(id, sink);
    return id;
  }
  deleteSnapshot(dir: string, snapshotId: string): Promise<void> {
    return this.call(() => this.remote.deleteSnapshot(dir, snapshotId));
  }
  async clone(dir: string, snapshotId: string, newDir: string, console?: ConsoleSink, options?: { name?: string; paging?: PagingMode }): Promise<number> {
    const id = await this.call(() => this.remote.clone(dir, snapshotId, newDir, undefined, options));
    if (console) this.sinks.set(id, console);
    return id;
  }
  /** `onProgress` is called on this thread (comlink proxies it), about every 100 ms. */
  moveDisk(id: number, disk: number, path: string, onProgress?: (p: MoveProgress) => void): Promise<MoveInfo> {
    return this.call(() => this.remote.moveDisk(id, disk, path, onProgress && proxy(onProgress)));
  }
  start(id: number): Promise<void> {
    return this.call(() => this.remote.start(id));
  }
  pause(id: number): Promise<void> {
    return this.call(() => this.remote.pause(id));
  }
  resume(id: number): Promise<void> {
    return this.call(() => this.remote.resume(id));
  }
  stop(id: number, why?: 'off' | 'timeout'): Promise<void> {
    return this.call(() => this.remote.stop(id, why));
  }
  reset(id: number): Promise<void> {
    return this.call(() => this.remote.reset(id));
  }
  destroy(id: number): Promise<void> {
    return this.call(() => this.remote.destroy(id));
  }
  /** Resolves with the partition's result once it finishes, after the last of its console output. */
  async wait(id: number): Promise<RunResult> {
    const result = await this.call(() => this.remote.wait(id) as Promise<RunResult>);
    const token = this.nextBarrier++;
    const drained = new Promise<void>((resolve) => this.barriers.set(token, resolve));
    await this.call(() => this.remote.consoleBarrier(token));
    await this.call(() => drained);
    return result;
  }
  input(id: number, bytes: Uint8Array): Promise<void> {
    return this.call(() => this.remote.input(id, bytes));
  }
  list(): Promise<PartitionInfo[]> {
    return this.call(() => this.remote.list());
  }
  stats(id: number): Promise<PartitionStats> {
    return this.call(() => this.remote.stats(id));
  }
  balloon(id: number, targetBytes: number): Promise<BalloonStatus> {
    return this.call(() => this.remote.balloon(id, targetBytes));
  }
  swapOut(id: number, pages: number): Promise<SwapCounters> {
    return this.call(() => this.remote.swapOut(id, pages));
  }
  balloonPolicy(options: BalloonPolicyOptions | null): Promise<BalloonPolicyConfig | null> {
    return this.call(() => this.remote.balloonPolicy(options));
  }
  pcpuStats(): Promise<PcpuStats[]> {
    return this.call(() => this.remote.pcpuStats());
  }
  endpointStats(): Promise<{ lends: number; serves: number }> {
    return this.call(() => this.remote.endpointStats());
  }
  rootBusyMs(): Promise<number> {
    return this.call(() => this.remote.rootBusyMs());
  }
  hostMemory(): Promise<HostMemoryStats> {
    return this.call(() => this.remote.hostMemory());
  }
  guestShutdown(id: number, options?: { reboot?: boolean }): Promise<void> {
    return this.call(() => this.remote.guestShutdown(id, options));
  }
  kvpRead(id: number): Promise<KvpPools> {
    return this.call(() => this.remote.kvpRead(id));
  }
  kvpWrite(id: number, key: string, value: string): Promise<void> {
    return this.call(() => this.remote.kvpWrite(id, key, value));
  }
  heartbeat(id: number): Promise<HeartbeatInfo> {
    return this.call(() => this.remote.heartbeat(id));
  }
  channels(id: number): Promise<ChannelStatus[]> {
    return this.call(() => this.remote.channels(id));
  }
  addVmbusDisk(id: number, disk: DiskSpec): Promise<number> {
    return this.call(() => this.remote.addVmbusDisk(id, disk));
  }
  addVmbusNic(id: number, nic: NicSpec = {}): Promise<number> {
    return this.call(() => this.remote.addVmbusNic(id, nic));
  }
  removeVmbusDevice(id: number, relid: number): Promise<void> {
    return this.call(() => this.remote.removeVmbusDevice(id, relid));
  }
  switchPorts(): Promise<SwitchPortStatus[]> {
    return this.call(() => this.remote.switchPorts());
  }
  shutdown(): Promise<void> {
    return this.call(() => this.remote.shutdown());
  }

  /** Shuts the host down and ends its threads. */
  async close(): Promise<void> {
    this.closing = true;
    try {
      if (!this.failure) await this.remote.shutdown();
    } finally {
      this.consoles.close();
      await Promise.all([...this.pcpuWorkers, this.root].map((w) => w.terminate()));
    }
  }
}
