// Hart (vCPU) state, laid out at a fixed address in host memory.
//
// A vCPU is data, not a thread: a pCPU's scheduler loop points `hart` at a
// vCPU's block and runs it for a slice, so any pCPU can run any vCPU and
// save/restore or migration is a copy of this block.
//
//   +0x0000 +-------------------------------+
//           | x[32]  u64   integer registers|
//   +0x0100 | f[32]  u64   FP registers     |  NaN-boxed singles
//   +0x0200 | pc, priv, fcsr, CSRs ...      |  offsets below
//   +0x0310 | pmpcfg[8], pmpaddr[64]        |
//   +0x0600 | statistics counters           |
//   +0x0700 | scheduler state (256 B)       |  see sched/defs.ts
//   +0x0800 | TLB address-space slots       |  see mmu/tlb.ts
//   +0x08a0 | swap-in request               |  see mm/swap.ts
//   +0x0900 | SynIC (768 B)                 |  see vmbus/synic-defs.ts
//   +0x1000 +-------------------------------+ TLB
//           | software TLB: 3 x 256 entries |  fetch | load | store
//           |   entry = tag, addend, meta   |  (see mmu/tlb.ts)
//   +0x4000 +-------------------------------+

/** Address of the vCPU this pCPU instance is running (per-thread wasm global). */
export let hart: usize = 0;

export function setHart(addr: usize): void {
  hart = addr;
}

export const H_X: u32 = 0x000;
export const H_F: u32 = 0x100;
export const H_PC: u32 = 0x200;
export const H_PRIV: u32 = 0x208;
export const H_FCSR: u32 = 0x20c;
export const H_MSTATUS: u32 = 0x210;
export const H_MISA: u32 = 0x218;
export const H_MEDELEG: u32 = 0x220;
export const H_MIDELEG: u32 = 0x228;
export const H_MIE: u32 = 0x230;
export const H_MIP: u32 = 0x238;
export const H_MTVEC: u32 = 0x240;
export const H_STVEC: u32 = 0x248;
export const H_MSCRATCH: u32 = 0x250;
export const H_SSCRATCH: u32 = 0x258;
export const H_MEPC: u32 = 0x260;
export const H_SEPC: u32 = 0x268;
export const H_MCAUSE: u32 = 0x270;
export const H_SCAUSE: u32 = 0x278;
export const H_MTVAL: u32 = 0x280;
export const H_STVAL: u32 = 0x288;
export const H_SATP: u32 = 0x290;
export const H_MENVCFG: u32 = 0x298;
export const H_SENVCFG: u32 = 0x2a0;
export const H_MCOUNTEREN: u32 = 0x2a8;
export const H_SCOUNTEREN: u32 = 0x2ac;
export const H_MCOUNTINHIBIT: u32 = 0x2b0;
export const H_HARTID: u32 = 0x2b4;
export const H_INSTRET: u32 = 0x2b8; // instructions retired by this hart
export const H_CYCLE_DELTA: u32 = 0x2c0; // mcycle = instret + delta (mcycle is writable)
export const H_INSTRET_DELTA: u32 = 0x2c8; // minstret = instret + delta
export const H_MTIMECMP: u32 = 0x2d0; // ACLINT mtimer comparator of this hart
export const H_STIMECMP: u32 = 0x2d8;
export const H_RESV_ADDR: u32 = 0x2e0; // LR/SC reservation (physical address), all ones = none
export const H_RESV_VALUE: u32 = 0x2e8;
export const H_WFI: u32 = 0x2f0; // 1 while stalled in WFI
export const H_STATE: u32 = 0x2f4; // vCPU run state, see VcpuState
export const H_FETCH_KEY: u32 = 0x2f8; // TLB key of instruction fetches
export const H_DATA_KEY: u32 = 0x2fc; // TLB key of loads and stores (MPRV-aware)
export const H_PARTITION: u32 = 0x300; // owning partition's address
export const H_EXIT: u32 = 0x304; // why the last run() returned, see Exit
export const H_NOMEM_GPA: u32 = 0x308; // u64 guest-physical page a store found no host frame for (the no-memory exit, cpu/exception.ts), 0 = none
export const H_PMPCFG: u32 = 0x310; // 8 x u64 (pmpcfg0, 2, ... 14 on RV64)
export const H_PMPADDR: u32 = 0x350; // 64 x u64
export const H_MSIP: u32 = 0x550; // ACLINT mswi pending bit
export const H_EXT_IRQ: u32 = 0x554; // external interrupt lines from the PLIC: MEIP|SEIP bits, set by devices
export const H_STAT_GWALKS: u32 = 0x560; // u64 G-stage (nested paging) walks
export const H_STAT_GWALK_REFS: u32 = 0x568; // u64 G-stage PTE reads
export const H_SHADOW_ROOT: u32 = 0x570; // u32 host address of this vCPU's shadow table root (shadow paging), 0 = none
export const H_SHADOW_FLUSH_PENDING: u32 = 0x574; // u32 another vCPU asked this one to drop its shadow
export const H_STAT_SHADOW_FILLS: u32 = 0x578; // u64 shadow entries built from a guest walk ("shadow syncs")
export const H_STAT_WP_FAULTS: u32 = 0x580; // u64 guest stores to write-protected page-table pages
export const H_STAT_SHADOW_FLUSHES: u32 = 0x588; // u64 whole-shadow drops
export const H_ATTENTION: u32 = 0x558; // non-zero: the interpreter must look at events (exceptions, resync, exit, a kick)
export const H_PREEMPT: u32 = 0x55c; // u32 non-zero: another thread woke a vCPU that should run on this one's pCPU now: end the chunk (sched/pcpu.ts)

// An MMIO access handed to the root partition (partitions with PF_MMIO_EXIT,
// platform/mmio.ts): the instruction is abandoned, the vCPU exits, the root
// performs the access and completes it here, and the instruction runs again.
export const H_MMIO_STATE: u32 = 0x590; // u32 MmioState
export const H_MMIO_KIND: u32 = 0x594; // u32 1 read, 2 write
export const H_MMIO_ADDR: u32 = 0x598; // u64 physical address
export const H_MMIO_SIZE: u32 = 0x5a0; // u32 1, 2, 4 or 8
export const H_MMIO_VALUE: u32 = 0x5a8; // u64 the value written, or read (on completion)

// Page sharing and ballooning (mm/shootdown.ts): host frames whose TLB
// entries this vCPU must drop at its next instruction boundary, and who may
// touch its TLB now (host words).
export const H_MM_OWNER: u32 = 0x5b0; // u32 0 off its pCPU, 1 running (its thread owns the TLB), 2 another thread is serving its requests
export const H_MM_LOCK: u32 = 0x5b4; // u32 spin lock of the request list
export const H_MM_REQ: u32 = 0x5b8; // u32 number of frames queued; REQ_FLUSH_ALL, REQ_SHADOW bits (mm/shootdown.ts)
export const H_MM_FRAMES: u32 = 0x5bc; // 13 x u32 frames queued, to 0x5f0

// Dirty logging (mm/dirty.ts): which request to drop store-TLB entries this
// vCPU has honoured, and whether it is inside run() (host words).
export const H_DIRTY_SEEN: u32 = 0x5f0; // u32 the partition's dirty-log generation last honoured
export const H_DIRTY_RUNNING: u32 = 0x5f4; // u32 1 while a pCPU runs this vCPU

// The JIT tier (kernel/jit/): instructions this vCPU retired in translated code.
export const H_STAT_JIT_INSNS: u32 = 0x5f8; // u64

// Statistics (u64 each), read by the host for --stats and the playground.
export const H_STAT_TLB_LOOKUPS: u32 = 0x600;
export const H_STAT_TLB_MISSES: u32 = 0x608;
export const H_STAT_WALKS: u32 = 0x610;
export const H_STAT_WALK_REFS: u32 = 0x618;
export const H_STAT_TRAPS: u32 = 0x620;
export const H_STAT_INTERRUPTS: u32 = 0x628;
export const H_STAT_MMIO: u32 = 0x630;
export const H_STAT_TLB_FLUSHES: u32 = 0x638;

// SBI firmware state of enlightened partitions (kernel/hypercall/, see its README).
export const H_SBI_EXIT: u32 = 0x640; // u32 host request from an SBI call (hypercall/defs.ts SbiExit); the host clears it
export const H_SBI_EXIT_TYPE: u32 = 0x644; // u32 SRST reset_type of an SbiExit.RESET
export const H_SBI_EXIT_REASON: u32 = 0x648; // u32 SRST reset_reason of an SbiExit.RESET
export const H_FENCE_PENDING: u32 = 0x64c; // u32 remote fences to honour before the next run (bit 0 sfence.vma, 1 fence.i)
export const H_SUSPEND_PC: u32 = 0x650; // u64 pc after this hart's last retentive HSM suspend (status SUSPENDED)
export const H_STAT_SBI_CALLS: u32 = 0x658; // u64 SBI calls serviced by the hypervisor
export const H_CONS_HEAD: u32 = 0x660; // u32 console ring: bytes taken by the host (free-running)
export const H_CONS_TAIL: u32 = 0x664; // u32 console ring: bytes put by the kernel (free-running)
export const H_CONS_BUF: u32 = 0x680; // 128 bytes, ends at 0x700
export const CONS_SIZE: u32 = 128;

// The scheduler's per-vCPU state (run-queue links, credit, statistics):
// 0x700-0x7ff, fields in sched/defs.ts.
export const H_SCHED: u32 = 0x700;
export const H_SCHED_SIZE: u32 = 0x100;

// Software TLB bookkeeping (mmu/tlb.ts): the address-space slots that tag
// entries with satp's MODE and ASID, and what an addressed sfence.vma needs.
export const H_STAT_TLB_INVALS: u32 = 0x800; // u64 precise invalidations: sfence.vma by address or ASID, slot reuse
export const H_TLB_SP_LO: u32 = 0x808; // u64 lowest VA cached from a superpage since the last whole flush
export const H_TLB_SP_HI: u32 = 0x810; // u64 highest such VA (inclusive); LO > HI: none
export const H_TLB_CTX_SLOT: u32 = 0x818; // u32 slot of the current satp (a hint, checked against the table)
export const H_TLB_CTX_NEXT: u32 = 0x81c; // u32 next slot to recycle when all are taken
export const H_TLB_CTX: u32 = 0x820; // 32 x u32: slot -> satp[63:44] (MODE | ASID), 0 = free; slot 0 unused

// Hypervisor swap (mm/swap.ts): the page this vCPU waits for the root to
// swap in (its instruction runs again once the root has mapped it).
export const H_SWAP_GPA: u32 = 0x8a0; // u64 guest-physical page | 1 (page 0 is a page too), 0 = none; the root clears it
export const H_STAT_SWAP_FAULTS: u32 = 0x8a8; // u64 swap-in exits of this vCPU

// The SynIC (VMBus's interrupt controller): registers, statistics and the
// post-message buffers, 0x900-0xbff, fields in vmbus/synic-defs.ts.
export const H_SYNIC: u32 = 0x900;

export const H_TLB: u32 = 0x1000;

/** Why run() returned to its caller. */
export namespace Exit {
  export const BUDGET: u32 = 0; // slice used up
  export const WFI: u32 = 1; // waiting for an interrupt
  export const HALT: u32 = 2; // the board asked to stop (finisher, HTIF, SRST)
  export const HOST: u32 = 3; // a device model wants the host's attention
}

export namespace MmioState {
  export const NONE: u32 = 0;
  export const PENDING: u32 = 1; // the vCPU waits for the root partition
  export const DONE: u32 = 2; // completed: the re-executed instruction takes H_MMIO_VALUE
  export const FAULT: u32 = 3; // no device there: the re-executed instruction takes an access fault
}

export namespace VcpuState {
  export const STOPPED: u32 = 0;
  export const RUNNABLE: u32 = 1;
  export const STARTING: u32 = 2; // SBI HSM hart_start is setting it up (START_PENDING)
  export const STOPPING: u32 = 3; // SBI HSM hart_stop called; STOPPED once run() has returned (STOP_PENDING)
}

// ---- register accessors ---------------------------------------------------

/** x[r] of the vCPU block at `h` (the interpreter passes its local copy of `hart`). */
@inline export function rX(h: usize, r: u32): u64 {
  return load<u64>(h + (r << 3));
}
/** x0 is hardwired to zero: write, then re-zero (cheaper than a branch; measured). */
@inline export function wX(h: usize, r: u32, v: u64): void {
  store<u64>(h + (r << 3), v);
  store<u64>(h, 0);
}
@inline export function getX(r: u32): u64 {
  return rX(hart, r);
}
@inline export function setX(r: u32, v: u64): void {
  wX(hart, r, v);
}
@inline export function getF(r: u32): u64 {
  return load<u64>(hart + (r << 3), H_F);
}
@inline export function setF(r: u32, v: u64): void {
  store<u64>(hart + (r << 3), v, H_F);
}
@inline export function getPc(): u64 {
  return load<u64>(hart, H_PC);
}
@inline export function setPc(v: u64): void {
  store<u64>(hart, v, H_PC);
}
@inline export function getPriv(): u32 {
  return load<u32>(hart, H_PRIV);
}
@inline export function hartGet64(off: u32): u64 {
  return load<u64>(hart + off);
}
@inline export function hartSet64(off: u32, v: u64): void {
  store<u64>(hart + off, v);
}
@inline export function hartGet32(off: u32): u32 {
  return load<u32>(hart + off);
}
@inline export function hartSet32(off: u32, v: u32): void {
  store<u32>(hart + off, v);
}
