// The kernel module as the host sees it: compile once, instantiate per pCPU
// thread over the one shared memory, and call it through a typed surface.
import { readFileSync } from 'node:fs';
import { JitTier, type JitKernel } from '../jit/tier.ts';
import { kernelWasmPath } from './paths.ts';

/** The functions every host must provide to the kernel (its whole import surface). */
export interface KernelImports {
  /**
   * Guest load from a device of partition `id`'s board: `size` is 1, 2 or 4;
   * call exports.mmioFault() for a bus error.
   */
  mmioRead(id: number, addr: number, size: number): number;
  mmioWrite(id: number, addr: number, size: number, value: number): void;
  /** mtime of partition `id`, in 10 MHz ticks. */
  hostClock(id: number): number;
}

/** The kernel's exports (kernel/index.ts). */
export interface KernelExports {
  hostInit(): void;
  framesInit(start: number, end: number): void;
  framesAllocContiguous(count: number, align: number): number;
  framesUsed(): number;
  /** Frames of the pool not handed out. */
  framesAvailable(): number;
  framesFree(base: number, count: number): void;
  partitionEnableNested(id: number): number;
  partitionEnableShadow(id: number): number;
  /** A partition that is gone: its G-stage tables, page-table bitmap and vCPUs' shadow tables back to the pool. */
  partitionDestroy(id: number): void;
  partitionInit(id: number, ramGpa: bigint, ramSize: bigint, ramHost: number, firstVcpu: number, nvcpus: number): number;
  partitionSetTohost(id: number, tohost: bigint): void;
  vcpuReset(index: number, partition: number, hartid: number, pc: bigint): number;
  vcpuRun(index: number, budget: number): number;
  vcpuWakeup(index: number): number;
  vcpuFlushTlb(index: number): void;
  currentVcpu(): number;
  mmioFault(): void;
  /** From inside an mmio callback: the running vCPU returns to the host after this instruction. */
  hostRequestExit(): void;
  // SBI firmware of enlightened partitions (kernel/hypercall/README.md).
  /** on = 1: S-mode ECALLs of partition `id` are serviced by the hypervisor. */
  partitionSetEnlightened(id: number, on: number): void;
  /** vCPU `index` enters S-mode at `pc` with a0/a1 (hartid, device tree), RUNNABLE. */
  vcpuEnterSupervisor(index: number, pc: bigint, a0: bigint, a1: bigint): void;
  /** vCPU `index` is STOPPED until an SBI HSM hart_start. */
  vcpuStop(index: number): void;
  /** Queues one SBI console input byte for partition `id`; 0 when its ring is full. */
  sbiConsoleInput(id: number, byte: number): number;
  /** on = 1: partition `id`'s device accesses exit to the root (threaded hosts) instead of calling mmioRead/mmioWrite. */
  partitionSetMmioExits(id: number, on: number): void;
  /** From any thread: a running vCPU looks at its interrupt lines again. */
  vcpuKick(index: number): void;
  // Dirty logging (kernel/mm/dirty.ts): arm (0 = no frames for the bitmaps),
  // fetch-and-clear (returns the pages dirtied; they are in the bitmap at
  // dirtyLogBitmap), synced once every vCPU dropped its store TLB, stop, release.
  dirtyLogStart(id: number): number;
  dirtyLogFetch(id: number): number;
  dirtyLogBitmap(id: number): number;
  dirtyLogSynced(id: number): number;
  dirtyLogStop(id: number): void;
  dirtyLogRelease(id: number): void;
  // Memory overcommit (kernel/mm/share.ts, docs/memory.md): page sharing and ballooning.
  /** 0 for a direct partition, a bad salt, or no frames for the tables. */
  partitionEnableOvercommit(id: number, salt: number): number;
  /** Host address of a guest-physical page for a host read / write (breaks sharing), -1 = none. */
  partitionHostRead(id: number, gpa: bigint): bigint;
  partitionHostWrite(id: number, gpa: bigint): bigint;
  partitionBalloonPage(id: number, gpa: bigint): number;
  /** which: 0 shared, 1 zero, 2 ballooned pages, 3 COW breaks, 4 pinned pages. */
  partitionMemPages(id: number, which: number): number;
  /** A GPADL page moves into host frame `to` and is pinned there (kernel/mm/pin.ts): 0 done, 1 not RAM, 2 not present (ballooned), 3 pinned already. */
  partitionPinPage(id: number, gpa: bigint, to: number): number;
  partitionUnpinPage(id: number, gpa: bigint): number;
  /** Host address of a page that has a frame now (no side effect), -1 = none. */
  partitionHostPeek(id: number, gpa: bigint): bigint;
  /** One scanner slice over at most `budget` private pages and one lap; returns private pages scanned (0: another thread scans). */
  shareScan(budget: number): number;
  /** Frees frames waiting for a grace period; returns how many. */
  shareReclaim(): number;
  /** Guest pages of every sharing partition: a budget that takes shareScan once over all of them. */
  sharePages(): number;
  shareCounter(which: number): bigint;
  shareRelease(id: number): number;
  /** The scanner's hash over `count` frames (bench reference). */
  hashFrames(host: number, count: number): number;
  /** The same over the frames whose addresses are the u32s at `list`, in that order (the scan bench's like-for-like reference). */
  hashFrameList(list: number, count: number): number;
  // Hypervisor swap (kernel/mm/swap.ts; the root's side is runtime/machine/swap.ts).
  /** Clock from page `hand`: up to `max` victims made evicting, one grace period; list at `out` (next hand, count, page/frame pairs). */
  swapEvictBegin(id: number, hand: number, max: number, out: number): number;
  /** A victim's bytes are in `slot`: swapped, its frame freed (0: it was swapped back in first). */
  swapEvictCommit(id: number, page: number, frame: number, slot: bigint): number;
  /** A victim stays (its bytes could not be written). */
  swapEvictAbort(id: number, page: number, frame: number): number;
  /** The slot of a swapped page, -2 evicting, -1 otherwise. */
  swapSlotOf(id: number, gpa: bigint): bigint;
  /** A swapped page read into `frame` (from frameAlloc) is mapped there again; 0: not in that slot (the frame is freed). */
  swapInInstall(id: number, gpa: bigint, slot: bigint, frame: number): number;
  /** A swapped page goes to the balloon unread: its slot (free now), or -1. */
  swapDiscard(id: number, gpa: bigint): bigint;
  /** One frame from the pool's free list (0: none), and back. */
  frameAlloc(): number;
  frameFree(frame: number): void;
}

/** Layout constants exported by the kernel as wasm globals. */
export interface KernelLayout {
  vcpuSize: number;
  framePool: number;
  maxVcpus: number;
  maxPartitions: number;
  /** Host address of the partition table, and one descriptor's size. */
  partitions: number;
  partSize: number;
  /** Bytes in a vCPU's SBI console output ring. */
  consSize: number;
  /** This SBI implementation's sbi_get_impl_id. */
  sbiImplId: number;
  off: Record<string, number>;
}

export const Exit = { BUDGET: 0, WFI: 1, HALT: 2, HOST: 3 } as const;

let compiled: WebAssembly.Module | undefined;

export function kernelModule(): WebAssembly.Module {
  return (compiled ??= new WebAssembly.Module(readFileSync(kernelWasmPath())));
}

export interface KernelInstance {
  readonly exports: KernelExports;
  readonly layout: KernelLayout;
  /** This instance's JIT tier (off until its setMode). */
  readonly jit: JitTier;
}

/** An instance over `memory` (of `module`, compiled once per host and sent to each thread). */
export function instantiateKernel(memory: WebAssembly.Memory, imports: KernelImports, module = kernelModule()): KernelInstance {
  const jit = new JitTier(memory);
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      table: jit.table,
      jitCompile: jit.compile,
      jitPoll: jit.poll,
      mmioRead: imports.mmioRead,
      mmioWrite: imports.mmioWrite,
      hostClock: imports.hostClock,
      abort: (msg: number, file: number, line: number, col: number) => {
        throw new Error(`kernel abort at ${line}:${col} (message @${msg}, file @${file})`);
      },
    },
  });
  const ex = instance.exports as Record<string, unknown>;
  const g = (name: string) => (ex[name] as WebAssembly.Global).value as number;
  const off: Record<string, number> = {};
  for (const name of Object.keys(ex)) if (name.startsWith('OFF_')) off[name.slice(4)] = g(name);
  jit.attach(ex as unknown as JitKernel, g('LAYOUT_RVC_TABLE'), g('LAYOUT_JIT_STATE'), {
    pc: off.PC!,
    attention: off.ATTENTION!,
    tlb: off.TLB!,
    f: off.F!,
    mstatus: off.MSTATUS!,
  });
  return {
    jit,
    exports: ex as unknown as KernelExports,
    layout: {
      vcpuSize: g('LAYOUT_VCPU_SIZE'),
      framePool: g('LAYOUT_FRAME_POOL'),
      maxVcpus: g('LAYOUT_MAX_VCPUS'),
      maxPartitions: g('LAYOUT_MAX_PARTITIONS'),
      partitions: g('LAYOUT_PARTITIONS'),
      partSize: g('LAYOUT_PART_SIZE'),
      consSize: g('LAYOUT_CONS_SIZE'),
      sbiImplId: Number(g('SBI_IMPLEMENTATION_ID')),
      off,
    },
  };
}

/** One shared memory: host physical memory. wasm32 caps it at 4 GiB. */
export function createHostMemory(bytes: number): WebAssembly.Memory {
  const pages = Math.ceil(bytes / 65536);
  if (pages > 65536) throw new RangeError(`host memory of ${bytes} bytes exceeds the 4 GiB wasm32 limit`);
  return new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true });
}
