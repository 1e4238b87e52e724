// Hart State Management (EID 0x48534D "HSM", spec chapter 9).
//
// The SBI hart states map onto the vCPU run state (H_STATE):
//   STOPPED  -> STOPPED          RUNNABLE -> STARTED (or SUSPENDED, below)
//   STARTING -> START_PENDING    STOPPING -> STOP_PENDING
// hart_start moves a vCPU STOPPED -> STARTING by compare-and-swap (so two
// harts racing to start it cannot both win), writes its S-mode entry state
// and publishes RUNNABLE; schedulers run only RUNNABLE vCPUs. hart_stop
// marks the caller STOPPING and leaves run(); vcpuRun publishes STOPPED
// once the vCPU is off the pCPU (sbiAfterRun), so nobody rewrites a block
// that a pCPU is still running.
//
// hart_suspend implements the default retentive type as WFI: the call
// returns SUCCESS and the vCPU stalls until an interrupt is pending for it.
// While stalled there, get_status reports SUSPENDED (the vCPU is in WFI at
// the pc its suspend returned to). Non-retentive suspend is NOT_SUPPORTED.
import { hart, H_PC, H_STATE, H_SUSPEND_PC, H_WFI, VcpuState } from '../cpu/hart';
import { ACC_FETCH } from '../mmu/tlb';
import { arg, fid, ret, retErr, fitsU32 } from './abi';
import {
  HSM_START_PENDING, HSM_STARTED, HSM_STOP_PENDING, HSM_STOPPED, HSM_SUSPEND_NON_RETENTIVE,
  HSM_SUSPEND_RETENTIVE, HSM_SUSPENDED, SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_NEXT, SBI_SUCCESS, SBI_SUSPEND, SbiExit,
} from './defs';
import { hostExit } from './exits';
import { enterSupervisor, hartBlock, hartIdOf } from './harts';
import { physAllowed, physIsRam, physMapped } from './guestmem';
import { wakeupPending } from '../cpu/interrupts';

const HSM_HART_START: u32 = 0;
const HSM_HART_STOP: u32 = 1;
const HSM_HART_GET_STATUS: u32 = 2;
const HSM_HART_SUSPEND: u32 = 3;

/** Returns how the interpreter continues (SBI_NEXT, or SBI_SUSPEND for a retentive suspend). */
export function sbiHsm(pc: u64): u32 {
  switch (fid()) {
    case HSM_HART_START: retErr(hartStart(arg(0), arg(1), arg(2))); return SBI_NEXT;
    case HSM_HART_STOP: hartStop(); return SBI_NEXT;
    case HSM_HART_GET_STATUS: {
      const v = hartBlock(arg(0));
      if (!v) retErr(SBI_ERR_INVALID_PARAM);
      else ret(SBI_SUCCESS, hartStatus(v));
      return SBI_NEXT;
    }
    case HSM_HART_SUSPEND: return hartSuspend(arg(0), pc);
    default: retErr(SBI_ERR_NOT_SUPPORTED); return SBI_NEXT;
  }
}

/** Error order as OpenSBI: the hart, then the address, then the state. */
export function hartStart(hartid: u64, start: u64, opaque: u64): i64 {
  const v = hartBlock(hartid);
  if (!v) return SBI_ERR_INVALID_PARAM;
  // The hart starts with the MMU off: start_addr is physical and must be
  // RAM that S-mode may execute.
  if (!physIsRam(start, 2) || !physMapped(start, 2) || !physAllowed(start, 2, ACC_FETCH)) return SBI_ERR_INVALID_ADDRESS;
  const old = atomic.cmpxchg<u32>(v + H_STATE, VcpuState.STOPPED, VcpuState.STARTING);
  if (old == VcpuState.RUNNABLE || old == VcpuState.STARTING) return SBI_ERR_ALREADY_AVAILABLE;
  if (old != VcpuState.STOPPED) return SBI_ERR_INVALID_PARAM; // stop pending: not startable yet (as OpenSBI)
  enterSupervisor(v, start, <u64>hartIdOf(v), opaque);
  atomic.store<u32>(v + H_STATE, VcpuState.RUNNABLE);
  return SBI_SUCCESS;
}

function hartStop(): void {
  atomic.store<u32>(hart + H_STATE, VcpuState.STOPPING);
  hostExit(SbiExit.HART_STOP);
  // No return value: the hart never resumes here (a later hart_start enters afresh).
}

function hartStatus(v: usize): u64 {
  const s = atomic.load<u32>(v + H_STATE);
  if (s == VcpuState.STOPPED) return HSM_STOPPED;
  if (s == VcpuState.STARTING) return HSM_START_PENDING;
  if (s == VcpuState.STOPPING) return HSM_STOP_PENDING;
  if (v != hart && load<u32>(v, H_WFI) && load<u64>(v, H_PC) == load<u64>(v, H_SUSPEND_PC)) return HSM_SUSPENDED;
  return HSM_STARTED;
}

function hartSuspend(type: u64, pc: u64): u32 {
  if (type == HSM_SUSPEND_NON_RETENTIVE) {
    retErr(SBI_ERR_NOT_SUPPORTED);
    return SBI_NEXT;
  }
  // Reserved (0x1-0x0FFFFFFF, 0x80000001-0x8FFFFFFF) and platform-specific
  // types, none of which we implement, are INVALID_PARAM.
  if (!fitsU32(type) || type != HSM_SUSPEND_RETENTIVE) {
    retErr(SBI_ERR_INVALID_PARAM);
    return SBI_NEXT;
  }
  retErr(SBI_SUCCESS);
  if (wakeupPending()) return SBI_NEXT; // an interrupt is already pending: resume at once
  store<u64>(hart, pc + 4, H_SUSPEND_PC);
  return SBI_SUSPEND;
}

/** For vcpuRun: a vCPU that called hart_stop is off its pCPU now. */
export function finishStop(): void {
  atomic.cmpxchg<u32>(hart + H_STATE, VcpuState.STOPPING, VcpuState.STOPPED);
}

