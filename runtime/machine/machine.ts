// A virt machine: one partition with its RAM, harts and board devices, on a
// Hypervisor (its own, or one shared with other partitions), which runs it.
import { createVirtBoard, type VirtBoard } from '../../drivers/board/virt.ts';
import { MEMMAP } from '../../drivers/board/memmap.ts';
import { Exit, type KernelInstance } from '../host/kernel.ts';
import { type Guest, Hypervisor } from '../host/hypervisor.ts';
import { HostMemoryError } from '../host/memory-pressure.ts';
import { formatSize } from '../../drivers/board/size.ts';
import type { ElfImage } from '../loader/elf.ts';
import { partitionClock, type GuestClock } from './clock.ts';
import { StepAccount } from './steps.ts';
import { serviceHtif } from './htif.ts';
import { SbiHost } from './sbi-host.ts';
import { sumCounters, VcpuView } from './vcpu-view.ts';
import { schedExports } from '../host/sched.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { RamGuestMemory, type GuestMemory } from '../../drivers/emulated/dma.ts';
import { Overcommit } from './overcommit.ts';
import { KernelDirtyLog } from '../../drivers/emulated/dirty.ts';
import { virtioBlkFactory } from '../../drivers/emulated/virtio/blk.ts';
import type { VmbusHost } from '../../drivers/vmbus/host.ts';
import { busAccess } from './bus-access.ts';
import { RamLoader } from './load.ts';
import { serviceNoMemory, serviceSwapIn } from './memory-exits.ts';
import { RtcAlarmTimer } from './rtc-alarm.ts';
import { fixedBytes, hostBytes } from './sizing.ts';
import { machineVmbus } from './vmbus.ts';

import type { MachineConfig, PagingMode, MachineState, ExitReason, RunResult, RunLimits, MachineStats } from './types.ts';
export type { MachineConfig, PagingMode, RoundPosition, MachineState, ExitReason, RunResult, RunLimits, MachineStats } from './types.ts';

const RAM_BASE = MEMMAP.dram.base;

const MEIP_BIT = 11;
const SEIP_BIT = 9;
const NO_TIMER = 0xffff_ffff_ffff_ffffn;

export class Machine implements Guest {
  readonly hypervisor: Hypervisor;
  readonly memory: WebAssembly.Memory;
  /** Partition id, and the index of its vCPU 0 in the hypervisor's vCPU array. */
  readonly id: number;
  readonly firstVcpu: number;
  readonly kernel: KernelInstance;
  readonly board: VirtBoard;
  readonly harts: VcpuView[] = [];
  /**
   * The host run the partition's RAM started in; empty with overcommit,
   * whose RAM is demand-allocated page by page (and whose pages move:
   * shared, ballooned): go through `guestMemory` instead.
   */
  readonly ram: Uint8Array;
  /** Guest RAM for the host side (device DMA, loaders): writes break sharing and mark the dirty log. */
  readonly guestMemory: GuestMemory;
  /** Page sharing and ballooning, when configured. */
  readonly overcommit: Overcommit | undefined;
  /** Takes swap off the host's reclaimers (the partition's end). */
  private stopSwapReclaim: (() => void) | undefined;
  private readonly ramHost: number;
  /** Host address of this partition's RAM (frames from the hypervisor's pool). */
  get ramHostAddress(): number {
    return this.ramHost;
  }
  /** Absolute host ms at which this partition's realtime clock read 0 (other threads derive mtime from it). */
  get clockEpochMs(): number {
    return this.clock.epochMs ?? 0;
  }
  private readonly clock: GuestClock;
  private tohost = 0n;
  private fromhost = 0n;
  private pendingExit: RunResult | undefined;
  private consoleBuf: number[] = [];
  private wallMs = 0;
  /** Booted with bootEnlightened: the hypervisor is the guest's SBI firmware, this its host side. */
  private sbi: SbiHost | undefined;
  /** The partition's VMBus (config.vmbus, enlightened boot): SynICs and channel manager. */
  vmbus: VmbusHost | undefined;
  /** Set when the guest has finished; the hypervisor stops running it. */
  result: RunResult | undefined;
  /** Resets performed as reboots. */
  reboots = 0;
  /** Its steps (--max-insns) and place in the deterministic rounds (steps.ts). */
  private readonly account: StepAccount;

  /** A partition on `hypervisor`, or on a hypervisor of its own sized for it. */
  constructor(
    readonly config: MachineConfig,
    hypervisor?: Hypervisor,
  ) {
    if (!Number.isInteger(config.ramSize) || config.ramSize <= 0 || config.ramSize % 4096) {
      throw new RangeError(`RAM size must be a positive multiple of 4 KiB, got ${config.ramSize}`);
    }
    const paging = config.paging ?? 'direct';
    this.hypervisor = hypervisor ?? new Hypervisor(Machine.hostBytes(config));
    const memory = (this.memory = this.hypervisor.memory);
    const kernel = (this.kernel = this.hypervisor.kernel);
    // Overcommit: no run of RAM; every page starts unpopulated and gets a
    // frame on its first write (docs/memory.md). Admission control: what
    // creating the partition takes from the pool at once must be there.
    const demand = config.overcommit !== undefined && config.ramHost === undefined;
    this.hypervisor.admit(Machine.fixedBytes(config), `a partition of ${formatSize(config.ramSize)} (${paging} paging${demand ? ', overcommit' : ''})`);
    const { id, firstVcpu, ramHost } = this.hypervisor.allocate(demand ? 0 : config.ramSize, config.harts, config.ramHost);
    this.id = id;
    this.firstVcpu = firstVcpu;
    this.ramHost = ramHost;
    this.ram = new Uint8Array(memory.buffer as ArrayBuffer, ramHost, demand ? 0 : config.ramSize);
    const off = kernel.layout.off;
    this.dirty = new KernelDirtyLog(memory.buffer, {
      descriptor: kernel.layout.partitions + id * kernel.layout.partSize, bitmapOff: off.P_DIRTY_BITMAP!, onOff: off.P_DIRTY_ON!,
    }, (offset, length) => kernel.jit.codeWritten(ramHost + offset, length));
    this.overcommit = config.overcommit ? new Overcommit(kernel, memory, id, RAM_BASE, config.ramSize, paging, config.overcommit) : undefined;
    const guestMemory = (this.guestMemory = this.overcommit?.pages ?? new RamGuestMemory(this.ram, RAM_BASE, this.dirty));
    const drives = config.drives ?? [];
    const virtioSlots = drives.length + (config.overcommit?.balloon ? 1 : 0);
    if (virtioSlots > MEMMAP.virtio.count) throw new RangeError(`at most ${MEMMAP.virtio.count} virtio devices (disks and balloon), got ${virtioSlots}`);
    const exits = config.exits === true;
    this.clock = partitionClock(config.clock, exits, () => this.instructions(), () => schedExports(kernel.exports).schedNow());
    this.account = new StepAccount(this.harts, this.clock, () => {
      this.result ??= { kind: 'insn-limit' };
    });
    this.rtcAlarm = new RtcAlarmTimer(() => this.board.rtc.poll(), () => this.result !== undefined);
    this.board = this.createBoard(guestMemory, drives, exits);
    this.loader = new RamLoader(config, this.ram, this.dirty, this.overcommit?.pages);
    this.bus = this.board.bus;
    kernel.exports.partitionInit(id, BigInt(RAM_BASE), BigInt(config.ramSize), ramHost, firstVcpu, config.harts);
    if (exits) kernel.exports.partitionSetMmioExits(id, 1);
    try {
      // Admission counted these, but running partitions may have taken frames since.
      if (paging === 'nested' && !kernel.exports.partitionEnableNested(id)) {
        throw new HostMemoryError('host memory exhausted: no frames left for the G-stage tables');
      }
      if (paging === 'shadow' && !kernel.exports.partitionEnableShadow(id)) {
        throw new HostMemoryError('host memory exhausted: no frames left for the page-table bitmap');
      }
      this.overcommit?.enable();
    } catch (e) {
      // Nothing of a partition that never ran stays behind in the pool.
      this.overcommit?.release();
      kernel.exports.partitionDestroy(id);
      if (!demand && config.ramHost === undefined) kernel.exports.framesFree(ramHost, config.ramSize / 4096);
      throw e;
    }
    // Host writes (device DMA) that find the pool dry reclaim as the no-memory
    // exit does, where that is safe: a threaded host's devices run on the
    // root's thread, never inside a vCPU's run (whose scanner grace periods
    // would wait for that vCPU). Deterministic hosts call devices from inside
    // run(): there such a write is a DmaError.
    if (this.overcommit && exits) this.overcommit.pages.reclaim = () => this.hypervisor.pressure.reclaim(1) > 0;
    // Swap is what the host reclaims with after page sharing (memory-pressure.ts).
    if (this.overcommit?.swap) this.stopSwapReclaim = this.hypervisor.pressure.register((n) => this.overcommit!.balance(n));
    // The deterministic host scans at fixed points (KSM's default rate is 100 pages per 20 ms).
    if (this.overcommit && !this.hypervisor.sharePagesPerRound) this.hypervisor.sharePagesPerRound = 64;
    for (let h = 0; h < config.harts; h++) {
      const base = kernel.exports.vcpuReset(firstVcpu + h, id, h, BigInt(RAM_BASE));
      this.harts.push(new VcpuView(memory, base, kernel.layout));
    }
    this.hypervisor.register(this);
  }

  /** The board's devices, their interrupt lines wired to this partition's vCPUs. */
  private createBoard(guestMemory: GuestMemory, drives: readonly BlockDevice[], exits: boolean): VirtBoard {
    const kernel = this.kernel;
    return createVirtBoard({
      harts: this.config.harts,
      externalIrq: (hart, mode, level) => {
        const h = this.harts[hart];
        if (!h) return;
        h.setExternalIrq(mode === 'M' ? MEIP_BIT : SEIP_BIT, level);
        if (exits && level) this.interruptWake(hart);
      },
      onTransmit: (byte) => this.consoleBuf.push(byte),
      onRtcAlarmScheduled: (deadlineNs) => this.rtcAlarm.schedule(deadlineNs),
      onExit: (e) => {
        this.pendingExit =
          e.kind === 'reset' ? { kind: 'reset' } : { kind: 'exit', code: e.code, reason: 'finisher' };
        if (!exits) kernel.exports.hostRequestExit(); // threaded: the write is an exit already
      },
      virtio: [...drives.map((d) => virtioBlkFactory(d, guestMemory)), ...(this.overcommit?.balloonDevices() ?? [])],
    });
  }

  /**
   * After a reset the guest asked for: reboots the partition if it has a
   * loader (MachineConfig.reboot) and returns true; the caller makes sure
   * no vCPU of it is running. Otherwise (or for any other result) false.
   */
  rebootIfReset(): boolean {
    if (this.result?.kind !== 'reset' || !this.config.reboot) return false;
    this.flushConsole();
    this.result = this.pendingExit = undefined;
    this.bus.resetDevices(); // as QEMU's system reset: every device to its power-on state
    this.tohost = this.fromhost = 0n;
    this.sbi = undefined;
    this.kernel.exports.partitionSetEnlightened(this.id, 0);
    // SBI SRST halted the partition (kernel/hypercall/srst.ts): the
    // scheduler would never pick its vCPUs again.
    schedExports(this.kernel.exports).partitionSetHalted(this.id, 0);
    this.config.reboot(this);
    this.reboots++;
    return true;
  }

  private readonly rtcAlarm: RtcAlarmTimer;
  private readonly loader: RamLoader;

  /** Host memory a machine of this configuration needs in its hypervisor's pool (sizing.ts). */
  static hostBytes(config: MachineConfig): number {
    return hostBytes(config);
  }

  /** Host memory creating a machine of this configuration takes from the pool at once, what admission control checks (sizing.ts). */
  static fixedBytes(config: MachineConfig): number {
    return fixedBytes(config);
  }
  private readonly bus: VirtBoard['bus'];
  /** Host-side writes into guest RAM go into the dirty log through this (live migration). */
  readonly dirty: KernelDirtyLog;

  // ---- Guest: what the hypervisor asks of a partition ------------------------

  mmioRead(addr: number, size: number): number {
    const v = this.busAccess(false, addr, size, 0n);
    if (v === undefined) this.kernel.exports.mmioFault();
    return Number(v ?? 0n);
  }

  mmioWrite(addr: number, size: number, value: number): void {
    if (this.busAccess(true, addr, size, BigInt(value >>> 0)) === undefined) this.kernel.exports.mmioFault();
  }

  /** One guest access to the board's devices (bus-access.ts): the value read (writes: 0n), or undefined for a bus error. */
  busAccess(write: boolean, addr: number, size: number, value: bigint): bigint | undefined {
    return busAccess(this.bus, write, addr, size, value);
  }

  /**
   * A threaded host's root partition, after vCPU `i` exited to it: performs
   * the device access it waits on (if any) and whatever else the exit asks
   * (HTIF, SBI console and reset). The caller wakes the vCPU unless `result` is set.
   */
  serviceExit(i: number): ExitReason {
    const h = this.harts[i]!;
    const req = h.mmioRequest();
    const reason: ExitReason =
      h.u64('NOMEM_GPA') !== 0n ? 'memory' : h.u64('SWAP_GPA') !== 0n ? 'swap' : req ? 'mmio' : this.sbi && h.u32('SBI_EXIT') !== 0 ? 'sbi' : this.tohost !== 0n ? 'htif' : 'other';
    if (req) h.completeMmio(this.busAccess(req.write, req.addr, req.size, req.value));
    this.afterRun(i, Exit.HOST);
    return reason;
  }

  /**
   * Threaded host: an interrupt line raised for vCPU `hart` (a device, a
   * VMBus SINT): a running vCPU takes it now, one in WFI runs again. A vCPU
   * waiting on an exit (this one's, being serviced, or one the root has not
   * reached yet) stays waiting: schedWakeIrq never ends a wait on the host,
   * and the root's wake when the service ends lets it see the line. Woken
   * early, it would run on and make its next exit, which the root's wake
   * would then end unserviced (a posted VMBus message overwritten by the
   * next one: a CLOSECHANNEL lost).
   */
  private interruptWake(hart: number): void {
    this.kernel.exports.vcpuKick(this.firstVcpu + hart);
    schedExports(this.kernel.exports).schedWakeIrq(this.firstVcpu + hart);
  }

  /** A threaded host's root partition, now and then: console input and output of enlightened guests. */
  poll(): void {
    this.overcommit?.balance(); // the eviction driver, on the root's thread
    this.vmbus?.tick();
    this.sbi?.feed();
    this.sbi?.drain(false);
    this.flushConsole();
  }

  clockNow(): number {
    return this.clock.now();
  }

  /** A restore's VMBus (runtime/persist/): the partition's, made as boot makes it, to load saved state into; undefined without VMBus devices. */
  restoreVmbus(): VmbusHost | undefined {
    if (this.config.vmbus && !this.vmbus) this.vmbus = this.vmbusHost(this.config.vmbus);
    return this.vmbus;
  }

  /** The guest's mtime (its `time` CSR): the clock plus the partition's mtime offset. */
  guestTicks(): number {
    const k = this.kernel;
    const offset = new DataView(this.memory.buffer).getBigUint64(k.layout.partitions + this.id * k.layout.partSize + k.layout.off.P_MTIME_OFFSET!, true);
    return this.clock.now() + Number(BigInt.asIntN(64, offset));
  }

  get vcpuCount(): number {
    return this.harts.length;
  }

  beforeRound(): void {
    this.account.beforeRound();
    this.overcommit?.balance(); // the eviction driver: between rounds, no vCPU runs
    this.sbi?.feed();
    this.vmbus?.tick();
  }

  runnable(i: number): boolean {
    const h = this.harts[i]!;
    if (!h.runnable) return false; // stopped (SBI HSM)
    return !h.inWfi || this.kernel.exports.vcpuWakeup(this.firstVcpu + i) !== 0;
  }

  budget(i: number, slice: number): number {
    return this.account.budget(i, slice);
  }

  roundCarried(): boolean {
    return this.account.roundCarried();
  }

  afterRun(i: number, exit: number): void {
    this.account.ran(i, exit);
    if (exit === Exit.HOST) {
      const h = this.harts[i]!;
      this.pendingExit = serviceSwapIn(h, i, this.overcommit?.swap) ?? this.pendingExit;
      this.pendingExit = serviceNoMemory(h, i, this.hypervisor.pressure) ?? this.pendingExit;
      this.pendingExit = serviceHtif(this.guestMemory, this.tohost, this.fromhost, (b) => this.consoleBuf.push(b)) ?? this.pendingExit;
    }
    if (this.sbi) this.pendingExit = this.sbi.afterRun(this.harts[i]!, exit) ?? this.pendingExit;
    if (this.pendingExit) this.result = this.pendingExit;
  }

  afterRound(ran: boolean): void {
    this.account.roundOver();
    this.sbi?.drain(false); // a prompt without a newline shows too
    this.flushConsole();
    if (this.result) return;
    if (!ran && this.harts.every((h) => h.state === 0)) this.result = { kind: 'stopped' };
    else if (this.account.limitReached()) this.result = { kind: 'insn-limit' };
  }

  idleMs(): number {
    let next = Infinity;
    for (const h of this.harts) {
      if (!h.runnable) continue;
      const cmp = h.mtimecmp;
      if (cmp !== NO_TIMER) next = Math.min(next, Number(cmp));
      const scmp = this.sbi ? h.stimecmp : NO_TIMER; // SBI set_timer
      if (scmp !== NO_TIMER) next = Math.min(next, Number(scmp));
    }
    // The VMBus devices' own deadlines (a heartbeat due, an answer's
    // timeout): idle time is not skipped past them, or the guest would get
    // them late, at its next wake-up.
    next = Math.min(next, this.vmbus?.due() ?? Infinity);
    return this.account.idleMs(next); // icount: skipped, as steps
  }

  addWallMs(ms: number): void {
    this.wallMs += ms;
  }

  timeout(): void {
    this.sbi?.drain(false);
    this.flushConsole();
    this.result ??= { kind: 'timeout' };
  }

  /** Copies an ELF's segments into RAM (load.ts); returns its entry point. */
  loadElf(image: ElfImage): bigint {
    this.loader.loadSegments(image);
    const tohost = image.symbols.get('tohost');
    if (tohost !== undefined) {
      this.tohost = tohost;
      this.fromhost = image.symbols.get('fromhost') ?? 0n;
      this.kernel.exports.partitionSetTohost(this.id, tohost);
    }
    return image.entry;
  }

  // The other loaders, as QEMU's virt places images (load.ts).
  loadRaw(bytes: Uint8Array, addr: number, what: string): void {
    this.loader.loadRaw(bytes, addr, what);
  }

  placeDtb(initrd?: { start: number; end: number }): number {
    return this.loader.placeDtb(initrd);
  }

  loadInitrd(bytes: Uint8Array, kernelAddr: number): { start: number; end: number } {
    return this.loader.loadInitrd(bytes, kernelAddr);
  }

  initrdAddress(kernelAddr: number): number {
    return this.loader.initrdAddress(kernelAddr);
  }

  /** Every hart starts at `pc` in M-mode with a0 = hartid, a1 = dtb (QEMU's reset vector). */
  boot(pc: bigint, dtbAddr: number): void {
    this.harts.forEach((h, id) => {
      this.kernel.exports.vcpuReset(this.firstVcpu + id, this.id, id, pc);
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
    k.partitionSetEnlightened(this.id, 1);
    this.sbi = this.sbiHost();
    // A reboot gets a fresh VMBus, as Hyper-V resets its VSPs: the old one's
    // channels are closed (no device reads or writes rings in the RAM the new
    // boot reuses), its GPADLs and SynIC queues dropped, the event area, the
    // scratch pages and switch ports given back; the devices come back with
    // new ones. It keeps the devices added or removed while it ran
    // (HostController.addVmbusDisk), as Hyper-V keeps a VM's configuration.
    const vmbus = this.vmbus;
    vmbus?.dispose();
    if (this.config.vmbus) this.vmbus = this.vmbusHost(vmbus?.deviceList ?? this.config.vmbus, vmbus?.hotplugged);
    this.harts.forEach((_, id) => {
      const v = this.firstVcpu + id;
      k.vcpuReset(v, this.id, id, pc);
      if (id === 0) k.vcpuEnterSupervisor(v, pc, 0n, BigInt(dtbAddr));
      else k.vcpuStop(v);
    });
  }

  instructions(): number {
    let n = 0;
    for (const h of this.harts) n += h.instret;
    return n;
  }

  /**
   * Steps taken, what --max-insns bounds: instructions retired, traps taken
   * (exceptions and interrupts) and idle time in WFI (INSNS_PER_TICK per
   * mtime tick), so a guest that retires nothing still comes to its limit.
   */
  steps(): number {
    return this.account.steps();
  }

  /** Guest bytes for the UART (host stdin), and for the SBI console of an enlightened guest. */
  input(bytes: Uint8Array | string): void {
    this.board.uart.receive(bytes);
    this.sbi?.type(bytes);
  }

  /** Stops this guest after `maxSteps` steps (see steps(); undefined: no limit). */
  limit(maxSteps: number | undefined): void {
    this.account.limit(maxSteps);
  }

  /**
   * Runs until the guest exits, or a limit is hit. On a shared hypervisor
   * this runs every partition on it (until each has finished).
   */
  async run(limits: RunLimits = {}): Promise<RunResult> {
    this.limit(limits.maxInsns);
    await this.hypervisor.run({ timeoutMs: limits.timeoutMs, slice: limits.slice });
    return this.result ?? { kind: 'timeout' };
  }

  /** The host side of the SBI firmware for this partition's harts, with `input` waiting for the guest. */
  private sbiHost(input: readonly number[] = []): SbiHost {
    return new SbiHost(this.harts, (b) => this.kernel.exports.sbiConsoleInput(this.id, b) !== 0, (b) => this.consoleBuf.push(b), input, (hart, kind) =>
      this.vmbus?.request(hart, kind),
    );
  }

  private vmbusHost(devices: NonNullable<MachineConfig['vmbus']>, hotplugged = false): VmbusHost {
    return machineVmbus(this, devices, hotplugged, (h) => this.interruptWake(h));
  }

  private flushConsole(): void {
    if (this.consoleBuf.length === 0) return;
    const bytes = Uint8Array.from(this.consoleBuf);
    this.consoleBuf = [];
    this.config.onConsole(bytes);
  }

  // ---- save/restore (runtime/persist/) ----------------------------------------

  /**
   * The Machine's own state for a save file. The partition must be paused
   * (no vCPU running): console output is flushed first, so none is held here.
   */
  persistState(): MachineState {
    this.sbi?.drain(false);
    this.flushConsole();
    const round = this.account.limitRound(this.result?.kind === 'insn-limit');
    return {
      tohost: this.tohost.toString(),
      fromhost: this.fromhost.toString(),
      enlightened: this.sbi !== undefined,
      sbiInput: this.sbi?.pendingInput ?? [],
      reboots: this.reboots,
      idleSteps: this.account.savedIdleSteps(),
      clockTicks: this.clock.now(),
      clockMode: this.clock.mode,
      round,
    };
  }

  /**
   * Loads a state from persistState() into this fresh partition, after its
   * vCPUs were restored (the icount clock counts their instructions). The
   * caller has checked `s` (runtime/persist/partition.ts).
   */
  loadState(s: MachineState): void {
    this.tohost = BigInt(s.tohost);
    this.fromhost = BigInt(s.fromhost);
    this.kernel.exports.partitionSetTohost(this.id, this.tohost);
    this.kernel.exports.partitionSetEnlightened(this.id, s.enlightened ? 1 : 0);
    this.sbi = s.enlightened ? this.sbiHost(s.sbiInput) : undefined;
    // Its VMBus as booted; runtime/persist loads the saved state into it.
    if (s.enlightened && this.config.vmbus && !this.vmbus) this.vmbus = this.vmbusHost(this.config.vmbus);
    this.reboots = s.reboots;
    this.account.load(s.idleSteps, s.round);
    this.result = this.pendingExit = undefined;
  }

  /** Sets this partition's clock to `ticks`; false when the clock cannot be set (see GuestClock.setNow). */
  setClock(ticks: number): boolean {
    return this.clock.setNow(ticks);
  }

  /** Forgets a step-limit result, so the partition can run on (saving it at a step count ends its run that way). */
  clearLimitResult(): void {
    if (this.result?.kind !== 'insn-limit') return;
    this.account.clearLimit();
    this.result = this.pendingExit = undefined;
  }

  /** The partition is gone (no vCPU of it can run): its RAM back to the pool, as its run or, with overcommit, page by page. */
  releaseMemory(): void {
    this.vmbus?.dispose(); // its devices' scratch pages and the event area
    this.vmbus = undefined;
    this.stopSwapReclaim?.();
    if (this.overcommit) this.overcommit.release(); // its swap file goes too
    else this.kernel.exports.framesFree(this.ramHost, this.config.ramSize / 4096);
    this.kernel.exports.partitionDestroy(this.id); // its G-stage and shadow tables
  }

  stats(): MachineStats {
    const instructions = this.instructions();
    const seconds = this.wallMs / 1000;
    return {
      instructions,
      seconds,
      mips: seconds > 0 ? instructions / seconds / 1e6 : 0,
      ...sumCounters(this.harts.map((h) => h.counters())),
      ...(this.overcommit ? { memory: this.overcommit.stats() } : {}),
    };
  }

}
