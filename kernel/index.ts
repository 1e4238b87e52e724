// The kernel's export surface: what the TypeScript host may call. Every pCPU
// thread instantiates this module over the one shared memory; nothing here
// allocates, and all state is in host memory or per-instance globals.
import { FRAME_POOL, KERNEL_DATA_END, MAX_PARTITIONS, MAX_VCPUS, PARTITIONS, PART_SIZE, RVC_TABLE, VCPU_SIZE, vcpuAddr } from './layout';
import {
  hart, setHart, H_HARTID, H_INSTRET, H_MISA, H_MSTATUS, H_MTIMECMP, H_PARTITION, H_PC, H_PRIV, H_RESV_ADDR,
  H_STATE, H_WFI, H_X, H_F, H_EXT_IRQ, H_MSIP, H_STAT_TLB_MISSES, H_STAT_TLB_LOOKUPS, H_STAT_WALKS,
  H_STAT_WALK_REFS, H_STAT_GWALKS, H_STAT_GWALK_REFS, H_STAT_SHADOW_FILLS, H_STAT_WP_FAULTS, H_STAT_SHADOW_FLUSHES, H_STAT_TRAPS, H_STAT_INTERRUPTS, H_STAT_MMIO, H_STAT_TLB_FLUSHES, H_EXIT, VcpuState,
  H_STIMECMP, H_SBI_EXIT, H_SBI_EXIT_TYPE, H_SBI_EXIT_REASON, H_FENCE_PENDING, H_STAT_SBI_CALLS, H_CONS_HEAD,
  H_CONS_TAIL, H_CONS_BUF, CONS_SIZE, Exit, H_MIP, H_SATP, H_ATTENTION,
  H_MMIO_STATE, H_MMIO_KIND, H_MMIO_ADDR, H_MMIO_SIZE, H_MMIO_VALUE, H_SHADOW_ROOT, H_SHADOW_FLUSH_PENDING,
} from './cpu/hart';
import { MISA_VALUE, MS_XLEN_FIXED, PRIV_M } from './cpu/defs';
import { run } from './cpu/exec';
import { buildRvcTable } from './cpu/rvc';
import { wakeupPending } from './cpu/interrupts';
import { partitionAddr, P_FIRST_VCPU, P_NVCPUS, P_RAM_GPA, P_RAM_HOST, P_RAM_SIZE, P_WATCH_GPA, P_TOHOST_GPA, P_ID, NO_WATCH } from './mm/partition';
import { tlbFlushAll } from './mmu/tlb';
import { gstageCreateRoot, gstageDestroy, gstageMap, GPTE_RWX_LEAF, GPTE_UNPOPULATED } from './mmu/gstage';
import { PF_MMIO_EXIT, PF_NESTED, PF_SHADOW, P_FLAGS, P_GSTAGE_ROOT, P_PT_BITMAP } from './mm/partition';
import { shadowBeforeRun, shadowRelease } from './mmu/shadow';
import { dirtyAfterRun, dirtyBeforeRun } from './mm/dirty';
import { framesAllocContiguous, framesFreeRun } from './mm/frames';
import { partitionHost, partitionHostForStore, partitionHostMapped } from './mm/gpa';
import { recordAdd, recordGet, R_BALLOONED, R_COW_BREAKS, R_PINNED, R_SHARED, R_UNPOPULATED, R_ZERO, shareActive, shareEnable } from './mm/share';
import { PIN_NOT_RAM, sharePinPage, shareUnpinPage } from './mm/pin';
import { shareBalloonPage } from './mm/share-cow';
import { frameHash } from './mm/hash';
import { sbiAfterRun, sbiBeforeRun } from './hypercall/sbi';
import { SBI_IMPL_ID } from './hypercall/defs';
import { synicReset } from './vmbus/synic';

// SBI firmware of enlightened partitions (hypercall/README.md).
export { partitionSetEnlightened, vcpuEnterSupervisor, vcpuStop, sbiConsoleInput } from './hypercall/host';

export { mmioFault } from './platform/mmio';
/** From inside an mmio callback: make the running vCPU return to the host after this instruction. */
export { requestExit as hostRequestExit } from './cpu/exception';

// The vCPU scheduler and per-pCPU loop (kernel/sched/, docs/scheduler.md).
export * from './sched/api';

// Layout facts the host needs (its typed views are tested against these).
export const LAYOUT_VCPU_SIZE = VCPU_SIZE;
export const LAYOUT_FRAME_POOL = FRAME_POOL;
export const LAYOUT_MAX_VCPUS = MAX_VCPUS;
export const LAYOUT_MAX_PARTITIONS = MAX_PARTITIONS;
export const LAYOUT_RVC_TABLE = RVC_TABLE;
export const OFF_X = H_X;
export const OFF_F = H_F;
export const OFF_PC = H_PC;
export const OFF_PRIV = H_PRIV;
export const OFF_INSTRET = H_INSTRET;
export const OFF_WFI = H_WFI;
export const OFF_EXT_IRQ = H_EXT_IRQ;
export const OFF_MSIP = H_MSIP;
export const OFF_MTIMECMP = H_MTIMECMP;
export const OFF_EXIT = H_EXIT;
export { H_NOMEM_GPA as OFF_NOMEM_GPA } from './cpu/hart';
export const OFF_STAT_TLB_LOOKUPS = H_STAT_TLB_LOOKUPS;
export const OFF_STAT_TLB_MISSES = H_STAT_TLB_MISSES;
export const OFF_STAT_WALKS = H_STAT_WALKS;
export const OFF_STAT_WALK_REFS = H_STAT_WALK_REFS;
export const OFF_STAT_TRAPS = H_STAT_TRAPS;
export const OFF_STAT_INTERRUPTS = H_STAT_INTERRUPTS;
export const OFF_STAT_MMIO = H_STAT_MMIO;
export const OFF_STAT_TLB_FLUSHES = H_STAT_TLB_FLUSHES;
export { H_STAT_TLB_INVALS as OFF_STAT_TLB_INVALS } from './cpu/hart';
export const OFF_STAT_GWALKS = H_STAT_GWALKS;
export const OFF_STAT_GWALK_REFS = H_STAT_GWALK_REFS;
export const OFF_STAT_SHADOW_FILLS = H_STAT_SHADOW_FILLS;
export const OFF_STAT_WP_FAULTS = H_STAT_WP_FAULTS;
export const OFF_STAT_SHADOW_FLUSHES = H_STAT_SHADOW_FLUSHES;
export const OFF_STATE = H_STATE;
export const OFF_MIP = H_MIP;
export const OFF_MSTATUS = H_MSTATUS;
export const OFF_SATP = H_SATP;
export const OFF_HARTID = H_HARTID;
export const OFF_STIMECMP = H_STIMECMP;
export const OFF_SBI_EXIT = H_SBI_EXIT;
export const OFF_SBI_EXIT_TYPE = H_SBI_EXIT_TYPE;
export const OFF_SBI_EXIT_REASON = H_SBI_EXIT_REASON;
export const OFF_FENCE_PENDING = H_FENCE_PENDING;
export const OFF_STAT_SBI_CALLS = H_STAT_SBI_CALLS;
export const OFF_CONS_HEAD = H_CONS_HEAD;
export const OFF_CONS_TAIL = H_CONS_TAIL;
export const OFF_CONS_BUF = H_CONS_BUF;
export const LAYOUT_CONS_SIZE = CONS_SIZE;
export const OFF_ATTENTION = H_ATTENTION;
export const OFF_MMIO_STATE = H_MMIO_STATE;
export const OFF_MMIO_KIND = H_MMIO_KIND;
export const OFF_MMIO_ADDR = H_MMIO_ADDR;
export const OFF_MMIO_SIZE = H_MMIO_SIZE;
export const OFF_MMIO_VALUE = H_MMIO_VALUE;
export const SBI_IMPLEMENTATION_ID = SBI_IMPL_ID;

// What save/restore (runtime/persist/) must not copy verbatim between hosts:
// host addresses (the owning partition, the shadow root, the LR/SC
// reservation), this host's scheduler state and the software TLB, which is
// dropped on restore, never trusted. Everything else below H_TLB is guest
// state that moves as bytes.
export { H_PARTITION as OFF_PARTITION, H_RESV_ADDR as OFF_RESV_ADDR, H_SHADOW_ROOT as OFF_SHADOW_ROOT } from './cpu/hart';
export { H_SHADOW_FLUSH_PENDING as OFF_SHADOW_FLUSH_PENDING, H_PREEMPT as OFF_PREEMPT } from './cpu/hart';
export { H_MM_REQ as OFF_MM_REQ, H_MM_FRAMES as OFF_MM_FRAMES } from './cpu/hart';
export { H_SCHED as OFF_SCHED, H_SCHED_SIZE as OFF_SCHED_SIZE, H_TLB as OFF_TLB } from './cpu/hart';
export { H_TLB_SP_LO as OFF_TLB_SP_LO, H_TLB_SP_HI as OFF_TLB_SP_HI, H_TLB_CTX as OFF_TLB_CTX } from './cpu/hart';
// The partition descriptor's guest state (mm/partition.ts), for the same purpose.
export const LAYOUT_PARTITIONS = PARTITIONS;
export const LAYOUT_PART_SIZE = PART_SIZE;
export { P_FLAGS as OFF_P_FLAGS, P_MTIME_OFFSET as OFF_P_MTIME_OFFSET, P_CONS_IN_HEAD as OFF_P_CONS_IN_HEAD } from './mm/partition';
export { P_CONS_IN_TAIL as OFF_P_CONS_IN_TAIL, P_CONS_IN_BUF as OFF_P_CONS_IN_BUF, CONS_IN_SIZE as LAYOUT_CONS_IN_SIZE } from './mm/partition';
export { PF_ENLIGHTENED as LAYOUT_PF_ENLIGHTENED } from './mm/partition';
// Where each partition's RAM is in host memory, and the vCPU array: the
// playground draws its memory map and reads vCPU counters from these.
// (LAYOUT_, not OFF_: OFF_ names are the vCPU state a save file fingerprints.)
export { P_RAM_HOST as LAYOUT_P_RAM_HOST, P_RAM_SIZE as LAYOUT_P_RAM_SIZE, P_NVCPUS as LAYOUT_P_NVCPUS, P_FIRST_VCPU as LAYOUT_P_FIRST_VCPU } from './mm/partition';
export { VCPUS as LAYOUT_VCPUS } from './layout';

// ---- host memory and the second stage -----------------------------------------

export { framesInit, framesUsed, framesAvailable, framesAllocContiguous, framesFreeRun as framesFree } from './mm/frames';

/**
 * Nested paging for partition `id`: builds Sv39x4 G-stage tables mapping its
 * RAM (4 KiB pages onto its host frames) and switches its second stage to
 * them. Returns false when the frame pool cannot hold the tables.
 */
export function partitionEnableNested(id: u32): bool {
  const p = partitionAddr(id);
  if (!buildGstage(p)) return false;
  store<u32>(p, load<u32>(p, P_FLAGS) | PF_NESTED, P_FLAGS);
  return true;
}

/**
 * G-stage tables mapping `p`'s RAM page by page onto its host run (once).
 * A partition created without a run (ram_host 0: the demand-allocated RAM
 * of an overcommit partition) gets every page unpopulated instead: the
 * tables are all it takes from the pool now, a page's frame comes with its
 * first write (mm/share-cow.ts).
 */
function buildGstage(p: usize): bool {
  if (load<u32>(p, P_GSTAGE_ROOT)) return true;
  const root = gstageCreateRoot();
  if (!root) return false;
  const gpa = load<u64>(p, P_RAM_GPA);
  const size = load<u64>(p, P_RAM_SIZE);
  const host = load<u32>(p, P_RAM_HOST);
  for (let off: u64 = 0; off < size; off += 4096) {
    const mapped = host ? gstageMap(root, gpa + off, host + <u32>off, GPTE_RWX_LEAF) : gstageMap(root, gpa + off, 0, GPTE_UNPOPULATED);
    if (!mapped) return false;
  }
  store<u32>(p, root, P_GSTAGE_ROOT);
  return true;
}

// ---- memory overcommit: page sharing and ballooning (mm/share.ts, docs/memory.md) ----

/**
 * Lets partition `id` share frames with its group (`salt` 0: itself only;
 * 1..0x7fff_ffff: every partition with that salt) and balloon. Nested and
 * shadow partitions only (a shadow one gets G-stage tables as its P2M);
 * returns false for a direct one, a bad salt, or when the pool cannot hold
 * the tables. Before its vCPUs first run.
 */
export function partitionEnableOvercommit(id: u32, salt: u32): bool {
  const p = partitionAddr(id);
  if (!(load<u32>(p, P_FLAGS) & (PF_NESTED | PF_SHADOW)) || !buildGstage(p) || !shareEnable(id, salt)) return false;
  if (!load<u32>(p, P_RAM_HOST)) recordAdd(p, R_UNPOPULATED, <i32>(load<u64>(p, P_RAM_SIZE) >> 12)); // demand-allocated
  return true;
}

/** Host address of guest-physical `gpa` of partition `id` for a host read (-1: not RAM); ballooned pages read as zeros. */
export function partitionHostRead(id: u32, gpa: u64): i64 {
  return partitionHost(partitionAddr(id), gpa);
}

/** Host address for a host write (device DMA, loaders): breaks sharing, marks dirty; -1: not RAM or no frame left. */
export function partitionHostWrite(id: u32, gpa: u64): i64 {
  return partitionHostForStore(partitionAddr(id), gpa, 0);
}

/** Balloon inflation: guest page `gpa` of `id` leaves RAM; its frame returns to the pool after shareReclaim. */
export function partitionBalloonPage(id: u32, gpa: u64): bool {
  return shareActive(partitionAddr(id)) && shareBalloonPage(partitionAddr(id), gpa);
}

/** Pages of partition `id` by state: 0 shared, 1 zero, 2 ballooned; 3 its COW breaks; 4 pinned for the host; 5 unpopulated (no frame yet). */
export function partitionMemPages(id: u32, which: u32): u32 {
  return recordGet(id, which == 0 ? R_SHARED : which == 1 ? R_ZERO : which == 2 ? R_BALLOONED : which == 3 ? R_COW_BREAKS : which == 4 ? R_PINNED : R_UNPOPULATED);
}

/**
 * A VMBus GPADL's page (mm/pin.ts): guest page `gpa` of overcommit
 * partition `id` moves into host frame `to` (the caller's, e.g. one of a
 * fresh contiguous run) and stays there, never shared, ballooned or
 * swapped, until partitionUnpinPage. Returns PIN_* (0: pinned there).
 */
export function partitionPinPage(id: u32, gpa: u64, to: u32): u32 {
  const p = partitionAddr(id);
  return shareActive(p) ? sharePinPage(p, gpa, to) : PIN_NOT_RAM;
}

/** The GPADL holding guest page `gpa` of `id` is gone: the page is the partition's again. False if it was not pinned. */
export function partitionUnpinPage(id: u32, gpa: u64): bool {
  const p = partitionAddr(id);
  return shareActive(p) && shareUnpinPage(p, gpa);
}

/** Host address of guest page `gpa` of `id` if it has a frame now (no refault of a ballooned page, nothing counted), else -1. */
export function partitionHostPeek(id: u32, gpa: u64): i64 {
  return partitionHostMapped(partitionAddr(id), gpa);
}

export { shareReclaimHost as shareReclaim, shareCounter, shareRelease, sharePages } from './mm/share';

/** The scanner's hash over `count` frames from host address `host` (bench: the reference for scan throughput). */
export function hashFrames(host: u32, count: u32): u32 {
  let h: u32 = 0;
  for (let i: u32 = 0; i < count; i++) h ^= frameHash(host + (i << 12));
  return h;
}

/** The scanner's hash over the `count` frames whose host addresses are the u32s at `list`, in that order (bench: the scan's like-for-like reference). */
export function hashFrameList(list: u32, count: u32): u32 {
  let h: u32 = 0;
  for (let i: u32 = 0; i < count; i++) h ^= frameHash(load<u32>(list + (i << 2)));
  return h;
}
export { shareScan } from './mm/share-scan';

// Hypervisor swap (mm/swap.ts): the kernel's half; the root's is runtime/machine/swap.ts.
export { swapEvictBegin, swapEvictCommit, swapEvictAbort, swapSlotOf, swapInInstall, swapDiscard } from './mm/swap';
/** One frame from (and back to) the pool's free list: a swap-in's frame, the root's eviction list. */
export { frameAlloc, frameFree } from './mm/frames';
export { H_SWAP_GPA as OFF_SWAP_GPA, H_STAT_SWAP_FAULTS as OFF_STAT_SWAP_FAULTS } from './cpu/hart';

/**
 * Shadow paging for partition `id`: its vCPUs cache guest-virtual -> host
 * translations in shadow tables, and pages the guest uses as page tables
 * become write-protected. Returns false when the frame pool cannot hold the
 * page-table bitmap.
 */
export function partitionEnableShadow(id: u32): bool {
  const p = partitionAddr(id);
  const bitmap = framesAllocContiguous(ptBitmapFrames(<u32>(load<u64>(p, P_RAM_SIZE) >> 12)), 4096);
  if (!bitmap) return false;
  store<u32>(p, bitmap, P_PT_BITMAP);
  store<u32>(p, load<u32>(p, P_FLAGS) | PF_SHADOW, P_FLAGS);
  return true;
}

/** Frames of the shadow paging's page-table bitmap of a partition of `pages` RAM pages. */
@inline function ptBitmapFrames(pages: u32): u32 {
  return (((pages + 7) >> 3) + 4095) >> 12;
}

/**
 * Partition `id` is gone (none of its vCPUs runs again): its paging
 * structures go back to the pool — the G-stage tables, shadow paging's
 * page-table bitmap and each vCPU's shadow tables. Its RAM is the caller's
 * (framesFree for a run; shareRelease first for overcommit, which needs the
 * tables to find the pages). Once; a second call finds nothing to free.
 */
export function partitionDestroy(id: u32): void {
  const p = partitionAddr(id);
  const root = load<u32>(p, P_GSTAGE_ROOT);
  if (root) {
    store<u32>(p, 0, P_GSTAGE_ROOT);
    gstageDestroy(root);
  }
  const bitmap = load<u32>(p, P_PT_BITMAP);
  if (bitmap) {
    store<u32>(p, 0, P_PT_BITMAP);
    framesFreeRun(bitmap, ptBitmapFrames(<u32>(load<u64>(p, P_RAM_SIZE) >> 12)));
  }
  const first = load<u32>(p, P_FIRST_VCPU);
  for (let i: u32 = 0; i < load<u32>(p, P_NVCPUS); i++) shadowRelease(vcpuAddr(first + i));
}

/** Once per host, before any vCPU runs: checks the layout and fills shared tables. */
export function hostInit(): void {
  if (__heap_base > KERNEL_DATA_END) abort('kernel static data overlaps the hypervisor globals');
  buildRvcTable();
}

export function partitionInit(id: u32, ramGpa: u64, ramSize: u64, ramHost: u32, firstVcpu: u32, nvcpus: u32): usize {
  const p = partitionAddr(id);
  memory.fill(p, 0, 256);
  store<u32>(p, id, P_ID);
  store<u64>(p, ramGpa, P_RAM_GPA);
  store<u64>(p, ramSize, P_RAM_SIZE);
  store<u32>(p, ramHost, P_RAM_HOST);
  store<u32>(p, firstVcpu, P_FIRST_VCPU);
  store<u32>(p, nvcpus, P_NVCPUS);
  store<u64>(p, NO_WATCH, P_WATCH_GPA);
  return p;
}

/**
 * Device accesses of partition `id` exit to the root partition (recorded in
 * the vCPU block, completed by the host, the instruction re-run) instead of
 * calling the mmio imports: for hosts whose devices live on another thread.
 */
export function partitionSetMmioExits(id: u32, on: bool): void {
  const p = partitionAddr(id);
  const f = load<u32>(p, P_FLAGS);
  store<u32>(p, on ? f | PF_MMIO_EXIT : f & ~PF_MMIO_EXIT, P_FLAGS);
}

/** HTIF: stores to `tohost` (a guest-physical address, 0 = none) return to the host. */
export function partitionSetTohost(id: u32, tohost: u64): void {
  const p = partitionAddr(id);
  store<u64>(p, tohost, P_TOHOST_GPA);
  store<u64>(p, tohost ? tohost & ~<u64>0xfff : NO_WATCH, P_WATCH_GPA);
}

/** Resets vCPU `index` to the state of a hart leaving reset (M-mode at `pc`). */
export function vcpuReset(index: u32, partition: u32, hartid: u32, pc: u64): usize {
  const v = vcpuAddr(index);
  // A reset (reboot) keeps the shadow table's frames for the tree to be
  // freed before the vCPU next runs, instead of leaking them.
  const shadow = load<u32>(v, H_SHADOW_ROOT);
  memory.fill(v, 0, VCPU_SIZE);
  if (shadow) {
    store<u32>(v, shadow, H_SHADOW_ROOT);
    store<u32>(v, 1, H_SHADOW_FLUSH_PENDING);
  }
  store<u32>(v, <u32>partitionAddr(partition), H_PARTITION);
  store<u32>(v, hartid, H_HARTID);
  store<u64>(v, pc, H_PC);
  store<u32>(v, PRIV_M, H_PRIV);
  store<u64>(v, MS_XLEN_FIXED, H_MSTATUS);
  store<u64>(v, MISA_VALUE, H_MISA);
  store<u64>(v, ~<u64>0, H_MTIMECMP);
  store<u64>(v, ~<u64>0, H_RESV_ADDR);
  store<u32>(v, VcpuState.RUNNABLE, H_STATE);
  synicReset(v);
  return v;
}

/** Runs vCPU `index` on this pCPU for up to `budget` instructions; returns the Exit reason. */
export function vcpuRun(index: u32, budget: u32): u32 {
  setHart(vcpuAddr(index));
  if (!sbiBeforeRun()) return Exit.WFI; // stopped (SBI HSM): nothing to run; applies queued remote fences
  shadowBeforeRun(); // drops the shadow if another vCPU's write-protect fault asked to
  dirtyBeforeRun(); // drops the store TLB if the dirty log was armed or fetched
  const exit = run(budget);
  dirtyAfterRun();
  sbiAfterRun(); // completes an HSM hart_stop
  return exit;
}

/** Would vCPU `index`, stalled in WFI, wake now? */
export function vcpuWakeup(index: u32): bool {
  setHart(vcpuAddr(index));
  return wakeupPending();
}

/**
 * From any thread: makes vCPU `index`, if it is running, look at its
 * interrupt lines again after its current instruction.
 */
export function vcpuKick(index: u32): void {
  atomic.store<u32>(vcpuAddr(index) + H_ATTENTION, 1);
}

/** The vCPU this instance is running (valid during mmio callbacks). */
export function currentVcpu(): u32 {
  return <u32>((hart - vcpuAddr(0)) / VCPU_SIZE);
}

/** After the host rewrote guest memory or page tables behind the vCPU's back. */
export function vcpuFlushTlb(index: u32): void {
  setHart(vcpuAddr(index));
  tlbFlushAll();
}

// ---- dirty logging (mm/dirty.ts; live migration) --------------------------------

export { dirtyLogStart, dirtyLogFetch, dirtyLogBitmap, dirtyLogSynced, dirtyLogStop, dirtyLogRelease } from './mm/dirty';
export { P_DIRTY_BITMAP as OFF_P_DIRTY_BITMAP, P_DIRTY_ON as OFF_P_DIRTY_ON } from './mm/partition';
export { H_DIRTY_SEEN as OFF_DIRTY_SEEN, H_DIRTY_RUNNING as OFF_DIRTY_RUNNING } from './cpu/hart';

// ---- VMBus ring buffers (kernel/vmbus/README.md) --------------------------------

export { ringInit, ringWrite, ringWriteAt, ringPeek, ringRead, ringReadBatch, ringAvail, ringFree, ringBeginRead, ringEndRead, ringSetPendingSend } from './vmbus/ring';
// Layout and result codes; drivers/vmbus/ring.ts is tested against these.
export { RB_WRITE_INDEX as VMBUS_RB_WRITE_INDEX, RB_READ_INDEX as VMBUS_RB_READ_INDEX, RB_INTERRUPT_MASK as VMBUS_RB_INTERRUPT_MASK } from './vmbus/defs';
export { RB_PENDING_SEND_SZ as VMBUS_RB_PENDING_SEND_SZ, RB_FEATURE_BITS as VMBUS_RB_FEATURE_BITS, RB_HEADER_SIZE as VMBUS_RB_HEADER_SIZE } from './vmbus/defs';
export { RB_FEAT_PENDING_SEND_SZ as VMBUS_RB_FEAT_PENDING_SEND_SZ, RB_MAX_SIZE as VMBUS_RB_MAX_SIZE } from './vmbus/defs';
export { PKT_TYPE as VMBUS_PKT_TYPE, PKT_OFFSET8 as VMBUS_PKT_OFFSET8, PKT_LEN8 as VMBUS_PKT_LEN8, PKT_FLAGS as VMBUS_PKT_FLAGS } from './vmbus/defs';
export { PKT_TRANS_ID as VMBUS_PKT_TRANS_ID, PKT_DESC_SIZE as VMBUS_PKT_DESC_SIZE, PKT_TRAILER as VMBUS_PKT_TRAILER, PKT_MAX_LEN as VMBUS_PKT_MAX_LEN } from './vmbus/defs';
export { RING_OK as VMBUS_RING_OK, RING_SIGNAL as VMBUS_RING_SIGNAL, RING_EMPTY as VMBUS_RING_EMPTY, RING_FULL as VMBUS_RING_FULL } from './vmbus/defs';
export { RING_NO_ROOM as VMBUS_RING_NO_ROOM, RING_BAD_INDEX as VMBUS_RING_BAD_INDEX, RING_BAD_PACKET as VMBUS_RING_BAD_PACKET } from './vmbus/defs';
export { RING_BAD_SIZE as VMBUS_RING_BAD_SIZE, RING_TOO_BIG as VMBUS_RING_TOO_BIG } from './vmbus/defs';

// ---- SynIC and VMBus hypercalls (kernel/vmbus/synic-defs.ts, hypercall/synic.ts) ----

export { synicDeliver, synicSignal, partitionEnableVmbus, partitionDisableVmbus } from './vmbus/host';
export { H_SYNIC as OFF_SYNIC } from './cpu/hart';
export { SY_SCONTROL as OFF_SYNIC_SCONTROL, SY_SIMP as OFF_SYNIC_SIMP, SY_SIEFP as OFF_SYNIC_SIEFP, SY_SINT as OFF_SYNIC_SINT } from './vmbus/synic-defs';
export { SY_POST as OFF_SYNIC_POST, SY_HOSTMSG as OFF_SYNIC_HOSTMSG, SY_STAT_MESSAGES as OFF_SYNIC_STAT_MESSAGES } from './vmbus/synic-defs';
export { SY_STAT_EVENTS as OFF_SYNIC_STAT_EVENTS, SY_STAT_POSTS as OFF_SYNIC_STAT_POSTS, SY_STAT_SIGNALS as OFF_SYNIC_STAT_SIGNALS, SY_STAT_EOMS as OFF_SYNIC_STAT_EOMS } from './vmbus/synic-defs';
export {
  HE_DOORBELL as VMBUS_HE_DOORBELL, HE_FLAGS as VMBUS_HE_FLAGS, HE_BITMAP as VMBUS_HE_BITMAP,
  HE_SERVER_BELL as VMBUS_HE_SERVER_BELL, HE_SERVED as VMBUS_HE_SERVED, HE_SERVER_BITMAP as VMBUS_HE_SERVER_BITMAP,
} from './vmbus/synic-defs';
export { SYNIC_OK, SYNIC_BUSY, SYNIC_OFF, SYNIC_BAD_PAGE, SYNIC_BAD_ARG, SYNIC_SET } from './vmbus/synic-defs';

// The JIT tier (kernel/jit/, docs/jit.md): the host sets each instance's mode
// and owns the generated functions; counters for --stats.
export { jitInstall, jitSetMode, JIT_SLOTS } from './jit/dispatch';
export { jitRangeWritten } from './jit/code';
export { jitFp } from './jit/helpers';
export { H_STAT_JIT_INSNS as OFF_STAT_JIT_INSNS } from './cpu/hart';
import { JIT_STATE } from './layout';
export const LAYOUT_JIT_STATE = JIT_STATE;
