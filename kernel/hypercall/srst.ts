// System Reset (EID 0x53525354 "SRST", spec chapter 10) and legacy shutdown.
//
// The request goes to the host: the vCPU records type and reason
// (SbiExit.RESET), the partition is marked halted (so no scheduler runs its
// other vCPUs again) and run() returns Exit.HOST; Machine turns it into its
// RunResult (shutdown -> exit with a code, reboots -> reset).
import { P_HALTED } from '../mm/partition';
import { arg, callerPartition, fid, fitsU32, retErr } from './abi';
import {
  SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS, SbiExit, SRST_REASON_FAILURE, SRST_REASON_HV_EXIT,
  SRST_REASON_NONE, SRST_WARM_REBOOT,
} from './defs';
import { hostExit } from './exits';

const SRST_SYSTEM_RESET: u32 = 0;

/**
 * Valid reasons: none (0), system failure (1), and ours in the
 * SBI-implementation-specific range, 0xE0000000 | exit code (0-255).
 * Everything else is reserved or platform-specific: INVALID_PARAM.
 */
function reasonValid(r: u64): bool {
  return r == SRST_REASON_NONE || r == SRST_REASON_FAILURE || (r >= SRST_REASON_HV_EXIT && r <= SRST_REASON_HV_EXIT + 0xff);
}

export function systemReset(type: u32, reason: u32): void {
  atomic.store<u32>(callerPartition() + P_HALTED, 1);
  hostExit(SbiExit.RESET, type, reason);
}

export function sbiSrst(): void {
  if (fid() != SRST_SYSTEM_RESET) {
    retErr(SBI_ERR_NOT_SUPPORTED);
    return;
  }
  const type = arg(0), reason = arg(1);
  // Types 0-2 exist; reserved and platform-specific ones we do not implement.
  if (!fitsU32(type) || type > SRST_WARM_REBOOT || !reasonValid(reason)) {
    retErr(SBI_ERR_INVALID_PARAM);
    return;
  }
  // On success the call does not return; a0/a1 are set for form's sake.
  retErr(SBI_SUCCESS);
  systemReset(<u32>type, <u32>reason);
}
