// A typed window on one vCPU's block in host memory, using the offsets the
// kernel exports (never hand-copied numbers), for boot set-up and statistics.
import type { KernelLayout } from '../host/kernel.ts';

/** A vCPU's event counters (the kernel's H_STAT_* words), by the names the host reports them under. */
export interface VcpuCounters {
  tlbLookups: number;
  tlbMisses: number;
  /** Whole-TLB flushes, and page- or ASID-granular invalidations (sfence.vma with operands). */
  tlbFlushes: number;
  tlbInvals: number;
  pageWalks: number;
  /** PTE reads of first-stage (guest) walks. */
  walkRefs: number;
  /** Second-stage walks (nested paging) and their PTE reads. */
  gstageWalks: number;
  gstageRefs: number;
  /** Shadow paging: entries built from guest walks, stores caught on page-table pages, whole-shadow drops. */
  shadowFills: number;
  wpFaults: number;
  shadowFlushes: number;
  traps: number;
  interrupts: number;
  /** Device accesses (each a VM exit on a threaded host). */
  mmioExits: number;
  /** SBI calls serviced by the hypervisor (enlightened guests). */
  sbiCalls: number;
  /** Swap-in exits: accesses that found their page in the swap file (runtime/machine/swap.ts). */
  swapExits: number;
}

/** Which kernel statistic (OFF_STAT_<name>) each counter is. */
const COUNTERS: Record<keyof VcpuCounters, string> = {
  tlbLookups: 'TLB_LOOKUPS',
  tlbMisses: 'TLB_MISSES',
  tlbFlushes: 'TLB_FLUSHES',
  tlbInvals: 'TLB_INVALS',
  pageWalks: 'WALKS',
  walkRefs: 'WALK_REFS',
  gstageWalks: 'GWALKS',
  gstageRefs: 'GWALK_REFS',
  shadowFills: 'SHADOW_FILLS',
  wpFaults: 'WP_FAULTS',
  shadowFlushes: 'SHADOW_FLUSHES',
  traps: 'TRAPS',
  interrupts: 'INTERRUPTS',
  mmioExits: 'MMIO',
  sbiCalls: 'SBI_CALLS',
  swapExits: 'SWAP_FAULTS',
};

/** Counters summed over several vCPUs (a partition's totals). */
export function sumCounters(all: readonly VcpuCounters[]): VcpuCounters {
  const sum = {} as VcpuCounters;
  for (const k of Object.keys(COUNTERS) as (keyof VcpuCounters)[]) sum[k] = all.reduce((n, c) => n + c[k], 0);
  return sum;
}

export class VcpuView {
  private readonly dv: DataView;
  private readonly i32: Int32Array;
  constructor(
    memory: WebAssembly.Memory,
    readonly base: number,
    private readonly layout: KernelLayout,
  ) {
    this.dv = new DataView(memory.buffer as ArrayBuffer, base, layout.vcpuSize);
    this.i32 = new Int32Array(memory.buffer as ArrayBuffer, base, layout.vcpuSize / 4);
  }
  private off(name: string): number {
    const o = this.layout.off[name];
    if (o === undefined) throw new Error(`kernel exports no offset ${name}`);
    return o;
  }
  u64(name: string): bigint {
    return this.dv.getBigUint64(this.off(name), true);
  }
  u32(name: string): number {
    return this.dv.getUint32(this.off(name), true);
  }
  getX(r: number): bigint {
    return this.dv.getBigUint64(this.off('X') + r * 8, true);
  }
  setX(r: number, v: bigint): void {
    if (r !== 0) this.dv.setBigUint64(this.off('X') + r * 8, BigInt.asUintN(64, v), true);
  }
  get pc(): bigint {
    return this.u64('PC');
  }
  setPc(v: bigint): void {
    this.dv.setBigUint64(this.off('PC'), BigInt.asUintN(64, v), true);
  }
  get priv(): number {
    return this.u32('PRIV');
  }
  get instret(): number {
    return Number(this.u64('INSTRET'));
  }
  /** Steps this vCPU has taken: instructions retired plus traps taken (exceptions and interrupts), as a slice's budget counts them. */
  get steps(): number {
    return this.instret + this.stat('TRAPS') + this.stat('INTERRUPTS');
  }
  get inWfi(): boolean {
    return this.u32('WFI') !== 0;
  }
  get mtimecmp(): bigint {
    return this.u64('MTIMECMP');
  }
  /** Drives an external interrupt line into mip (MEIP bit 11, SEIP bit 9), atomically. */
  setExternalIrq(bit: number, level: boolean): void {
    const idx = this.off('EXT_IRQ') / 4;
    if (level) Atomics.or(this.i32, idx, 1 << bit);
    else Atomics.and(this.i32, idx, ~(1 << bit));
  }
  stat(name: string): number {
    return Number(this.u64('STAT_' + name));
  }
  counters(): VcpuCounters {
    const c = {} as VcpuCounters;
    for (const [k, name] of Object.entries(COUNTERS) as [keyof VcpuCounters, string][]) c[k] = this.stat(name);
    return c;
  }

  // ---- SBI firmware of enlightened partitions (kernel/hypercall/README.md) ----

  /** Run state: 0 STOPPED, 1 RUNNABLE, 2 STARTING, 3 STOPPING (kernel VcpuState). */
  get state(): number {
    return Atomics.load(this.i32, this.off('STATE') / 4);
  }
  get runnable(): boolean {
    return this.state === 1;
  }
  get stimecmp(): bigint {
    return this.u64('STIMECMP');
  }
  /** What the last SBI call asked of the host (SbiExit; 0 = nothing), cleared by the read. */
  takeSbiExit(): { kind: number; type: number; reason: number } {
    const kind = Atomics.exchange(this.i32, this.off('SBI_EXIT') / 4, 0);
    return { kind, type: this.u32('SBI_EXIT_TYPE'), reason: this.u32('SBI_EXIT_REASON') };
  }
  /** Moves the bytes of the SBI console ring to `out`; returns how many. */
  drainConsole(out: number[]): number {
    const headIdx = this.off('CONS_HEAD') / 4;
    const head = Atomics.load(this.i32, headIdx) >>> 0;
    const tail = Atomics.load(this.i32, this.off('CONS_TAIL') / 4) >>> 0;
    const n = (tail - head) >>> 0;
    if (n === 0) return 0;
    const buf = this.off('CONS_BUF');
    const size = this.layout.consSize;
    for (let i = 0; i < n; i++) out.push(this.dv.getUint8(buf + ((head + i) & (size - 1))));
    Atomics.store(this.i32, headIdx, (head + n) | 0);
    return n;
  }

  // ---- the no-memory exit (kernel/cpu/exception.ts raiseNoMemory) ----

  /**
   * The guest-physical page this vCPU's store found no host frame for, if
   * it took the no-memory exit; taking it clears it (the store runs again
   * when the vCPU next runs).
   */
  takeNoMemory(): number | undefined {
    const v = this.u64('NOMEM_GPA');
    if (v === 0n) return undefined;
    this.dv.setBigUint64(this.off('NOMEM_GPA'), 0n, true);
    return Number(v & ~0xfffn);
  }

  // ---- the swap-in exit (kernel/mm/swap.ts swapFault) ----

  /**
   * The guest-physical page this vCPU waits to have swapped in, if it took
   * the swap-in exit; taking it clears it (the instruction runs again when
   * the vCPU next runs).
   */
  takeSwapIn(): number | undefined {
    const v = this.u64('SWAP_GPA');
    if (v === 0n) return undefined;
    this.dv.setBigUint64(this.off('SWAP_GPA'), 0n, true);
    return Number(v & ~0xfffn);
  }

  // ---- MMIO exits to the root partition (kernel/platform/mmio.ts) ----

  /** The device access this vCPU waits on, if any (MmioState PENDING). */
  mmioRequest(): { write: boolean; addr: number; size: number; value: bigint } | undefined {
    if (Atomics.load(this.i32, this.off('MMIO_STATE') / 4) !== MMIO_PENDING) return undefined;
    return {
      write: this.u32('MMIO_KIND') === 2,
      addr: Number(this.u64('MMIO_ADDR')),
      size: this.u32('MMIO_SIZE'),
      value: this.u64('MMIO_VALUE'),
    };
  }
  /** Completes the pending access: the value read (writes: any), or undefined for a bus error. */
  completeMmio(value: bigint | undefined): void {
    if (value !== undefined) this.dv.setBigUint64(this.off('MMIO_VALUE'), value, true);
    Atomics.store(this.i32, this.off('MMIO_STATE') / 4, value === undefined ? MMIO_FAULT : MMIO_DONE);
  }
}

/** kernel/cpu/hart.ts MmioState. */
const MMIO_PENDING = 1;
const MMIO_DONE = 2;
const MMIO_FAULT = 3;
