// A virt machine: one partition with its RAM, harts and board devices, run
// on the calling thread (the multi-pCPU hypervisor builds on the same parts).
import { createVirtBoard, type VirtBoard } from '../../drivers/board/virt.ts';
import { BusError } from '../../drivers/board/bus.ts';
import { writeVirtDtb } from '../../drivers/board/dtb.ts';
import { MEMMAP } from '../../drivers/board/memmap.ts';
import { createHostMemory, Exit, instantiateKernel, type KernelInstance } from '../host/kernel.ts';
import { ElfError, type ElfImage } from '../loader/elf.ts';
import { icountClock, realtimeClock, type ClockMode, type GuestClock } from './clock.ts';
import { consoleAck, decodeTohost } from './htif.ts';
import { VcpuView } from './vcpu-view.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { RamGuestMemory } from '../../drivers/emulated/dma.ts';
import { virtioBlkFactory } from '../../drivers/emulated/virtio/blk.ts';

export interface MachineConfig {
  /** Guest RAM in bytes (QEMU's -m). */
  ramSize: number;
  /** Number of harts (QEMU's -smp). */
  harts: number;
  /** Guest console output. */
  onConsole: (bytes: Uint8Array) => void;
  clock?: ClockMode;
  /** Kernel command line for the device tree. */
  bootargs?: string;
  /**
   * Memory virtualization: 'direct' (RAM is one host range: a check and an
   * offset), 'nested' (real Sv39x4 G-stage tables, a 2-D walk on TLB misses)
   * or 'shadow' (per-vCPU GVA -> host shadow tables; guest page tables
   * write-protected).
   */
  paging?: PagingMode;
  /** Disks for virtio-blk, filling the virtio-mmio slots in order (the first at 0x1000_1000). */
  drives?: readonly BlockDevice[];
}

export type PagingMode = 'direct' | 'nested' | 'shadow';

export type RunResult =
  | { kind: 'exit'; code: number; reason: 'htif' | 'finisher' | 'sbi' }
  | { kind: 'reset'; type?: 'cold' | 'warm' }
  /** Every hart stopped itself through SBI HSM: nothing can run again. */
  | { kind: 'stopped' }
  | { kind: 'timeout' }
  | { kind: 'insn-limit' };

export interface RunLimits {
  timeoutMs?: number;
  maxInsns?: number;
  /** Instructions per vCPU slice. */
  slice?: number;
}

export interface MachineStats {
  instructions: number;
  seconds: number;
  mips: number;
  tlbMisses: number;
  tlbFlushes: number;
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
  mmioExits: number;
  /** SBI calls serviced by the hypervisor (enlightened guests). */
  sbiCalls: number;
}

const RAM_BASE = MEMMAP.dram.base;
/** Host address of guest RAM: the start of the kernel's frame pool (checked against the kernel's layout). */
const RAM_HOST = 0x0120_0000;
const MEIP_BIT = 11;
const SEIP_BIT = 9;
/** What an SBI call asks of the host (kernel/hypercall/defs.ts SbiExit). */
const SbiExit = { NONE: 0, CONSOLE: 1, RESET: 2, YIELD: 3, HART_STOP: 4 } as const;
const NO_TIMER = 0xffff_ffff_ffff_ffffn;

export class Machine {
  readonly memory: WebAssembly.Memory;
  readonly kernel: KernelInstance;
  readonly board: VirtBoard;
  readonly harts: VcpuView[] = [];
  readonly ram: Uint8Array;
  private readonly ramHost: number;
  private readonly clock: GuestClock;
  private tohost = 0n;
  private fromhost = 0n;
  private pendingExit: RunResult | undefined;
  private consoleBuf: number[] = [];
  private wallMs = 0;
  /** Booted with bootEnlightened: the hypervisor is the guest's SBI firmware. */
  private enlightened = false;
  /** Input for the SBI console not yet in the kernel's ring. */
  private sbiInput: number[] = [];

  constructor(readonly config: MachineConfig) {
    if (!Number.isInteger(config.ramSize) || config.ramSize <= 0 || config.ramSize % 4096) {
      throw new RangeError(`RAM size must be a positive multiple of 4 KiB, got ${config.ramSize}`);
    }
    // Room for the G-stage tables: one 4 KiB table per 2 MiB of RAM, plus the
    // 16 KiB root, one table per GiB and slack for the root's alignment.
    // Shadow tables are built on demand: leave them a sixteenth of RAM (when
    // the pool runs dry the vCPUs run unshadowed, through full walks).
    const tables =
      config.paging === 'nested' ? (config.ramSize >> 9) + 0x1_0000 : config.paging === 'shadow' ? (config.ramSize >> 4) + 0x40_0000 : 0;
    const memory = (this.memory = createHostMemory(RAM_HOST + config.ramSize + tables));
    this.ramHost = RAM_HOST;
    this.ram = new Uint8Array(memory.buffer as ArrayBuffer, RAM_HOST, config.ramSize);
    const guestMemory = new RamGuestMemory(this.ram, RAM_BASE);
    const drives = config.drives ?? [];
    if (drives.length > MEMMAP.virtio.count) throw new RangeError(`at most ${MEMMAP.virtio.count} virtio drives, got ${drives.length}`);
    let kernel!: KernelInstance;
    this.clock =
      config.clock === 'icount' ? icountClock(() => this.instructions()) : realtimeClock();
    this.board = createVirtBoard({
      harts: config.harts,
      externalIrq: (hart, mode, level) => this.harts[hart]?.setExternalIrq(mode === 'M' ? MEIP_BIT : SEIP_BIT, level),
      onTransmit: (byte) => this.consoleBuf.push(byte),
      onExit: (e) => {
        this.pendingExit =
          e.kind === 'reset' ? { kind: 'reset' } : { kind: 'exit', code: e.code, reason: 'finisher' };
        kernel.exports.hostRequestExit();
      },
      virtio: drives.map((d) => virtioBlkFactory(d, guestMemory)),
    });
    const bus = this.board.bus;
    kernel = this.kernel = instantiateKernel(memory, {
      mmioRead: (addr, size) => {
        try {
          return bus.read(addr >>> 0, size as 1 | 2 | 4);
        } catch (e) {
          if (!(e instanceof BusError)) throw e;
          kernel.exports.mmioFault();
          return 0;
        }
      },
      mmioWrite: (addr, size, value) => {
        try {
          bus.write(addr >>> 0, size as 1 | 2 | 4, value);
        } catch (e) {
          if (!(e instanceof BusError)) throw e;
          kernel.exports.mmioFault();
        }
      },
      hostClock: () => this.clock.now(),
    });
    if (kernel.layout.framePool !== RAM_HOST) throw new Error('kernel layout changed: update RAM_HOST in Machine');
    kernel.exports.hostInit();
    kernel.exports.framesInit(RAM_HOST, Math.min(memory.buffer.byteLength, 0xffff_f000));
    if (kernel.exports.framesAllocContiguous(config.ramSize / 4096, 4096) !== RAM_HOST) {
      throw new Error('frame allocator did not place guest RAM at the start of the pool');
    }
    kernel.exports.partitionInit(0, BigInt(RAM_BASE), BigInt(config.ramSize), this.ramHost, 0, config.harts);
    if (config.paging === 'nested' && !kernel.exports.partitionEnableNested(0)) {
      throw new Error('out of host frames for the G-stage tables');
    }
    if (config.paging === 'shadow' && !kernel.exports.partitionEnableShadow(0)) {
      throw new Error('out of host frames for the page-table bitmap');
    }
    for (let h = 0; h < config.harts; h++) {
      const base = kernel.exports.vcpuReset(h, 0, h, BigInt(RAM_BASE));
      this.harts.push(new VcpuView(memory, base, kernel.layout));
    }
  }

  /** Copies an ELF's segments into RAM; returns its entry point. */
  loadElf(image: ElfImage): bigint {
    for (const s of image.segments) {
      const off = s.addr - BigInt(RAM_BASE);
      if (s.addr < BigInt(RAM_BASE) || off + s.memSize > BigInt(this.config.ramSize)) {
        throw new ElfError(
          `segment at 0x${s.addr.toString(16)} (${s.memSize} bytes) lies outside RAM ` +
            `0x${RAM_BASE.toString(16)}-0x${(RAM_BASE + this.config.ramSize).toString(16)}`,
        );
      }
      this.ram.set(s.data, Number(off));
      this.ram.fill(0, Number(off) + s.data.length, Number(off + s.memSize));
    }
    const tohost = image.symbols.get('tohost');
    if (tohost !== undefined) {
      this.tohost = tohost;
      this.fromhost = image.symbols.get('fromhost') ?? 0n;
      this.kernel.exports.partitionSetTohost(0, tohost);
    }
    return image.entry;
  }

  /** Copies raw bytes into RAM at guest-physical `addr`. */
  loadRaw(bytes: Uint8Array, addr: number, what: string): void {
    const off = addr - RAM_BASE;
    if (off < 0 || off + bytes.length > this.config.ramSize) {
      throw new RangeError(`${what} (${bytes.length} bytes at 0x${addr.toString(16)}) does not fit in RAM`);
    }
    this.ram.set(bytes, off);
  }

  /**
   * Places the device tree where QEMU does (the top of RAM below 3 GiB,
   * 2 MiB-aligned... or 4 KiB-aligned when RAM is small) and returns its address.
   */
  placeDtb(initrd?: { start: number; end: number }): number {
    const dtb = writeVirtDtb({ harts: this.config.harts, ramSize: this.config.ramSize, bootargs: this.config.bootargs, initrd });
    const end = Math.min(RAM_BASE + this.config.ramSize, 0xc000_0000);
    let addr = Math.floor((end - dtb.length) / 0x20_0000) * 0x20_0000;
    if (addr < RAM_BASE) addr = Math.floor((end - dtb.length) / 4096) * 4096;
    this.loadRaw(dtb, addr, 'device tree');
    return addr;
  }

  /**
   * Loads an initial ramdisk where QEMU puts it (kernel + min(RAM/2, 128 MiB),
   * clear of the kernel as it unpacks) and returns its range for the device tree.
   */
  loadInitrd(bytes: Uint8Array, kernelAddr: number): { start: number; end: number } {
    const start = kernelAddr + Math.min(Math.floor(this.config.ramSize / 2), 128 << 20);
    this.loadRaw(bytes, start, 'initrd');
    return { start, end: start + bytes.length };
  }

  /** Every hart starts at `pc` in M-mode with a0 = hartid, a1 = dtb (QEMU's reset vector). */
  boot(pc: bigint, dtbAddr: number): void {
    this.harts.forEach((h, id) => {
      this.kernel.exports.vcpuReset(id, 0, id, pc);
      h.setX(10, BigInt(id));
      h.setX(11, BigInt(dtbAddr));
    });
  }

  /**
   * Enlightened boot (no firmware; the hypervisor is the SBI firmware, as
   * KVM is): hart 0 enters S-mode at `pc` with a0 = 0, a1 = dtb; the other
   * harts stay STOPPED until the guest starts them with SBI HSM hart_start.
   */
  bootEnlightened(pc: bigint, dtbAddr: number): void {
    const k = this.kernel.exports;
    k.partitionSetEnlightened(0, 1);
    this.enlightened = true;
    this.harts.forEach((_, id) => {
      k.vcpuReset(id, 0, id, pc);
      if (id === 0) k.vcpuEnterSupervisor(0, pc, 0n, BigInt(dtbAddr));
      else k.vcpuStop(id);
    });
  }

  instructions(): number {
    let n = 0;
    for (const h of this.harts) n += h.instret;
    return n;
  }

  /** Guest bytes for the UART (host stdin), and for the SBI console of an enlightened guest. */
  input(bytes: Uint8Array | string): void {
    this.board.uart.receive(bytes);
    if (this.enlightened) {
      for (const b of typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes) this.sbiInput.push(b);
      this.feedSbiConsole();
    }
  }

  /** Runs until the guest exits, or a limit is hit. */
  async run(limits: RunLimits = {}): Promise<RunResult> {
    const slice = limits.slice ?? 100_000;
    const start = performance.now();
    const deadline = limits.timeoutMs === undefined ? Infinity : start + limits.timeoutMs;
    let lastYield = start;
    const k = this.kernel.exports;
    try {
      for (;;) {
        let ran = false;
        if (this.sbiInput.length) this.feedSbiConsole();
        for (let i = 0; i < this.harts.length; i++) {
          const h = this.harts[i]!;
          if (!h.runnable) continue; // stopped (SBI HSM)
          if (h.inWfi && !k.vcpuWakeup(i)) continue;
          ran = true;
          const budget = limits.maxInsns === undefined ? slice : Math.min(slice, Math.max(1, limits.maxInsns - this.instructions()));
          const exit = k.vcpuRun(i, budget);
          if (exit === Exit.HOST) this.serviceHtif();
          if (this.enlightened) this.serviceSbi(h, exit);
          if (this.pendingExit) return this.pendingExit;
        }
        if (!ran && this.harts.every((h) => h.state === 0)) return { kind: 'stopped' };
        this.flushConsole();
        if (limits.maxInsns !== undefined && this.instructions() >= limits.maxInsns) return { kind: 'insn-limit' };
        const now = performance.now();
        if (now >= deadline) return { kind: 'timeout' };
        if (!ran) {
          await this.idle(deadline);
          lastYield = performance.now();
        } else if (now - lastYield > 20) {
          await new Promise<void>((r) => setImmediate(r)); // let stdin and timers in
          lastYield = performance.now();
        }
      }
    } finally {
      this.flushConsole();
      this.wallMs += performance.now() - start;
    }
  }

  /** Every hart is in WFI: wait for the next timer deadline (or input). */
  private async idle(deadline: number): Promise<void> {
    let next = Infinity;
    for (const h of this.harts) {
      if (!h.runnable) continue;
      const cmp = h.mtimecmp;
      if (cmp !== NO_TIMER) next = Math.min(next, Number(cmp));
      const scmp = this.enlightened ? h.stimecmp : NO_TIMER; // SBI set_timer
      if (scmp !== NO_TIMER) next = Math.min(next, Number(scmp));
    }
    if (this.clock.mode === 'icount' && next !== Infinity) {
      this.clock.skipTo(next);
      return;
    }
    const ms = Math.min(this.clock.msUntil(next), 10, Math.max(0, deadline - performance.now()));
    await new Promise<void>((r) => setTimeout(r, ms));
  }

  private serviceHtif(): void {
    if (this.tohost === 0n) return;
    const off = Number(this.tohost - BigInt(RAM_BASE));
    const dv = new DataView(this.ram.buffer, this.ram.byteOffset);
    const cmd = decodeTohost(dv.getBigUint64(off, true));
    if (cmd.kind === 'none') return;
    dv.setBigUint64(off, 0n, true);
    if (cmd.kind === 'exit') {
      this.pendingExit = { kind: 'exit', code: cmd.code, reason: 'htif' };
    } else {
      this.consoleBuf.push(cmd.byte);
      if (this.fromhost) dv.setBigUint64(Number(this.fromhost - BigInt(RAM_BASE)), consoleAck(), true);
    }
  }

  /**
   * After an enlightened vCPU ran: its SBI console bytes go to the console,
   * and an SBI call that needs the host is serviced (SRST ends the run;
   * console-full, yield and hart_stop need nothing more).
   */
  private serviceSbi(h: VcpuView, exit: number): void {
    h.drainConsole(this.consoleBuf);
    if (exit !== Exit.HOST) return;
    const req = h.takeSbiExit();
    if (req.kind === SbiExit.RESET) this.pendingExit = srstResult(req.type, req.reason);
  }

  private feedSbiConsole(): void {
    let n = 0;
    while (n < this.sbiInput.length && this.kernel.exports.sbiConsoleInput(0, this.sbiInput[n]!)) n++;
    this.sbiInput.splice(0, n);
  }

  private flushConsole(): void {
    if (this.consoleBuf.length === 0) return;
    const bytes = Uint8Array.from(this.consoleBuf);
    this.consoleBuf = [];
    this.config.onConsole(bytes);
  }

  stats(): MachineStats {
    const sum = (name: string) => this.harts.reduce((a, h) => a + h.stat(name), 0);
    const instructions = this.instructions();
    const seconds = this.wallMs / 1000;
    return {
      instructions,
      seconds,
      mips: seconds > 0 ? instructions / seconds / 1e6 : 0,
      tlbMisses: sum('TLB_MISSES'),
      tlbFlushes: sum('TLB_FLUSHES'),
      pageWalks: sum('WALKS'),
      walkRefs: sum('WALK_REFS'),
      gstageWalks: sum('GWALKS'),
      gstageRefs: sum('GWALK_REFS'),
      shadowFills: sum('SHADOW_FILLS'),
      wpFaults: sum('WP_FAULTS'),
      shadowFlushes: sum('SHADOW_FLUSHES'),
      traps: sum('TRAPS'),
      interrupts: sum('INTERRUPTS'),
      mmioExits: sum('MMIO'),
      sbiCalls: sum('SBI_CALLS'),
    };
  }
}

/**
 * SBI system_reset as a RunResult. Shutdown exits with code 0 for reason
 * "no reason", 1 for "system failure", and n for our implementation-specific
 * reason 0xE0000000 | n (kernel/hypercall/defs.ts).
 */
function srstResult(type: number, reason: number): RunResult {
  if (type === 1) return { kind: 'reset', type: 'cold' };
  if (type === 2) return { kind: 'reset', type: 'warm' };
  const code = reason === 0 ? 0 : reason >>> 0 >= 0xe000_0000 ? reason & 0xff : 1;
  return { kind: 'exit', code, reason: 'sbi' };
}
