// The per-pCPU loop: pick the best runnable vCPU (own queue first, steal
// from a peer when the own queue has nothing as good), run it for a chunk,
// charge what it retired, handle its exit, repeat.
//
// A vCPU picked from a queue gets a slice (30 ms). It runs in chunks that
// end at the pCPU's next tick (10 ms), when its credit runs out (if it is
// UNDER or BOOST; at least min_chunk), or when its partition's cap budget
// runs out. Between chunks the pCPU polls its blocked list (timers and
// interrupts of vCPUs in WFI), does the credit accounting when a period
// boundary has passed, and lets a queued vCPU of a strictly better class
// preempt the current one; at the end of the slice the current vCPU goes
// to the back of the queue and the best is picked again.
//
// Time: each pCPU has a clock in instructions (C_CLOCK), advanced by what
// its vCPUs retire and, while idle, by the host (pcpuAdvance) or by the
// deterministic driver (schedRunDeterministic).
import { vcpuAddr } from '../layout';
import {
  setHart, H_ATTENTION, H_INSTRET, H_PREEMPT, H_STAT_INTERRUPTS, H_STAT_TRAPS, H_MIE, H_MTIMECMP, H_SBI_EXIT, H_STATE, H_STIMECMP, H_WFI, Exit,
  VcpuState,
} from '../cpu/hart';
import { MIP_MTIP, MIP_STIP } from '../cpu/defs';
import { run } from '../cpu/exec';
import { wakeupPending } from '../cpu/interrupts';
import { sbiAfterRun, sbiBeforeRun } from '../hypercall/sbi';
import { shadowBeforeRun } from '../mmu/shadow';
import { dirtyAfterRun, dirtyBeforeRun } from '../mm/dirty';
import { SbiExit } from '../hypercall/defs';
import {
  NIL, G, G_ACCT_LOCK, G_EXIT_PCPU, G_FLAGS, G_IDLE_STEP, G_MIN_CHUNK, G_NEXT_ACCT, G_NPCPUS, G_PERIOD, G_SLICE, G_TICK, G_ACCTS, GF_NO_BOOST,
  C_BL_HEAD, C_CLOCK, C_CURRENT, C_YIELDED, C_EXIT_VCPU, C_KICK, C_LAST, C_LOAD, C_NEXT_POLL, C_RQ_HEAD, C_RQ_LEN, C_SLICE_END,
  C_STATS, C_TRACE, C_TRACE_N, TRACE_ENTRIES, TRACE_ENTRY_SIZE, S_BLOCK, S_CREDIT, S_FLAGS, S_NEXT, S_PCPU,
  S_READY_AT, S_STATE, S_STATS, S_WAKE_AT, SF_BLOCK_IO, SF_BOOST, SF_REMOVE, SF_WAKE, SF_WAKE_IRQ, Block, Class,
  PcpuStat, SchedExit, SState, VcpuStat, pcpuAddr, lockPcpu, tryLockPcpu, unlockPcpu, PS_CAP, PS_BUDGET,
} from './defs';
import { blAppend, blRemove, rqAppend, rqRemove } from './queue';
import { account, charge, classOf, partitionOf } from './credit';

// ---- per-instance (per-thread) state -------------------------------------------
/** The pCPU this instance is acting as. */
export let curPcpu: u32 = 0;
/** While a vCPU is inside run(): its block and its instret at the start (for schedNow). */
let inRun: bool = false;
let runVa: usize = 0;
let runInstret0: u64 = 0;

const NO_TIME: u64 = ~<u64>0;

// ---- small helpers -----------------------------------------------------------
@inline export function clockOf(c: usize): u64 {
  return atomic.load<u64>(c + C_CLOCK);
}
@inline function setClock(c: usize, t: u64): void {
  atomic.store<u64>(c + C_CLOCK, t);
}
@inline function statAdd(base: usize, index: u32, n: u64): void {
  store<u64>(base + index * 8, load<u64>(base + index * 8) + n);
}
@inline function min64(a: u64, b: u64): u64 {
  return a < b ? a : b;
}

/** The time as the calling instance sees it: its pCPU's clock plus the running chunk's progress. */
export function nowOfInstance(): u64 {
  const t = clockOf(pcpuAddr(curPcpu));
  if (!inRun) return t;
  return t + (load<u64>(runVa + H_INSTRET) - runInstret0);
}

/** Wakes a host thread sleeping on pCPU `c` (Atomics.wait on its kick word). */
export function kick(c: usize): void {
  atomic.add<u32>(c + C_KICK, 1);
  atomic.notify(c + C_KICK, 1);
}

export function kickAll(): void {
  const n = load<u32>(G + G_NPCPUS);
  for (let i: u32 = 0; i < n; i++) kick(pcpuAddr(i));
}

// ---- state changes (callers hold the lock of pCPU `c` unless stated) ---------------

/** A blocked vCPU becomes runnable on `c` (lock held, already off the blocked list). */
export function wakeLocked(c: usize, v: u32, now: u64): void {
  const va = vcpuAddr(v);
  if (!(load<u32>(G + G_FLAGS) & GF_NO_BOOST) && atomic.load<i64>(va + S_CREDIT) > 0) {
    atomic.or<u32>(va + S_FLAGS, SF_BOOST);
  }
  store<u32>(va + S_BLOCK, Block.NONE);
  store<u64>(va + S_WAKE_AT, now);
  store<u64>(va + S_READY_AT, now);
  statAdd(va + S_STATS, VcpuStat.WAKES, 1);
  rqAppend(c, v);
}

/**
 * Another thread (the root partition: an exit completed, an interrupt raised)
 * has just woken `v` onto `c` (lock held). If it has BOOST and `c` is running
 * a vCPU of a lower class, that vCPU's chunk ends at its next instruction
 * (H_PREEMPT, then a kick of its attention word), so the woken one runs now
 * rather than when the chunk would have ended (a poll, up to 1 ms, or a
 * tick). The step that follows picks it (pcpuStep: preemption by a strictly
 * better class). Wake-ups found by the pCPU's own polls need none of this:
 * they happen between chunks.
 */
export function preemptFor(c: usize, v: u32): void {
  const cur = load<u32>(c + C_CURRENT);
  if (cur == NIL || cur == v) return;
  if (classOf(vcpuAddr(v)) != Class.BOOST || classOf(vcpuAddr(cur)) >= Class.BOOST) return;
  const ca = vcpuAddr(cur);
  atomic.store<u32>(ca + H_PREEMPT, 1);
  atomic.store<u32>(ca + H_ATTENTION, 1);
}

/** The current vCPU goes back to the tail of pCPU `c`'s queue (takes the lock). */
function requeue(c: usize, v: u32): void {
  lockPcpu(c);
  store<u64>(vcpuAddr(v) + S_READY_AT, clockOf(c));
  rqAppend(c, v);
  unlockPcpu(c);
}

/**
 * The current vCPU blocks (takes the lock). A schedWake that came while it
 * was running cancels the block (WFI, STOPPED, or I/O the host completed
 * before the vCPU came off its pCPU), a schedWakeIrq only a WFI block: it is
 * queued again, woken.
 */
function block(c: usize, v: u32, why: u32): void {
  const va = vcpuAddr(v);
  lockPcpu(c);
  // An interrupt raised while it ran (schedWakeIrq) cancels a WFI block only.
  const irq = atomic.and<u32>(va + S_FLAGS, ~SF_WAKE_IRQ) & SF_WAKE_IRQ;
  if (why != Block.HALT) {
    if ((atomic.and<u32>(va + S_FLAGS, ~SF_WAKE) & SF_WAKE) || (irq && why == Block.WFI)) {
      wakeLocked(c, v, clockOf(c));
      unlockPcpu(c);
      return;
    }
  }
  store<u32>(va + S_BLOCK, why);
  blAppend(c, v);
  // schedRemoveVcpu may have flagged it while it still looked RUNNING, after
  // this pCPU read its flags: then it is this pCPU's to drop. (The remover
  // sets the flag before it reads the state, and blAppend stores the state
  // before this reads the flag: one of the two sees the other.)
  if (atomic.load<u32>(va + S_FLAGS) & SF_REMOVE) {
    blRemove(c, v);
    drop(c, v);
  }
  unlockPcpu(c);
}

/** Drops the current vCPU (schedRemoveVcpu while it ran). */
function drop(c: usize, v: u32): void {
  const va = vcpuAddr(v);
  atomic.and<u32>(va + S_FLAGS, ~SF_REMOVE);
  atomic.sub<u32>(c + C_LOAD, 1);
  atomic.store<u32>(va + S_STATE, SState.NONE);
}

/** Would a vCPU blocked for `why` run now? (WFI: an interrupt is pending; STOPPED: hart_start ran.) */
function wakeable(va: usize): bool {
  const why = load<u32>(va + S_BLOCK);
  if (why != Block.WFI && why != Block.STOPPED) return false; // I/O and HALT: schedWake only
  if (atomic.load<u32>(va + H_STATE) != VcpuState.RUNNABLE) return false;
  if (!load<u32>(va + H_WFI)) return true;
  setHart(va);
  return wakeupPending();
}

/** Moves the wakeable vCPUs of `c`'s blocked list to its run queue. */
function pollBlocked(c: usize, now: u64): void {
  lockPcpu(c);
  let v = load<u32>(c + C_BL_HEAD);
  let woke: u64 = 0;
  while (v != NIL) {
    const va = vcpuAddr(v);
    const next = load<u32>(va + S_NEXT);
    if (wakeable(va)) {
      blRemove(c, v);
      wakeLocked(c, v, now);
      woke++;
    }
    v = next;
  }
  unlockPcpu(c);
  statAdd(c + C_STATS, PcpuStat.POLLS, 1);
  if (woke) statAdd(c + C_STATS, PcpuStat.WAKES, woke);
}

// ---- picking ------------------------------------------------------------------

let foundClass: u32 = Class.NONE;
let foundCredit: i64 = 0;

/**
 * The best queued vCPU of `c` in a class above `floor` (class first, then
 * most credit, then queue order), other than `skip`, or NIL. Lock held.
 * Sets foundClass/Credit.
 */
function bestQueued(c: usize, floor: u32, skip: u32): u32 {
  let best = NIL;
  let bc = Class.NONE;
  let bcr: i64 = 0;
  let v = load<u32>(c + C_RQ_HEAD);
  while (v != NIL) {
    const va = vcpuAddr(v);
    const k = v != skip ? classOf(va) : Class.NONE;
    if (k > floor) {
      const cr = atomic.load<i64>(va + S_CREDIT);
      if (best == NIL || k > bc || (k == bc && cr > bcr)) {
        best = v;
        bc = k;
        bcr = cr;
      }
    }
    v = load<u32>(va + S_NEXT);
  }
  foundClass = bc;
  foundCredit = bcr;
  return best;
}

/** Takes queued vCPU `v` off pCPU `c`'s queue to run on pCPU `p` (lock of `c` held). */
function takeLocked(c: usize, v: u32, p: u32): void {
  rqRemove(c, v);
  const va = vcpuAddr(v);
  atomic.store<u32>(va + S_PCPU, p);
  atomic.store<u32>(va + S_STATE, SState.RUNNING);
}

/**
 * The vCPU pCPU `p` should run next, of a class above `floor`, taken off its
 * queue (state RUNNING), or NIL. Looks at the own queue first; when that has
 * nothing UNDER or better, steals the best candidate among the peers' queues
 * that beats it (trylock only, so a pCPU never waits on another while
 * holding a lock; peers are visited in a fixed order from p + 1).
 */
function pickNext(p: u32, floor: u32, skip: u32 = NIL): u32 {
  const c = pcpuAddr(p);
  lockPcpu(c);
  let v = bestQueued(c, floor, skip);
  const lc = foundClass;
  if (v != NIL && lc >= Class.UNDER) {
    takeLocked(c, v, p);
    unlockPcpu(c);
    return v;
  }
  unlockPcpu(c);

  const n = load<u32>(G + G_NPCPUS);
  const bar = v != NIL ? lc : floor; // a stolen vCPU must be of a class above this
  let held: usize = 0; // the peer whose candidate is best so far (its lock stays held)
  let cand = NIL;
  let cc = Class.NONE;
  let ccr: i64 = 0;
  for (let i: u32 = 1; i < n; i++) {
    const cq = pcpuAddr((p + i) % n);
    if (atomic.load<u32>(cq + C_RQ_LEN) == 0) continue;
    if (!tryLockPcpu(cq)) continue;
    const s = bestQueued(cq, bar, NIL);
    if (s != NIL && (cand == NIL || foundClass > cc || (foundClass == cc && foundCredit > ccr))) {
      if (held) unlockPcpu(held);
      held = cq;
      cand = s;
      cc = foundClass;
      ccr = foundCredit;
    } else {
      unlockPcpu(cq);
    }
  }
  if (cand != NIL) {
    const from = held;
    takeLocked(from, cand, p);
    atomic.sub<u32>(from + C_LOAD, 1);
    unlockPcpu(from);
    atomic.add<u32>(c + C_LOAD, 1);
    statAdd(c + C_STATS, PcpuStat.STEALS, 1);
    statAdd(vcpuAddr(cand) + S_STATS, VcpuStat.MIGRATIONS, 1);
    return cand;
  }
  if (v == NIL) return NIL;
  lockPcpu(c);
  v = bestQueued(c, floor, skip);
  if (v != NIL) takeLocked(c, v, p);
  unlockPcpu(c);
  return v;
}

/** `v` (RUNNING, taken by pickNext) starts a slice on pCPU `c`. */
function startSlice(c: usize, v: u32, now: u64): void {
  const va = vcpuAddr(v);
  store<u32>(c + C_CURRENT, v);
  store<u64>(c + C_SLICE_END, now + load<u64>(G + G_SLICE));
  const st = va + S_STATS;
  statAdd(st, VcpuStat.PICKS, 1);
  const ready = load<u64>(va + S_READY_AT);
  if (now > ready) statAdd(st, VcpuStat.WAIT, now - ready);
  const woke = load<u64>(va + S_WAKE_AT);
  if (woke != NO_TIME) {
    const lat = now > woke ? now - woke : 0;
    statAdd(st, VcpuStat.WAKE_LAT_SUM, lat);
    if (lat > load<u64>(st + VcpuStat.WAKE_LAT_MAX * 8)) store<u64>(st + VcpuStat.WAKE_LAT_MAX * 8, lat);
    store<u64>(va + S_WAKE_AT, NO_TIME);
  }
  if (atomic.load<u32>(va + S_FLAGS) & SF_BOOST) statAdd(st, VcpuStat.BOOSTED, 1);
  if (load<u32>(c + C_LAST) != v) statAdd(c + C_STATS, PcpuStat.SWITCHES, 1);
}

// ---- maintenance between chunks -------------------------------------------------

/** Accounting, if this pCPU's clock has passed the period boundary and no other pCPU claimed it. */
function maybeAccount(c: usize, now: u64): void {
  const period = load<u64>(G + G_PERIOD);
  for (;;) {
    const next = atomic.load<u64>(G + G_NEXT_ACCT);
    if (now < next) return;
    // The next boundary after now (a long idle gap is one accounting).
    const nn = next + period > now ? next + period : now - (now - next) % period + period;
    if (atomic.cmpxchg<u64>(G + G_NEXT_ACCT, next, nn) == next) {
      // One accounting at a time: if the previous one is still running (a
      // pCPU thread descheduled by the host OS), this period is skipped.
      if (atomic.cmpxchg<u32>(G + G_ACCT_LOCK, 0, 1) != 0) return;
      account();
      atomic.store<u32>(G + G_ACCT_LOCK, 0);
      atomic.add<u64>(G + G_ACCTS, 1);
      statAdd(c + C_STATS, PcpuStat.ACCOUNTINGS, 1);
      kickAll(); // capped partitions have budget again
      return;
    }
  }
}

function maintenance(c: usize, now: u64): void {
  maybeAccount(c, now);
  if (now >= load<u64>(c + C_NEXT_POLL)) {
    store<u64>(c + C_NEXT_POLL, now + load<u64>(G + G_IDLE_STEP));
    if (atomic.load<u32>(c + C_BL_HEAD) != NIL) pollBlocked(c, now);
  }
}

/** Instructions the current vCPU may run in this chunk. */
function chunkBudget(c: usize, va: usize, now: u64, cls: u32): u32 {
  const tick = load<u64>(G + G_TICK);
  const sliceEnd = load<u64>(c + C_SLICE_END);
  let lim: u64 = sliceEnd > now ? sliceEnd - now : 1;
  lim = min64(lim, (now / tick + 1) * tick - now);
  if (cls >= Class.UNDER) {
    const cr = atomic.load<i64>(va + S_CREDIT);
    const minChunk = load<u64>(G + G_MIN_CHUNK);
    lim = min64(lim, cr > <i64>minChunk ? <u64>cr : minChunk);
  }
  // While vCPUs are blocked here, end chunks at the next poll so that a
  // timer or interrupt that wakes one is seen within a poll interval.
  if (atomic.load<u32>(c + C_BL_HEAD) != NIL) {
    const np = load<u64>(c + C_NEXT_POLL);
    if (np > now) lim = min64(lim, np - now);
  }
  // A vCPU with a timer armed and enabled sees it fire at a chunk boundary
  // (or sooner, at an instruction that resyncs): keep those within a poll
  // interval, as a 1000 Hz tick would.
  if (load<u64>(va + H_MIE) & (MIP_MTIP | MIP_STIP) && (load<u64>(va + H_MTIMECMP) != NO_TIME || load<u64>(va + H_STIMECMP) != NO_TIME)) {
    lim = min64(lim, load<u64>(G + G_IDLE_STEP));
  }
  const pa = partitionOf(va);
  if (atomic.load<u32>(pa + PS_CAP)) {
    const b = atomic.load<i64>(pa + PS_BUDGET);
    if (b > 0) lim = min64(lim, <u64>b);
  }
  if (lim == 0) lim = 1;
  return lim > 0xffff_ffff ? 0xffff_ffff : <u32>lim;
}

function traceRun(c: usize, start: u64, len: u64, v: u32, cls: u32, exit: u32): void {
  const n = load<u32>(c + C_TRACE_N);
  const e = c + C_TRACE + (n % TRACE_ENTRIES) * TRACE_ENTRY_SIZE;
  store<u64>(e, start);
  store<u32>(e + 8, len > 0xffff_ffff ? 0xffff_ffff : <u32>len);
  store<u16>(e + 12, <u16>v);
  store<u8>(e + 14, <u8>cls);
  store<u8>(e + 15, <u8>exit);
  atomic.store<u32>(c + C_TRACE_N, n + 1);
}

// ---- one step of the loop ---------------------------------------------------------

/**
 * One scheduling decision on pCPU `p` and at most one run of a vCPU.
 * Returns SchedExit.RAN after a run, IDLE when nothing is runnable here,
 * HOST / HALT after a run that ended so (C_EXIT_VCPU tells which vCPU).
 */
export function pcpuStep(p: u32): u32 {
  curPcpu = p;
  const c = pcpuAddr(p);
  let now = clockOf(c);
  maintenance(c, now);

  // The current vCPU: keep it, or put it back and pick again.
  let v = load<u32>(c + C_CURRENT);
  if (v != NIL) {
    const va = vcpuAddr(v);
    const f = atomic.load<u32>(va + S_FLAGS);
    let off = true; // comes off the pCPU
    if (f & SF_REMOVE) drop(c, v);
    else if (f & SF_BLOCK_IO) {
      atomic.and<u32>(va + S_FLAGS, ~SF_BLOCK_IO);
      block(c, v, Block.IO);
    } else if (atomic.load<u32>(va + H_STATE) != VcpuState.RUNNABLE) block(c, v, Block.STOPPED);
    else {
      // A preemption asked for from here on is for the run below (preemptFor);
      // one asked for before is answered by the pick that follows.
      atomic.store<u32>(va + H_PREEMPT, 0);
      const k = classOf(va);
      if (k == Class.NONE || now >= load<u64>(c + C_SLICE_END)) requeue(c, v);
      else {
        const better = pickNext(p, k); // preemption by a strictly better class
        if (better != NIL) {
          requeue(c, v);
          startSlice(c, better, now);
          v = better;
        }
        off = false;
      }
    }
    if (off) {
      store<u32>(c + C_CURRENT, NIL);
      v = NIL;
    }
  }
  if (v == NIL) {
    // After a yield, anyone else first; the yielder only if nobody else can run.
    const yielded = load<u32>(c + C_YIELDED);
    store<u32>(c + C_YIELDED, NIL);
    v = pickNext(p, Class.NONE, yielded);
    if (v == NIL && yielded != NIL) v = pickNext(p, Class.NONE);
    if (v == NIL) return SchedExit.IDLE;
    startSlice(c, v, now);
  }

  // Run a chunk.
  const va = vcpuAddr(v);
  const cls = classOf(va);
  const budget = chunkBudget(c, va, now, cls);
  setHart(va);
  const i0 = load<u64>(va + H_INSTRET);
  const t0 = trapsOf(va);
  runVa = va;
  runInstret0 = i0;
  inRun = true;
  let exit = Exit.WFI;
  if (sbiBeforeRun()) { // as vcpuRun (index.ts): stopped harts do not run; queued remote fences apply
    shadowBeforeRun(); // another vCPU's write-protect fault may have asked for a shadow flush
    dirtyBeforeRun(); // the dirty log was armed or fetched: drop the store TLB
    exit = run(budget);
    dirtyAfterRun();
    sbiAfterRun();
  }
  inRun = false;
  // Time is steps, as the chunk's budget counts them: a trap storm that
  // retires nothing still moves the clock (its timers come due) and burns credit.
  const used = load<u64>(va + H_INSTRET) - i0 + (trapsOf(va) - t0);
  setClock(c, now + used);
  charge(va, used);
  atomic.and<u32>(va + S_FLAGS, ~SF_BOOST); // BOOST lasts one run
  store<u32>(c + C_LAST, v);
  const st = c + C_STATS;
  statAdd(st, PcpuStat.BUSY, used);
  statAdd(st, PcpuStat.RUNS, 1);
  traceRun(c, now, used, v, cls, exit);
  now += used;

  if (exit == Exit.WFI) {
    // Blocked until an interrupt is pending (or hart_start for a stopped
    // hart) - unless one already is.
    const why = atomic.load<u32>(va + H_STATE) == VcpuState.RUNNABLE ? Block.WFI : Block.STOPPED;
    store<u32>(va + S_BLOCK, why);
    if (why == Block.STOPPED || !wakeable(va)) {
      store<u32>(c + C_CURRENT, NIL);
      block(c, v, why);
    } else {
      store<u32>(va + S_BLOCK, Block.NONE);
    }
  } else if (exit == Exit.HOST) {
    // A hypervisor-call yield is the scheduler's business; anything else
    // goes to the host, and the vCPU stays current until the next step.
    if (atomic.load<u32>(va + H_SBI_EXIT) == SbiExit.YIELD) {
      atomic.cmpxchg<u32>(va + H_SBI_EXIT, SbiExit.YIELD, SbiExit.NONE);
      store<u32>(c + C_CURRENT, NIL);
      store<u32>(c + C_YIELDED, v);
      requeue(c, v);
    } else {
      store<u32>(c + C_EXIT_VCPU, v);
      return SchedExit.HOST;
    }
  } else if (exit == Exit.HALT) {
    store<u32>(c + C_CURRENT, NIL);
    block(c, v, Block.HALT);
    store<u32>(c + C_EXIT_VCPU, v);
    return SchedExit.HALT;
  }
  return SchedExit.RAN;
}

/** Traps vCPU block `va` has taken (exceptions and interrupts): with H_INSTRET, its steps. */
function trapsOf(va: usize): u64 {
  return load<u64>(va + H_STAT_TRAPS) + load<u64>(va + H_STAT_INTERRUPTS);
}

/** Idle time on pCPU `p`: its clock moves on by `insns`. */
export function advanceIdle(p: u32, insns: u64): void {
  const c = pcpuAddr(p);
  setClock(c, clockOf(c) + insns);
  statAdd(c + C_STATS, PcpuStat.IDLE, insns);
}

/**
 * Deterministic mode: every pCPU on this thread. Always steps the pCPU with
 * the smallest clock (ties: lowest index), so the interleaving depends on
 * instruction counts only. An idle pCPU's clock jumps by idle_step.
 */
export function runDeterministic(until: u64, maxRuns: u32): u32 {
  const n = load<u32>(G + G_NPCPUS);
  const idleStep = load<u64>(G + G_IDLE_STEP);
  let runs: u32 = 0;
  for (;;) {
    let p = NIL;
    let t = until;
    for (let i: u32 = 0; i < n; i++) {
      const ci = clockOf(pcpuAddr(i));
      if (ci < t) {
        t = ci;
        p = i;
      }
    }
    if (p == NIL) return SchedExit.RAN;
    const r = pcpuStep(p);
    if (r == SchedExit.IDLE) {
      advanceIdle(p, min64(idleStep, until - t));
      continue;
    }
    if (r != SchedExit.RAN) {
      store<u32>(G + G_EXIT_PCPU, p);
      return r;
    }
    if (++runs >= maxRuns) return SchedExit.RAN;
  }
  return SchedExit.RAN; // not reached
}

