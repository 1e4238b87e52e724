// SBI dispatch: the hypervisor as the SBI firmware of enlightened
// partitions (as KVM is for its guests). An ECALL from S-mode in a
// partition flagged PF_ENLIGHTENED comes here instead of trapping into the
// guest's (non-existent) M-mode; see README.md for the whole design.
import { jitFlush } from '../jit/dispatch';
import { getX, hart, H_FENCE_PENDING, H_STAT_SBI_CALLS, H_STATE, setX, VcpuState } from '../cpu/hart';
import { swapFaultPending } from '../mm/swap';
import { tlbFlushAll } from '../mmu/tlb';
import { eid, retErr } from './abi';
import {
  EID_BASE, EID_DBCN, EID_HSM, EID_HV, EID_IPI, EID_LEGACY_LAST, EID_RFENCE, EID_SRST, EID_TIME, FENCE_I, FENCE_VMA,
  SBI_ERR_NOT_SUPPORTED, SBI_NEXT,
} from './defs';
import { sbiBase } from './base';
import { sbiDbcn } from './dbcn';
import { sbiHsm, finishStop } from './hsm';
import { sbiHv } from './hv';
import { sbiIpi } from './ipi';
import { sbiLegacy } from './legacy';
import { sbiRfence } from './rfence';
import { sbiSrst } from './srst';
import { sbiTime } from './time';

export { enlightened } from './enlightened';

/**
 * Services the S-mode ECALL at `pc` of the running vCPU. Returns SBI_NEXT
 * (continue at pc + 4), SBI_RETRY (execute the ECALL again, after the host
 * has run) or SBI_SUSPEND (continue at pc + 4 once an interrupt is pending).
 */
export function sbiEcall(pc: u64): u32 {
  store<u64>(hart, load<u64>(hart, H_STAT_SBI_CALLS) + 1, H_STAT_SBI_CALLS);
  // A call whose guest memory is swapped out exits to the root and runs
  // again once the page is back (mm/swap.ts): the error it set for the
  // missing page must not reach the guest, nor clobber its arguments.
  // Handlers touch guest memory before any other effect.
  const a0 = getX(10), a1 = getX(11);
  const r = dispatch(pc);
  if (swapFaultPending()) {
    setX(10, a0);
    setX(11, a1);
    return SBI_NEXT; // the swap-in exit abandons the ECALL: pc stays
  }
  return r;
}

function dispatch(pc: u64): u32 {
  const e = eid();
  if (e <= EID_LEGACY_LAST) return sbiLegacy();
  if (e == EID_BASE) sbiBase();
  else if (e == EID_TIME) sbiTime();
  else if (e == EID_IPI) sbiIpi();
  else if (e == EID_RFENCE) sbiRfence();
  else if (e == EID_HSM) return sbiHsm(pc);
  else if (e == EID_SRST) sbiSrst();
  else if (e == EID_DBCN) return sbiDbcn();
  else if (e == EID_HV) sbiHv();
  else retErr(SBI_ERR_NOT_SUPPORTED);
  return SBI_NEXT;
}

/**
 * Before a vCPU runs (vcpuRun, and any scheduler loop): false if it must
 * not run (not RUNNABLE); otherwise honours the remote fences other vCPUs
 * queued for it.
 */
export function sbiBeforeRun(): bool {
  if (atomic.load<u32>(hart, H_STATE) != VcpuState.RUNNABLE) return false;
  if (atomic.load<u32>(hart, H_FENCE_PENDING)) {
    const kinds = atomic.xchg<u32>(hart + H_FENCE_PENDING, 0);
    if (kinds & FENCE_VMA) tlbFlushAll();
    // FENCE_I: this thread's translations go (jit/dispatch.ts). (run()
    // starts with no cached fetch page, so no resync is needed either.)
    if (kinds & FENCE_I) jitFlush();
  }
  return true;
}

/** After a vCPU ran: completes an HSM hart_stop. */
export function sbiAfterRun(): void {
  finishStop();
}
