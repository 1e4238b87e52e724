// Credit: proportional share with weight, cap and reservation per partition,
// in the style of Xen's credit scheduler, with time measured in retired
// instructions (steps: traps taken count as one each, kernel/cpu/exec.ts).
//
// - Burning is by consumption: after every run the vCPU's credit drops by
//   the steps it actually took (instructions retired and traps). Nothing
//   is sampled at ticks, so yielding just before a tick dodges nothing.
// - Every accounting period (30 ms worth of instructions) the pCPU that
//   crosses the boundary first hands out npcpus x period of credit to the
//   active partitions: proportional to weight, at least the reservation and
//   at most the cap (and at most one pCPU per active vCPU), by water-filling;
//   each partition's amount is split evenly among its active vCPUs.
// - A capped partition also has a budget (cap% of a period) that every run
//   burns; at zero its vCPUs are parked (class NONE) until the next period,
//   even if a pCPU would otherwise idle: a cap is a hard limit.
// - Class: BOOST (woke with credit left) > UNDER (credit > 0) > OVER.
import { vcpuAddr } from '../layout';
import { H_PARTITION } from '../cpu/hart';
import { P_HALTED } from '../mm/partition';
import {
  G, G_EPOCH, G_HIWATER, G_MIN_CHUNK, G_NPCPUS, G_PERIOD, G_PLIST, Class, DEFAULT_WEIGHT, PS_ALLOC, PS_BUDGET,
  PS_CAP, PS_EPOCH, PS_HI, PS_LINK, PS_LO, PS_NACTIVE, PS_RESERVE, PS_RUN, PS_WEIGHT, S_CREDIT, S_FLAGS, S_SHARE,
  S_STATE, S_STATS, S_USED, SF_BOOST, SState, VcpuStat,
} from './defs';

@inline export function partitionOf(va: usize): usize {
  return <usize>load<u32>(va + H_PARTITION);
}

@inline function weightOf(pa: usize): f64 {
  const w = atomic.load<u32>(pa + PS_WEIGHT);
  return <f64>(w ? w : DEFAULT_WEIGHT);
}

/** Can this partition run now? (not halted, and cap budget left if capped) */
@inline export function partitionEligible(pa: usize): bool {
  if (atomic.load<u32>(pa + P_HALTED)) return false;
  return atomic.load<u32>(pa + PS_CAP) == 0 || atomic.load<i64>(pa + PS_BUDGET) > 0;
}

/** The priority class of vCPU block `va` (see Class). */
export function classOf(va: usize): u32 {
  if (!partitionEligible(partitionOf(va))) return Class.NONE;
  if (atomic.load<i64>(va + S_CREDIT) > 0) {
    return atomic.load<u32>(va + S_FLAGS) & SF_BOOST ? Class.BOOST : Class.UNDER;
  }
  return Class.OVER;
}

/** Cap budget of a period, in instructions (cap is percent of one pCPU). */
@inline export function capAmount(pa: usize): i64 {
  return <i64>(<u64>atomic.load<u32>(pa + PS_CAP) * load<u64>(G + G_PERIOD) / 100);
}

/** Charges `used` instructions of run to vCPU `va`: credit, cap budget, statistics. */
export function charge(va: usize, used: u64): void {
  const pa = partitionOf(va);
  atomic.sub<i64>(va + S_CREDIT, <i64>used);
  atomic.add<u64>(va + S_USED, used);
  store<u64>(va + S_STATS + VcpuStat.RUN * 8, load<u64>(va + S_STATS + VcpuStat.RUN * 8) + used);
  atomic.add<u64>(pa + PS_RUN, used);
  if (atomic.load<u32>(pa + PS_CAP)) atomic.sub<i64>(pa + PS_BUDGET, <i64>used);
}

@inline function isActive(va: usize, state: u32, used: u64): bool {
  return state == SState.QUEUED || state == SState.RUNNING || used > 0;
}

@inline function clampF(x: f64, lo: f64, hi: f64): f64 {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * One accounting: called by exactly one pCPU per period (the one that won
 * the cmpxchg on G_NEXT_ACCT). Other pCPUs keep running and burning credit
 * meanwhile; every shared word it changes is updated atomically.
 */
export function account(): void {
  const period = load<u64>(G + G_PERIOD);
  const fperiod = <f64>period;
  const minChunk = <i64>load<u64>(G + G_MIN_CHUNK);
  const epoch = atomic.add<u32>(G + G_EPOCH, 1) + 1;
  const hiwater = atomic.load<u32>(G + G_HIWATER);

  // 1. Active vCPUs per partition; the partitions seen form a list.
  let plist: usize = 0;
  for (let v: u32 = 0; v < hiwater; v++) {
    const va = vcpuAddr(v);
    const s = atomic.load<u32>(va + S_STATE);
    if (s == SState.NONE) continue;
    const pa = partitionOf(va);
    if (load<u32>(pa + PS_EPOCH) != epoch) {
      store<u32>(pa + PS_EPOCH, epoch);
      store<u32>(pa + PS_NACTIVE, 0);
      store<u32>(pa + PS_LINK, <u32>plist);
      plist = pa;
    }
    if (atomic.load<u32>(pa + P_HALTED)) continue;
    if (isActive(va, s, atomic.load<u64>(va + S_USED))) store<u32>(pa + PS_NACTIVE, load<u32>(pa + PS_NACTIVE) + 1);
  }
  store<u32>(G + G_PLIST, <u32>plist);

  // 2. Each active partition's bounds: lo = reservation, hi = min(cap, one
  //    pCPU per active vCPU).
  const total = <f64>load<u32>(G + G_NPCPUS) * fperiod;
  let sumLo = 0.0, sumHi = 0.0, lmax = 0.0;
  for (let pa = plist; pa; pa = <usize>load<u32>(pa + PS_LINK)) {
    const na = load<u32>(pa + PS_NACTIVE);
    let lo = 0.0, hi = 0.0;
    if (na) {
      hi = <f64>na * fperiod;
      const cap = atomic.load<u32>(pa + PS_CAP);
      if (cap) hi = Math.min(hi, <f64>cap * fperiod / 100);
      lo = Math.min(<f64>atomic.load<u32>(pa + PS_RESERVE) * fperiod / 100, hi);
      lmax = Math.max(lmax, hi / weightOf(pa));
    }
    store<f64>(pa + PS_LO, lo);
    store<f64>(pa + PS_HI, hi);
    sumLo += lo;
    sumHi += hi;
  }

  // 3. Water-filling: alloc = clamp(lambda * weight, lo, hi) with the sum of
  //    allocations = total capacity. The sum is monotonic in lambda, so
  //    bisection finds it (deterministically: f64 is exact in wasm).
  let lambda = 0.0;
  let mode = 0; // 0 bisection, 1 everyone at hi, 2 reservations oversubscribed
  if (sumHi <= total) mode = 1;
  else if (sumLo >= total) mode = 2;
  else {
    let a = 0.0, b = lmax;
    for (let i = 0; i < 64; i++) {
      const m = (a + b) * 0.5;
      let s = 0.0;
      for (let pa = plist; pa; pa = <usize>load<u32>(pa + PS_LINK)) {
        if (load<u32>(pa + PS_NACTIVE)) s += clampF(m * weightOf(pa), load<f64>(pa + PS_LO), load<f64>(pa + PS_HI));
      }
      if (s < total) a = m;
      else b = m;
    }
    lambda = b;
  }
  for (let pa = plist; pa; pa = <usize>load<u32>(pa + PS_LINK)) {
    let x = 0.0;
    if (load<u32>(pa + PS_NACTIVE)) {
      const lo = load<f64>(pa + PS_LO), hi = load<f64>(pa + PS_HI);
      if (mode == 1) x = hi;
      else if (mode == 2) x = lo * total / sumLo;
      else x = clampF(lambda * weightOf(pa), lo, hi);
    }
    store<f64>(pa + PS_ALLOC, x);
    // A cap is per period: a new budget, minus any overrun (several pCPUs
    // running the partition at once may overshoot; the debt carries).
    if (atomic.load<u32>(pa + PS_CAP)) {
      const amount = capAmount(pa);
      for (;;) {
        const old = atomic.load<i64>(pa + PS_BUDGET);
        const nb = (old < 0 ? old : 0) + amount;
        if (atomic.cmpxchg<i64>(pa + PS_BUDGET, old, nb) == old) break;
      }
    }
  }

  // 4. Credit to each active vCPU: its partition's allocation / active
  //    vCPUs. Clipped to [-(share + min_chunk), 2 x share]: a vCPU that could
  //    not spend its credit carries at most one period's worth, one that ran
  //    on idle time owes at most one period's worth.
  for (let v: u32 = 0; v < hiwater; v++) {
    const va = vcpuAddr(v);
    const s = atomic.load<u32>(va + S_STATE);
    if (s == SState.NONE) continue;
    const used = atomic.xchg<u64>(va + S_USED, 0);
    const pa = partitionOf(va);
    const na = load<u32>(pa + PS_NACTIVE);
    if (!na || atomic.load<u32>(pa + P_HALTED) || !isActive(va, s, used)) continue;
    const share = <i64>(load<f64>(pa + PS_ALLOC) / <f64>na);
    store<i64>(va + S_SHARE, share);
    const lo = -(share + minChunk), hi = 2 * share;
    for (;;) {
      const old = atomic.load<i64>(va + S_CREDIT);
      let nc = old + share;
      if (nc > hi) nc = hi;
      if (nc < lo) nc = lo;
      if (atomic.cmpxchg<i64>(va + S_CREDIT, old, nc) == old) break;
    }
  }
}
