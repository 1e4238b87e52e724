// The hypervisor as the host sees it: one shared memory (host physical
// memory), the kernel instance of this thread, the frame pool, and the
// partitions, whose vCPUs it runs.
//
// This is the deterministic mode of the design: every pCPU's work on one
// thread, in a fixed order (round-robin over runnable vCPUs, one slice
// each), so the same guests and input give the same run. Threaded pCPUs
// reuse every piece here: the kernel calls, the partition registry and the
// per-partition services.
import { createHostMemory, Exit, instantiateKernel, type KernelInstance } from './kernel.ts';
import { SchedExit, schedExports } from './sched.ts';
import { jitHostBytes, type JitMode } from '../jit/tier.ts';
import { HostMemoryError, MemoryPressure } from './memory-pressure.ts';

/** What the hypervisor needs from a partition (runtime/machine/machine.ts implements it). */
export interface Guest {
  readonly id: number;
  readonly firstVcpu: number;
  readonly vcpuCount: number;
  /** Set once the guest has finished (exit, reset, stopped, limit). */
  readonly result: unknown;
  mmioRead(addr: number, size: number): number;
  mmioWrite(addr: number, size: number, value: number): void;
  clockNow(): number;
  /** Before each round over the vCPUs (console input, ...). */
  beforeRound(): void;
  /** May vCPU `i` (partition-relative) run now? */
  runnable(i: number): boolean;
  /** Slice budget for vCPU i given the caller's slice, or 0 to skip it. */
  budget(i: number, slice: number): number;
  /** After vCPU `i` returned `exit`. */
  afterRun(i: number, exit: number): void;
  /**
   * A restored guest first finishes the round it was saved in: true if a
   * vCPU of it ran in that round before the save (so the round is not idle).
   */
  roundCarried?(): boolean;
  /** After each round: console out, limits; `ran` says whether any vCPU ran. */
  afterRound(ran: boolean): void;
  /** Host ms until this guest's next timer (Infinity: none); icount clocks skip instead. */
  idleMs(): number;
  /** Account wall time spent running. */
  addWallMs(ms: number): void;
  timeout(): void;
  /** After a reset result: reboot (returns true, the result is cleared) if the guest does that. */
  rebootIfReset(): boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  slice?: number;
}

/** Bytes of host memory a partition of `ramSize` needs besides its RAM (tables, bitmaps). */
export function partitionOverhead(ramSize: number, paging: 'direct' | 'nested' | 'shadow'): number {
  // Nested: one 4 KiB G-stage table per 2 MiB, the 16 KiB root, one table per
  // GiB and slack for the root's alignment. Shadow: tables are built on
  // demand; leave them a sixteenth of RAM and 4 MiB more, or as much more as
  // its RAM below 4 MiB: a small RAM needs few tables to map, and 4 MiB each
  // kept 1,000 toy partitions off one host (when the pool runs dry the
  // vCPUs run unshadowed, through full walks).
  // Every mode: the dirty log's two bitmaps (kernel/mm/dirty.ts), 1 bit per page each.
  const dirtyLog = 2 * Math.ceil(ramSize / 4096 / 8 / 4096) * 4096;
  if (paging === 'nested') return Math.floor(ramSize / 512) + 0x1_0000 + dirtyLog;
  if (paging === 'shadow') return Math.floor(ramSize / 16) + Math.min(0x40_0000, ramSize) + dirtyLog;
  return dirtyLog;
}

/**
 * Of partitionOverhead, what creating the partition takes from the pool at
 * once (admission control): the G-stage tables of nested paging or of
 * overcommit (its per-page map), the page-table bitmap of shadow paging.
 * Shadow tables and the dirty log are allocated as they are needed.
 */
export function partitionTables(ramSize: number, paging: 'direct' | 'nested' | 'shadow', overcommit: boolean): number {
  const gstage = paging === 'nested' || overcommit ? Math.floor(ramSize / 512) + 0x1_0000 : 0;
  const bitmap = paging === 'shadow' ? Math.ceil(ramSize / 4096 / 8 / 4096) * 4096 : 0;
  return gstage + bitmap;
}

/** Host memory below the frame pool: the kernel's fixed regions (kernel/layout.ts; checked at start). */
export const HOST_KERNEL_BYTES = 0x0120_0000;

export class Hypervisor {
  readonly memory: WebAssembly.Memory;
  readonly kernel: KernelInstance;
  private readonly guests: Guest[] = [];
  /** What the root does when the frame pool runs dry (the no-memory exit); hypervisor swap registers here. */
  readonly pressure: MemoryPressure;
  private nextVcpu = 0;
  private nextPartition = 0;

  /**
   * `poolBytes`: host memory for guest RAM and second-stage structures,
   * beyond the kernel's regions. `memory`: host memory created elsewhere
   * (a threaded host's main thread), which this hypervisor initializes.
   */
  constructor(poolBytes: number, memory?: WebAssembly.Memory, module?: WebAssembly.Module) {
    this.memory = memory ?? createHostMemory(HOST_KERNEL_BYTES + poolBytes + jitHostBytes(HOST_KERNEL_BYTES + poolBytes, 1));
    const FRAME_POOL = HOST_KERNEL_BYTES;
    const byId = (id: number): Guest => {
      const g = this.guests[id];
      if (!g) throw new Error(`kernel asked about unknown partition ${id}`);
      return g;
    };
    this.kernel = instantiateKernel(this.memory, {
      mmioRead: (id, addr, size) => byId(id).mmioRead(addr >>> 0, size),
      mmioWrite: (id, addr, size, value) => byId(id).mmioWrite(addr >>> 0, size, value),
      hostClock: (id) => byId(id).clockNow(),
    }, module);
    if (this.kernel.layout.framePool !== FRAME_POOL) throw new Error('kernel layout changed: update FRAME_POOL in Hypervisor');
    this.kernel.exports.hostInit();
    this.kernel.exports.framesInit(FRAME_POOL, Math.min(this.memory.buffer.byteLength, 0xffff_f000));
    this.pressure = new MemoryPressure(this.kernel);
  }

  /** This thread's JIT tier (docs/jit.md): off, on (hot code) or always (at first execution). */
  setJit(mode: JitMode, threshold?: number): void {
    this.kernel.jit.setMode(mode, threshold);
  }

  /**
   * Reserves a partition id and `vcpus` vCPU slots; returns them with the
   * host address of `ramSize` bytes of RAM: `reserved` (from reserveRam,
   * now the partition's) or new frames.
   */
  allocate(ramSize: number, vcpus: number, reserved?: number): { id: number; firstVcpu: number; ramHost: number } {
    if (this.nextPartition >= this.kernel.layout.maxPartitions) throw new RangeError('too many partitions');
    if (this.nextVcpu + vcpus > this.kernel.layout.maxVcpus) throw new RangeError('too many vCPUs');
    // ramSize 0: no run (demand-allocated RAM, overcommit); ramHost is then 0.
    const ramHost = reserved ?? (ramSize > 0 ? this.reserveRam(ramSize) : 0);
    const id = this.nextPartition++;
    const firstVcpu = this.nextVcpu;
    this.nextVcpu += vcpus;
    return { id, firstVcpu, ramHost };
  }

  /**
   * Page sharing on the deterministic hosts (kernel/mm/share.ts): the
   * scanner looks at this many private pages (with a frame of their own;
   * the others cost no budget) after every round (0: never). The rate
   * control; a round is at most one slice of every vCPU.
   */
  sharePagesPerRound = 0;

  /**
   * `bytes` of zeroed guest RAM in host frames, for a partition created
   * later on them (MachineConfig.ramHost): a live migration's target writes
   * the incoming pages there while they arrive. framesFree returns them.
   */
  reserveRam(bytes: number): number {
    const ramHost = this.kernel.exports.framesAllocContiguous(bytes / 4096, 4096) >>> 0;
    if (!ramHost) throw new RangeError(`host memory exhausted: cannot place ${bytes} bytes of guest RAM`);
    return ramHost;
  }

  /**
   * Admission control: refuses (HostMemoryError) `what` when the `bytes` it
   * takes from the pool at once do not fit in what the pool has left.
   * Overcommitted RAM is not counted: it comes page by page, and when the
   * pool runs dry the no-memory exit deals with it (memory-pressure.ts).
   */
  admit(bytes: number, what: string): void {
    let free = this.kernel.exports.framesAvailable() * 4096;
    if (bytes <= free) return;
    // Running overcommit partitions may hold frames the host can take back
    // (page sharing, swap), as a vCPU's no-memory exit would.
    free = this.pressure.reclaim(Math.ceil(bytes / 4096)) * 4096;
    if (bytes <= free) return;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    throw new HostMemoryError(`host memory exhausted: ${what} needs ${mib(bytes)} of host memory at once, the host has ${mib(free)} left`);
  }

  register(guest: Guest): void {
    this.guests[guest.id] = guest;
  }

  /** Forgets a partition (its id and vCPU slots are not reused). */
  unregister(id: number): void {
    delete this.guests[id];
  }

  /**
   * Deterministic mode on the kernel scheduler: `pcpus` pCPUs on this
   * thread in a fixed order (kernel/sched, schedRunDeterministic), weights,
   * caps and reservations as set with schedSetParams, guest time from the
   * pCPUs' clocks (guests built with clock 'sched'), `insnsPerMs`
   * instructions per ms of CPU. Runs until every guest has a result (or the
   * timeout).
   */
  async runScheduled(pcpus: number, options: RunOptions & { insnsPerMs?: number; params?: (id: number) => void } = {}): Promise<void> {
    const s = schedExports(this.kernel.exports);
    const insnsPerMs = options.insnsPerMs ?? 1_000_000; // 1 ns per instruction, as QEMU's -icount 0
    if (!s.schedInit(pcpus, insnsPerMs)) throw new RangeError(`cannot schedule ${pcpus} pCPUs`);
    const owner: Guest[] = [];
    for (const g of this.live()) {
      options.params?.(g.id);
      for (let i = 0; i < g.vcpuCount; i++) {
        owner[g.firstVcpu + i] = g;
        s.schedAddVcpu(g.firstVcpu + i, -1);
      }
    }
    const retire = (g: Guest) => {
      for (let i = 0; i < g.vcpuCount; i++) s.schedRemoveVcpu(g.firstVcpu + i);
    };
    const step = BigInt(insnsPerMs); // 1 ms of every pCPU per call at most
    await this.rounds(
      options,
      (guests) => {
        for (const g of guests) g.beforeRound();
        let until = s.pcpuClock(0);
        for (let p = 1; p < pcpus; p++) if (s.pcpuClock(p) < until) until = s.pcpuClock(p);
        const r = s.schedRunDeterministic(until + step, 256);
        if (r === SchedExit.HOST || r === SchedExit.HALT) {
          const v = s.pcpuExitVcpu(s.schedExitPcpu());
          const g = owner[v];
          if (g) g.afterRun(v - g.firstVcpu, r === SchedExit.HOST ? Exit.HOST : Exit.HALT);
          if (g && r === SchedExit.HALT && g.result === undefined) s.schedWake(v);
        }
        for (const g of guests) {
          g.afterRound(false);
          if (g.result === undefined) continue;
          retire(g);
          if (g.rebootIfReset()) for (let i = 0; i < g.vcpuCount; i++) s.schedAddVcpu(g.firstVcpu + i, -1);
        }
        return undefined; // idle pCPUs move their own clocks
      },
      retire,
    );
  }

  /** Runs every registered guest until each has a result (or the timeout). */
  async run(options: RunOptions = {}): Promise<void> {
    const slice = options.slice ?? 100_000;
    const k = this.kernel.exports;
    await this.rounds(options, (guests, msLeft) => {
      let ran = false;
      for (const g of guests) {
        g.beforeRound();
        let ranHere = g.roundCarried?.() ?? false;
        ran ||= ranHere;
        for (let i = 0; i < g.vcpuCount && g.result === undefined; i++) {
          if (!g.runnable(i)) continue;
          const budget = g.budget(i, slice);
          if (budget <= 0) continue;
          ran = ranHere = true;
          g.afterRun(i, k.vcpuRun(g.firstVcpu + i, budget));
        }
        g.afterRound(ranHere);
        g.rebootIfReset(); // every vCPU is on this thread: none is running
      }
      return ran ? undefined : Math.min(...this.live().map((g) => g.idleMs()), 10, msLeft);
    });
  }

  private live(): Guest[] {
    return this.guests.filter((g) => g && g.result === undefined);
  }

  /**
   * The shell of both deterministic loops: rounds until every guest has a
   * result or the timeout passes (then `timedOut` for each one left), wall
   * time charged to the live guests, and the event loop let in (stdin,
   * timers) every 20 ms. `round` returns undefined when vCPUs ran, or how
   * long to wait for a timer when none could (ms, 0 = go on).
   */
  private async rounds(options: RunOptions, round: (guests: Guest[], msLeft: number) => number | undefined, timedOut?: (g: Guest) => void): Promise<void> {
    const start = performance.now();
    const deadline = options.timeoutMs === undefined ? Infinity : start + options.timeoutMs;
    let lastYield = start;
    let lastTick = start;
    try {
      for (let guests = this.live(); guests.length; guests = this.live()) {
        const idleMs = round(guests, Math.max(0, deadline - performance.now()));
        this.kernel.jit.poll(); // queued translations (--jit on) compiled between rounds
        // Page sharing's fixed point: between rounds no vCPU runs, so where
        // the scanner is and what it merged is the same every run.
        if (this.sharePagesPerRound > 0) this.kernel.exports.shareScan(this.sharePagesPerRound);
        const now = performance.now();
        for (const g of guests) g.addWallMs(now - lastTick);
        lastTick = now;
        if (now >= deadline) {
          for (const g of this.live()) {
            g.timeout();
            timedOut?.(g);
          }
          return;
        }
        if (idleMs !== undefined && idleMs > 0) {
          await new Promise<void>((r) => setTimeout(r, idleMs));
          lastYield = performance.now();
        } else if (now - lastYield > 20) {
          // Also when guests only skipped idle time (icount): stdin and timers need their turn.
          await new Promise<void>((r) => setImmediate(r));
          lastYield = performance.now();
        }
      }
    } finally {
      const now = performance.now();
      for (const g of this.live()) g.addWallMs(now - lastTick);
    }
  }
}
