// The scheduler's host-facing surface (re-exported by kernel/index.ts).
// See docs/scheduler.md for the algorithm and runtime/host/sched.ts for the
// typed view the host uses.
import { MAX_PARTITIONS, MAX_VCPUS, PCPU_SIZE, SCHED_PCPUS, vcpuAddr } from '../layout';
import { H_ATTENTION, H_PREEMPT, H_SCHED, H_SCHED_SIZE } from '../cpu/hart';
import { partitionAddr, P_FIRST_VCPU, P_HALTED, P_NVCPUS } from '../mm/partition';
import {
  NIL, MAX_PCPUS, G, G_ACCTS, G_EXIT_PCPU, G_FLAGS, G_HIWATER, G_IDLE_STEP, G_INSNS_PER_MS, G_MIN_CHUNK, G_NEXT_ACCT,
  G_NPCPUS, G_PERIOD, G_SIZE, G_SLICE, G_TICK, GF_NO_BOOST, C_CURRENT, C_EXIT_VCPU, C_YIELDED, C_HEADER_SIZE, C_LAST, C_LOAD,
  C_STATS, C_TRACE, C_CLOCK, C_KICK, C_TRACE_N, TRACE_ENTRIES, TRACE_ENTRY_SIZE, S_BLOCK, S_CREDIT, S_FLAGS, S_PCPU,
  S_READY_AT, S_STATE, S_STATS, S_WAKE_AT, SF_BLOCK_IO, SF_REMOVE, SF_WAKE, SF_WAKE_IRQ, Block, PcpuStat, SState,
  VcpuStat, PS_WEIGHT, PS_CAP, PS_RESERVE, PS_BUDGET, PS_RUN, PS_ALLOC, TICK_MS, SLICE_MS, PERIOD_MS, pcpuAddr,
  lockPcpu, unlockPcpu,
} from './defs';
import { blAppend, blRemove, listsInit, rqAppend, rqRemove } from './queue';
import { capAmount } from './credit';
import { advanceIdle, clockOf, kick, kickAll, nowOfInstance, pcpuStep, preemptFor, runDeterministic, wakeLocked } from './pcpu';
import { SchedExit } from './defs';

// Layout facts for the host's typed views and the playground.
export const LAYOUT_SCHED_PCPUS = SCHED_PCPUS;
export const LAYOUT_PCPU_SIZE = PCPU_SIZE;
export const LAYOUT_MAX_PCPUS = MAX_PCPUS;
export const LAYOUT_PCPU_TRACE = C_TRACE;
export const LAYOUT_PCPU_TRACE_N = C_TRACE_N;
export const LAYOUT_PCPU_TRACE_ENTRIES = TRACE_ENTRIES;
export const LAYOUT_PCPU_TRACE_ENTRY_SIZE = TRACE_ENTRY_SIZE;
export const LAYOUT_PCPU_STATS = C_STATS;
export const LAYOUT_PCPU_CLOCK = C_CLOCK;
export const LAYOUT_PCPU_KICK = C_KICK;
export const OFF_SCHED_STATE = S_STATE;
export const OFF_SCHED_CREDIT = S_CREDIT;
export const OFF_SCHED_STATS = S_STATS;

/**
 * Sets up the scheduler for `npcpus` pCPUs, with 1 ms of guest CPU =
 * `insnsPerMs` instructions (tick 10 ms, slice and accounting period 30 ms).
 * Forgets every vCPU. Call before any pCPU runs.
 */
export function schedInit(npcpus: u32, insnsPerMs: u32): bool {
  if (npcpus == 0 || npcpus > MAX_PCPUS || insnsPerMs == 0) return false;
  const ms = <u64>insnsPerMs;
  // vCPUs a scheduler had before (a host that runs it again) lose its
  // fields; the others hold none: host memory starts zeroed and vcpuReset
  // zeroes a block. All 1,024 blocks touched 4 MiB of host memory at boot.
  const hiwater = atomic.load<u32>(G + G_HIWATER);
  memory.fill(G, 0, G_SIZE);
  store<u32>(G + G_NPCPUS, npcpus);
  store<u32>(G + G_INSNS_PER_MS, insnsPerMs);
  store<u64>(G + G_TICK, ms * TICK_MS);
  store<u64>(G + G_SLICE, ms * SLICE_MS);
  store<u64>(G + G_PERIOD, ms * PERIOD_MS);
  store<u64>(G + G_MIN_CHUNK, ms >= 10 ? ms / 10 : 1);
  store<u64>(G + G_IDLE_STEP, ms);
  store<u64>(G + G_NEXT_ACCT, 0); // the first step accounts
  for (let i: u32 = 0; i < MAX_PCPUS; i++) {
    const c = pcpuAddr(i);
    memory.fill(c, 0, C_HEADER_SIZE);
    listsInit(c);
    store<u32>(c + C_CURRENT, NIL);
    store<u32>(c + C_LAST, NIL);
    store<u32>(c + C_EXIT_VCPU, NIL);
    store<u32>(c + C_YIELDED, NIL);
  }
  for (let v: u32 = 0; v < hiwater && v < MAX_VCPUS; v++) memory.fill(vcpuAddr(v) + H_SCHED, 0, H_SCHED_SIZE);
  atomic.store<u32>(G + G_HIWATER, 0);
  return true;
}

/** BOOST for waking vCPUs (on by default). */
export function schedSetBoost(on: bool): void {
  if (on) atomic.and<u32>(G + G_FLAGS, ~GF_NO_BOOST);
  else atomic.or<u32>(G + G_FLAGS, GF_NO_BOOST);
}

/**
 * Puts vCPU `vcpu` (already set up with vcpuReset) under the scheduler, on
 * pCPU `pcpuHint`'s queue, or the least loaded pCPU's if the hint is out of
 * range. vcpuReset wipes the scheduler's fields: never reset a managed vCPU.
 */
export function schedAddVcpu(vcpu: u32, pcpuHint: i32): bool {
  if (vcpu >= MAX_VCPUS) return false;
  const va = vcpuAddr(vcpu);
  if (atomic.load<u32>(va + S_STATE) != SState.NONE) return false;
  const n = load<u32>(G + G_NPCPUS);
  if (n == 0) return false;
  let p: u32 = 0;
  if (pcpuHint >= 0 && <u32>pcpuHint < n) p = <u32>pcpuHint;
  else {
    let least = atomic.load<u32>(pcpuAddr(0) + C_LOAD);
    for (let i: u32 = 1; i < n; i++) {
      const l = atomic.load<u32>(pcpuAddr(i) + C_LOAD);
      if (l < least) {
        least = l;
        p = i;
      }
    }
  }
  memory.fill(va + H_SCHED, 0, H_SCHED_SIZE);
  store<u64>(va + S_WAKE_AT, ~<u64>0);
  const c = pcpuAddr(p);
  atomic.store<u32>(va + S_PCPU, p);
  atomic.add<u32>(c + C_LOAD, 1);
  for (;;) {
    const hw = atomic.load<u32>(G + G_HIWATER);
    if (hw > vcpu || atomic.cmpxchg<u32>(G + G_HIWATER, hw, vcpu + 1) == hw) break;
  }
  lockPcpu(c);
  store<u64>(va + S_READY_AT, clockOf(c));
  rqAppend(c, vcpu);
  unlockPcpu(c);
  kick(c);
  return true;
}

/**
 * Takes `vcpu` out of the scheduler. A vCPU that is some pCPU's current one
 * leaves when that pCPU next steps (its state turns NONE then): wait for
 * schedVcpuState(vcpu) == 0 before reusing its block.
 */
export function schedRemoveVcpu(vcpu: u32): bool {
  if (vcpu >= MAX_VCPUS) return false;
  const va = vcpuAddr(vcpu);
  for (;;) {
    const s = atomic.load<u32>(va + S_STATE);
    if (s == SState.NONE) return false;
    if (s == SState.RUNNING) {
      // Its pCPU drops it when the chunk ends (pcpuStep), or when it blocks
      // it (block() looks at the flag after storing BLOCKED). If it left
      // RUNNING before the flag was set, it may not have seen it: take it
      // off its list here instead.
      atomic.or<u32>(va + S_FLAGS, SF_REMOVE);
      if (atomic.load<u32>(va + S_STATE) == SState.RUNNING) return true;
      atomic.and<u32>(va + S_FLAGS, ~SF_REMOVE);
      continue;
    }
    const p = atomic.load<u32>(va + S_PCPU);
    const c = pcpuAddr(p);
    lockPcpu(c);
    if (atomic.load<u32>(va + S_STATE) == s && atomic.load<u32>(va + S_PCPU) == p) {
      if (s == SState.QUEUED) rqRemove(c, vcpu);
      else blRemove(c, vcpu);
      atomic.sub<u32>(c + C_LOAD, 1);
      atomic.store<u32>(va + S_STATE, SState.NONE);
      unlockPcpu(c);
      return true;
    }
    unlockPcpu(c);
  }
  return false; // not reached
}

/**
 * Scheduling parameters of partition `partition` (after partitionInit, which
 * clears them): weight (1..65535, 0 = 256), cap and reservation in percent
 * of one pCPU (cap 0 = none; reservation <= cap when capped).
 */
export function schedSetParams(partition: u32, weight: u32, cap: u32, reservation: u32): bool {
  if (partition >= MAX_PARTITIONS || weight > 0xffff) return false;
  const limit: u32 = 100 * MAX_PCPUS;
  if (cap > limit || reservation > limit || (cap != 0 && reservation > cap)) return false;
  const pa = partitionAddr(partition);
  atomic.store<u32>(pa + PS_WEIGHT, weight);
  atomic.store<u32>(pa + PS_RESERVE, reservation);
  const had = atomic.load<u32>(pa + PS_CAP);
  atomic.store<u32>(pa + PS_CAP, cap);
  if (cap && !had) atomic.store<i64>(pa + PS_BUDGET, capAmount(pa));
  return true;
}

/**
 * Pauses (on) or resumes partition `partition`: a halted partition's vCPUs
 * are not picked (a running one comes off at its pCPU's next step); they
 * keep their state and queue places. Any thread may call this.
 */
export function partitionSetHalted(partition: u32, on: bool): bool {
  if (partition >= MAX_PARTITIONS) return false;
  const pa = partitionAddr(partition);
  atomic.store<u32>(pa + P_HALTED, on ? 1 : 0);
  if (!on) kickAll(); // idle pCPUs look again
  else {
    // Running vCPUs end their chunk at the next instruction (up to 1 ms
    // otherwise): a pause (save, a migration's stop) waits for them.
    const first = load<u32>(pa, P_FIRST_VCPU);
    for (let i: u32 = 0, n = load<u32>(pa, P_NVCPUS); i < n; i++) {
      const va = vcpuAddr(first + i);
      atomic.store<u32>(va + H_PREEMPT, 1);
      atomic.store<u32>(va + H_ATTENTION, 1);
    }
  }
  return true;
}

/**
 * An event for `vcpu` (I/O completion, IPI, interrupt raised by the host):
 * if it is blocked it becomes runnable, with BOOST if it has credit left.
 * If it is running or queued, its next block is cancelled. Returns true if
 * it was blocked. Any thread may call this.
 */
export function schedWake(vcpu: u32): bool {
  return wake(vcpu, SF_WAKE, false);
}

/**
 * An interrupt line of `vcpu` went high (a device, a VMBus SINT): a vCPU
 * waiting in WFI runs again, one about to block in WFI does not block. Unlike
 * schedWake it never ends a wait on the host: a vCPU whose exit the root has
 * not serviced yet stays blocked until that service's own schedWake (woken
 * early, it would run the abandoned instruction again and make a second
 * exit, which that schedWake would then end unserviced). Its pending line is
 * seen when it runs. Returns true if it woke a blocked vCPU.
 */
export function schedWakeIrq(vcpu: u32): bool {
  return wake(vcpu, SF_WAKE_IRQ, true);
}

/** schedWake (`flag` SF_WAKE) and schedWakeIrq (SF_WAKE_IRQ, `wfiOnly`). */
function wake(vcpu: u32, flag: u32, wfiOnly: bool): bool {
  if (vcpu >= MAX_VCPUS) return false;
  const va = vcpuAddr(vcpu);
  atomic.or<u32>(va + S_FLAGS, flag);
  for (;;) {
    const s = atomic.load<u32>(va + S_STATE);
    if (s == SState.NONE) {
      atomic.and<u32>(va + S_FLAGS, ~flag);
      return false;
    }
    const p = atomic.load<u32>(va + S_PCPU);
    const c = pcpuAddr(p);
    if (s != SState.BLOCKED) {
      // Running or queued: the flag cancels its next block (pcpu.ts block),
      // which looks at it under its pCPU's lock. A vCPU blocking right now
      // (state still RUNNING, the lock held) may have looked already: taking
      // the lock orders us after that block, and the state says whether it
      // happened.
      lockPcpu(c);
      const still = atomic.load<u32>(va + S_STATE) == s && atomic.load<u32>(va + S_PCPU) == p;
      unlockPcpu(c);
      if (still) return false;
      continue;
    }
    lockPcpu(c);
    if (atomic.load<u32>(va + S_STATE) == SState.BLOCKED && atomic.load<u32>(va + S_PCPU) == p) {
      atomic.and<u32>(va + S_FLAGS, ~flag);
      const woke = !wfiOnly || load<u32>(va + S_BLOCK) == Block.WFI;
      if (woke) {
        blRemove(c, vcpu);
        wakeLocked(c, vcpu, clockOf(c));
        preemptFor(c, vcpu);
      }
      unlockPcpu(c);
      if (woke) kick(c);
      return woke;
    }
    unlockPcpu(c);
  }
  return false; // not reached
}

/**
 * `vcpu` waits on the host (an I/O request the root partition services): it
 * does not run until schedWake. Earlier wake-ups are forgotten. A running
 * vCPU blocks when it next comes off its pCPU.
 */
export function schedBlock(vcpu: u32): bool {
  if (vcpu >= MAX_VCPUS) return false;
  const va = vcpuAddr(vcpu);
  atomic.and<u32>(va + S_FLAGS, ~SF_WAKE);
  for (;;) {
    const s = atomic.load<u32>(va + S_STATE);
    if (s == SState.NONE) return false;
    if (s == SState.RUNNING) {
      atomic.or<u32>(va + S_FLAGS, SF_BLOCK_IO);
      return true;
    }
    const p = atomic.load<u32>(va + S_PCPU);
    const c = pcpuAddr(p);
    lockPcpu(c);
    if (atomic.load<u32>(va + S_STATE) == s && atomic.load<u32>(va + S_PCPU) == p) {
      if (s == SState.QUEUED) {
        rqRemove(c, vcpu);
        blAppend(c, vcpu);
      }
      store<u32>(va + S_BLOCK, Block.IO);
      unlockPcpu(c);
      return true;
    }
    unlockPcpu(c);
  }
  return false; // not reached
}

/**
 * The loop of pCPU `pcpu`: up to `maxRuns` vCPU runs (chunks of at most one
 * tick). Returns a SchedExit: RAN, IDLE (nothing runnable: the host may wait
 * on the pCPU's kick word, then account the idle time with pcpuAdvance),
 * HOST or HALT (pcpuExitVcpu tells which vCPU).
 */
export function pcpuRun(pcpu: u32, maxRuns: u32): u32 {
  if (pcpu >= load<u32>(G + G_NPCPUS)) return SchedExit.IDLE;
  for (let i: u32 = 0; i < maxRuns; i++) {
    const r = pcpuStep(pcpu);
    if (r != SchedExit.RAN) return r;
  }
  return SchedExit.RAN;
}

/** Idle time of pCPU `pcpu` (instructions' worth), for hosts that wait in real time. */
export function pcpuAdvance(pcpu: u32, insns: u64): void {
  if (pcpu < load<u32>(G + G_NPCPUS)) advanceIdle(pcpu, insns);
}

/** The vCPU of pCPU `pcpu`'s last HOST or HALT exit. */
export function pcpuExitVcpu(pcpu: u32): u32 {
  return load<u32>(pcpuAddr(pcpu) + C_EXIT_VCPU);
}

/** pCPU `pcpu`'s clock (instructions). */
export function pcpuClock(pcpu: u32): u64 {
  return clockOf(pcpuAddr(pcpu));
}

/**
 * Deterministic mode: runs every pCPU on this thread, always the one with
 * the smallest clock, until all clocks reach `until` (returns RAN), after
 * `maxRuns` vCPU runs (RAN), or at a HOST / HALT exit (schedExitPcpu and
 * pcpuExitVcpu tell where). Idle pCPUs advance by 1 ms steps.
 */
export function schedRunDeterministic(until: u64, maxRuns: u32): u32 {
  return runDeterministic(until, maxRuns);
}

export function schedExitPcpu(): u32 {
  return load<u32>(G + G_EXIT_PCPU);
}

/**
 * The time as this instance sees it (its pCPU's clock, plus the progress of
 * the vCPU it is running): the source for a host clock in deterministic mode.
 */
export function schedNow(): u64 {
  return nowOfInstance();
}

/** Statistic `which` (VcpuStat) of `vcpu`. */
export function schedVcpuStat(vcpu: u32, which: u32): u64 {
  if (vcpu >= MAX_VCPUS || which >= VcpuStat.COUNT) return 0;
  return load<u64>(vcpuAddr(vcpu) + S_STATS + which * 8);
}

export function schedVcpuCredit(vcpu: u32): i64 {
  return atomic.load<i64>(vcpuAddr(vcpu) + S_CREDIT);
}

/** SState of `vcpu` (0 NONE, 1 QUEUED, 2 RUNNING, 3 BLOCKED). */
export function schedVcpuState(vcpu: u32): u32 {
  return atomic.load<u32>(vcpuAddr(vcpu) + S_STATE);
}

/** The pCPU whose queue, blocked list or CPU holds `vcpu`. */
export function schedVcpuPcpu(vcpu: u32): u32 {
  return atomic.load<u32>(vcpuAddr(vcpu) + S_PCPU);
}

/** Statistic `which` (PcpuStat) of `pcpu`. */
export function schedPcpuStat(pcpu: u32, which: u32): u64 {
  if (pcpu >= MAX_PCPUS || which >= PcpuStat.COUNT) return 0;
  return load<u64>(pcpuAddr(pcpu) + C_STATS + which * 8);
}

/** Instructions run by all of partition `partition`'s vCPUs. */
export function schedPartitionRun(partition: u32): u64 {
  return atomic.load<u64>(partitionAddr(partition) + PS_RUN);
}

/** Credit handed to partition `partition` at the last accounting (instructions). */
export function schedPartitionAlloc(partition: u32): f64 {
  return load<f64>(partitionAddr(partition) + PS_ALLOC);
}

/** Accountings done so far. */
export function schedAccountings(): u64 {
  return atomic.load<u64>(G + G_ACCTS);
}
