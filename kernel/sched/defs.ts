// The scheduler's data: everything lives in host memory at fixed addresses,
// so every pCPU thread (one kernel instance each) sees the same run queues,
// credits and statistics. Cross-pCPU updates use wasm atomics; run queues
// are guarded by one spin lock per pCPU. See docs/scheduler.md.
//
// Globals, SCHED_GLOBALS (HV_GLOBALS + 0x100, 256 B):
//
//   +0x00 npcpus u32         +0x04 insns_per_ms u32   1 "ms" of guest CPU
//   +0x08 tick u64           10 ms: wake polling, preemption, chunk bound
//   +0x10 slice u64          30 ms: the longest a vCPU runs before rotating
//   +0x18 period u64         30 ms: credit accounting period
//   +0x20 min_chunk u64      0.1 ms: shortest run of an UNDER vCPU
//   +0x28 idle_step u64      1 ms: how far an idle pCPU's clock jumps (deterministic mode)
//   +0x30 next_acct u64      time of the next accounting (claimed by cmpxchg)
//   +0x38 accountings u64    +0x40 flags u32 (bit 0: BOOST off)
//   +0x44 hiwater u32        1 + highest vCPU index ever added
//   +0x48 epoch u32          accounting round (marks partitions seen)
//   +0x4c plist u32          accounting scratch: list of active partitions
//   +0x50 exit_pcpu u32      pCPU of the last deterministic-mode exit
//   +0x54 acct_lock u32      held while an accounting runs
//
// Per pCPU, pcpuAddr(i) = SCHED_PCPUS + i * PCPU_SIZE (4 KiB):
//
//   +0x000 +------------------------------------------------+
//          | lock u32 | rq head u32 | rq tail u32 | rq len   |  run queue: vCPU
//   +0x010 | bl head  | bl tail     | bl len      | current  |  indices linked
//   +0x020 | clock u64              | slice_end u64          |  through S_NEXT /
//   +0x030 | next_poll u64          | kick u32    | exit_vcpu|  S_PREV; bl = blocked
//   +0x040 | load u32 | trace_n u32 | last u32    | yielded  |  last = vCPU run last
//   +0x080 | statistics: busy, idle, runs, switches, steals, |
//          |   accountings, polls, wakes (u64 each)          |
//   +0x800 +------------------------------------------------+
//          | trace ring: 128 x 16 B                          |  one entry per run:
//          |   start u64, len u32, vcpu u16, class u8, exit u8| the playground timeline
//   +0x1000+------------------------------------------------+
//
// Per vCPU, in its block (H_SCHED = 0x700, 256 B):
//
//   +0x700 state u32  pcpu u32  next u32  prev u32
//   +0x710 credit i64 (instructions; burnt by consumption)  +0x718 flags u32  block u32
//   +0x720 ready_at u64  wake_at u64  used u64 (this period)  share i64 (last allocation)
//   +0x740 statistics: run, picks, wait, wakes, wake_lat_max, wake_lat_sum,
//          migrations, boosted (u64 each)
//
// Per partition, in its descriptor (P_SCHED = 0x50):
//
//   +0x50 weight u32  cap u32  reserve u32  nactive u32
//   +0x60 budget i64 (cap budget left this period)  alloc f64  run u64
//   +0x78 link u32  epoch u32  +0x80 lo f64  hi f64
import { MAX_PCPUS, PCPU_SIZE, SCHED_GLOBALS, SCHED_PCPUS } from '../layout';

export { MAX_PCPUS };

/** End of a list / no vCPU. */
export const NIL: u32 = 0xffff_ffff;

// ---- globals -----------------------------------------------------------------
export const G: usize = SCHED_GLOBALS;
export const G_NPCPUS: u32 = 0x00;
export const G_INSNS_PER_MS: u32 = 0x04;
export const G_TICK: u32 = 0x08;
export const G_SLICE: u32 = 0x10;
export const G_PERIOD: u32 = 0x18;
export const G_MIN_CHUNK: u32 = 0x20;
export const G_IDLE_STEP: u32 = 0x28;
export const G_NEXT_ACCT: u32 = 0x30;
export const G_ACCTS: u32 = 0x38;
export const G_FLAGS: u32 = 0x40;
export const G_HIWATER: u32 = 0x44;
export const G_EPOCH: u32 = 0x48;
export const G_PLIST: u32 = 0x4c;
export const G_EXIT_PCPU: u32 = 0x50;
export const G_ACCT_LOCK: u32 = 0x54;
export const G_SIZE: u32 = 0x100;

/** G_FLAGS bits. */
export const GF_NO_BOOST: u32 = 1 << 0;

/** Reference figures (Xen credit scheduler), in "ms" of guest CPU. */
export const TICK_MS: u32 = 10;
export const SLICE_MS: u32 = 30;
export const PERIOD_MS: u32 = 30;
export const DEFAULT_WEIGHT: u32 = 256;

// ---- per pCPU ----------------------------------------------------------------
@inline export function pcpuAddr(i: u32): usize {
  return <usize>(SCHED_PCPUS + i * PCPU_SIZE);
}
export const C_LOCK: u32 = 0x00;
export const C_RQ_HEAD: u32 = 0x04;
export const C_RQ_TAIL: u32 = 0x08;
export const C_RQ_LEN: u32 = 0x0c;
export const C_BL_HEAD: u32 = 0x10;
export const C_BL_TAIL: u32 = 0x14;
export const C_BL_LEN: u32 = 0x18;
export const C_CURRENT: u32 = 0x1c;
export const C_CLOCK: u32 = 0x20;
export const C_SLICE_END: u32 = 0x28;
export const C_NEXT_POLL: u32 = 0x30;
export const C_KICK: u32 = 0x38;
export const C_EXIT_VCPU: u32 = 0x3c;
export const C_LOAD: u32 = 0x40;
export const C_TRACE_N: u32 = 0x44;
export const C_LAST: u32 = 0x48;
export const C_YIELDED: u32 = 0x4c; // a vCPU that just yielded: the next pick prefers any other
export const C_HEADER_SIZE: u32 = 0x800;
export const C_STATS: u32 = 0x80;
export const C_TRACE: u32 = 0x800;
export const TRACE_ENTRIES: u32 = 128;
export const TRACE_ENTRY_SIZE: u32 = 16;

/** pCPU statistics (u64 at C_STATS + 8 * index). */
export namespace PcpuStat {
  export const BUSY: u32 = 0; // instructions run
  export const IDLE: u32 = 1; // instructions of time with nothing to run
  export const RUNS: u32 = 2; // vcpuRun calls
  export const SWITCHES: u32 = 3; // a different vCPU than the last one started a slice
  export const STEALS: u32 = 4; // vCPUs taken from another pCPU's queue
  export const ACCOUNTINGS: u32 = 5; // credit accountings this pCPU did
  export const POLLS: u32 = 6; // scans of the blocked list
  export const WAKES: u32 = 7; // blocked vCPUs found wakeable by this pCPU's polls
  export const COUNT: u32 = 8;
}

// ---- per vCPU (offsets in the vCPU block, inside H_SCHED .. +0x100) ---------------
export const S_STATE: u32 = 0x700;
export const S_PCPU: u32 = 0x704;
export const S_NEXT: u32 = 0x708;
export const S_PREV: u32 = 0x70c;
export const S_CREDIT: u32 = 0x710;
export const S_FLAGS: u32 = 0x718;
export const S_BLOCK: u32 = 0x71c;
export const S_READY_AT: u32 = 0x720;
export const S_WAKE_AT: u32 = 0x728;
export const S_USED: u32 = 0x730;
export const S_SHARE: u32 = 0x738;
export const S_STATS: u32 = 0x740;

/** Scheduler state of a vCPU (S_STATE). */
export namespace SState {
  export const NONE: u32 = 0; // not managed by the scheduler
  export const QUEUED: u32 = 1; // in its pCPU's run queue
  export const RUNNING: u32 = 2; // its pCPU's current vCPU
  export const BLOCKED: u32 = 3; // in its pCPU's blocked list
}

/** Why a vCPU is blocked (S_BLOCK). */
export namespace Block {
  export const NONE: u32 = 0;
  export const WFI: u32 = 1; // wakes when an interrupt is pending (polled) or schedWake
  export const STOPPED: u32 = 2; // SBI HSM stopped: wakes when hart_start makes it RUNNABLE
  export const IO: u32 = 3; // waiting on the host (schedBlock): wakes on schedWake only
  export const HALT: u32 = 4; // its vCPU reported Exit.HALT: wakes on schedWake only
}

/** S_FLAGS bits (atomic). */
export const SF_BOOST: u32 = 1 << 0; // woke with credit left: runs ahead of UNDER and OVER
export const SF_WAKE: u32 = 1 << 1; // schedWake while not blocked: the next block is cancelled
export const SF_BLOCK_IO: u32 = 1 << 2; // schedBlock while running: block when it comes off the pCPU
export const SF_REMOVE: u32 = 1 << 3; // schedRemoveVcpu while running: drop it when it comes off
export const SF_WAKE_IRQ: u32 = 1 << 4; // schedWakeIrq while not blocked: the next WFI block is cancelled, an I/O one is not

/** vCPU statistics (u64 at S_STATS + 8 * index). */
export namespace VcpuStat {
  export const RUN: u32 = 0; // instructions run (= credit burnt)
  export const PICKS: u32 = 1; // times it started a slice
  export const WAIT: u32 = 2; // instructions of time spent runnable but not running
  export const WAKES: u32 = 3; // times it woke from blocked
  export const WAKE_LAT_MAX: u32 = 4; // longest wake-to-run delay (instructions of time)
  export const WAKE_LAT_SUM: u32 = 5;
  export const MIGRATIONS: u32 = 6; // times another pCPU stole it
  export const BOOSTED: u32 = 7; // slices started with BOOST
  export const COUNT: u32 = 8;
}

/** Priority classes, best first (higher is better). NONE = not eligible. */
export namespace Class {
  export const NONE: u32 = 0; // parked (cap budget used up) or partition halted
  export const OVER: u32 = 1; // credit <= 0
  export const UNDER: u32 = 2; // credit > 0
  export const BOOST: u32 = 3; // woke from WFI or I/O with credit > 0
}

// ---- per partition (offsets in the partition descriptor) ---------------------------
export const PS_WEIGHT: u32 = 0x50;
export const PS_CAP: u32 = 0x54;
export const PS_RESERVE: u32 = 0x58;
export const PS_NACTIVE: u32 = 0x5c;
export const PS_BUDGET: u32 = 0x60;
export const PS_ALLOC: u32 = 0x68;
export const PS_RUN: u32 = 0x70;
export const PS_LINK: u32 = 0x78;
export const PS_EPOCH: u32 = 0x7c;
export const PS_LO: u32 = 0x80;
export const PS_HI: u32 = 0x88;

/** Results of pcpuRun and schedRunDeterministic. */
export namespace SchedExit {
  export const RAN: u32 = 0; // ran its quota of vcpuRun calls, or reached the time limit
  export const IDLE: u32 = 1; // nothing runnable on this pCPU (the host may Atomics.wait on its kick word)
  export const HOST: u32 = 2; // a vCPU left with Exit.HOST (pcpuExitVcpu tells which); it stays current
  export const HALT: u32 = 3; // a vCPU left with Exit.HALT; it is blocked (Block.HALT)
}

// ---- small helpers -----------------------------------------------------------
@inline export function gGet64(off: u32): u64 {
  return load<u64>(G + off);
}
@inline export function gGet32(off: u32): u32 {
  return load<u32>(G + off);
}

/** Spin lock on wasm atomics (0 free, 1 held). */
@inline export function lockPcpu(c: usize): void {
  while (atomic.cmpxchg<u32>(c + C_LOCK, 0, 1) != 0) {}
}
@inline export function tryLockPcpu(c: usize): bool {
  return atomic.cmpxchg<u32>(c + C_LOCK, 0, 1) == 0;
}
@inline export function unlockPcpu(c: usize): void {
  atomic.store<u32>(c + C_LOCK, 0);
}
