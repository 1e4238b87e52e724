// Harts of the calling partition as SBI sees them: hart ids are partition-
// local (0 .. nvcpus-1, the mhartid the guest reads), so a guest can name
// only its own vCPUs, and hart masks (spec 3.1 "Hart list parameter") are
// validated before anything is done to any target.
import { jitFlush } from '../jit/dispatch';
import {
  hart, H_F, H_FCSR, H_FENCE_PENDING, H_HARTID, H_MCOUNTEREN, H_MEDELEG, H_MIDELEG, H_MIE, H_MIP, H_MSIP,
  H_MSTATUS, H_MTIMECMP, H_PC, H_PMPADDR, H_PMPCFG, H_PRIV, H_RESV_ADDR, H_SATP, H_SCAUSE, H_SCOUNTEREN,
  H_SENVCFG, H_SEPC, H_SHADOW_FLUSH_PENDING, H_SSCRATCH, H_STIMECMP, H_STVAL, H_STVEC, H_SUSPEND_PC, H_WFI, H_X,
} from '../cpu/hart';
import { MIP_SSIP, MS_XLEN_FIXED, PRIV_S, S_INTERRUPTS } from '../cpu/defs';
import { requestResync } from '../cpu/exception';
import { vcpuAddr } from '../layout';
import { P_FIRST_VCPU, P_NVCPUS } from '../mm/partition';
import { tlbFlushAll } from '../mmu/tlb';
import { callerPartition } from './abi';
import { FENCE_I, FENCE_VMA } from './defs';

/** vCPU block of hart `id` of the caller's partition, or 0 if it has none. */
export function hartBlock(id: u64): usize {
  const p = callerPartition();
  if (id >= <u64>load<u32>(p, P_NVCPUS)) return 0;
  return vcpuAddr(load<u32>(p, P_FIRST_VCPU) + <u32>id);
}

/** hart_mask_base = -1: every hart of the partition, hart_mask ignored. */
const ALL_HARTS: u64 = ~<u64>0;

/** Does every hart the mask names exist? (An empty mask is valid and names none.) */
export function hartMaskValid(mask: u64, base: u64): bool {
  if (base == ALL_HARTS || mask == 0) return true;
  const n = <u64>load<u32>(callerPartition(), P_NVCPUS);
  if (base >= n) return false;
  // The highest set bit must name a hart below n (base + bit cannot overflow: base < n < 2^32).
  const top = <u64>(63 - clz(mask));
  return base + top < n;
}

export const OP_IPI: u32 = 0;
export const OP_FENCE_VMA: u32 = 1;
export const OP_FENCE_I: u32 = 2;

/** Applies `op` to every hart of a mask that hartMaskValid accepted. */
export function hartMaskApply(mask: u64, base: u64, op: u32): void {
  if (base == ALL_HARTS) {
    const n = load<u32>(callerPartition(), P_NVCPUS);
    for (let id: u32 = 0; id < n; id++) apply(hartBlock(id), op);
    return;
  }
  while (mask) {
    const bit = <u64>ctz(mask);
    mask &= mask - 1;
    apply(hartBlock(base + bit), op);
  }
}

function apply(v: usize, op: u32): void {
  if (op == OP_IPI) {
    // SSIP lives with the software-writable mip bits; another pCPU may be
    // running the target, hence the atomic or. A target blocked in WFI
    // wakes when the scheduler next asks vcpuWakeup.
    atomic.or<u64>(v + H_MIP, MIP_SSIP);
    if (v == hart) requestResync();
    return;
  }
  if (v == hart) {
    // The caller's own fence is immediate; resync drops the interpreter's
    // cached fetch page too.
    if (op == OP_FENCE_VMA) tlbFlushAll();
    else jitFlush();
    requestResync();
    return;
  }
  // Another vCPU flushes before it next runs (sbiBeforeRun), as KVM makes a
  // remote vCPU flush on its next entry.
  atomic.or<u32>(v + H_FENCE_PENDING, op == OP_FENCE_VMA ? FENCE_VMA : FENCE_I);
}

/** medeleg: every exception S-mode can handle, except ECALL from S (9), which is ours. */
const ENLIGHTENED_MEDELEG: u64 = 0xb1ff;

/**
 * Puts vCPU block `v` at S-mode entry as an SBI firmware leaves it (spec
 * HSM "hart start register state"): pc = `pc`, a0/a1 given, satp = 0,
 * sstatus.SIE = 0, all S-level interrupts and exceptions delegated, PMP
 * entry 0 granting S-mode the whole physical space (as OpenSBI does;
 * second-stage translation is what confines the partition), counters
 * readable from S and U, timers off. FP is Initial, as KVM starts its guests.
 * Counters, statistics and the console ring survive; the TLB (and any
 * shadow tables) are flushed before the vCPU next runs.
 */
export function enterSupervisor(v: usize, pc: u64, a0: u64, a1: u64): void {
  memory.fill(v + H_X, 0, 32 * 8);
  memory.fill(v + H_F, 0, 32 * 8);
  store<u64>(v + H_X + 10 * 8, a0);
  store<u64>(v + H_X + 11 * 8, a1);
  store<u64>(v, pc, H_PC);
  store<u32>(v, PRIV_S, H_PRIV);
  store<u32>(v, 0, H_FCSR);
  store<u64>(v, MS_XLEN_FIXED | (<u64>1 << 13), H_MSTATUS);
  store<u64>(v, ENLIGHTENED_MEDELEG, H_MEDELEG);
  store<u64>(v, S_INTERRUPTS, H_MIDELEG);
  store<u64>(v, 0, H_MIE);
  store<u64>(v, 0, H_MIP);
  store<u32>(v, 0, H_MSIP);
  store<u64>(v, 0, H_STVEC);
  store<u64>(v, 0, H_SSCRATCH);
  store<u64>(v, 0, H_SEPC);
  store<u64>(v, 0, H_SCAUSE);
  store<u64>(v, 0, H_STVAL);
  store<u64>(v, 0, H_SATP);
  store<u64>(v, 0, H_SENVCFG);
  // As OpenSBI's mstatus_init: cycle, time and instret readable from S
  // (mcounteren) and, until the kernel says otherwise, from U (scounteren):
  // Linux without its PMU driver never writes scounteren, and its vDSO and
  // every libc read `time` from U-mode.
  store<u32>(v, 7, H_SCOUNTEREN);
  store<u32>(v, 7, H_MCOUNTEREN);
  store<u64>(v, ~<u64>0, H_MTIMECMP);
  store<u64>(v, ~<u64>0, H_STIMECMP);
  store<u64>(v, ~<u64>0, H_RESV_ADDR);
  store<u32>(v, 0, H_WFI);
  store<u64>(v, 0, H_SUSPEND_PC);
  memory.fill(v + H_PMPCFG, 0, 8 * 8);
  store<u8>(v + H_PMPCFG, 0x1f); // entry 0: NAPOT, R W X
  store<u64>(v + H_PMPADDR, 0x003f_ffff_ffff_ffff);
  atomic.or<u32>(v + H_FENCE_PENDING, FENCE_VMA | FENCE_I);
  atomic.store<u32>(v + H_SHADOW_FLUSH_PENDING, 1); // shadow paging: nothing of a previous life survives
}

/** Partition-local hart id of vCPU block `v`. */
@inline export function hartIdOf(v: usize): u32 {
  return load<u32>(v, H_HARTID);
}
