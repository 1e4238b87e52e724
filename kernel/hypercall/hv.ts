// Hypervisor calls (EID 0x0A000000 | SBI_IMPL_ID = 0x0A006876, in the SBI
// firmware-specific range): what an enlightened guest asks of the
// hypervisor itself. FIDs 0x00-0x3F are informational, 0x40-0x4F the SynIC
// and VMBus; balloon calls will take a later range.
//
//   FID 0 get_partition_id   -> value = partition id
//   FID 1 get_vcpu_index     -> value = the hypervisor's index of the calling vCPU
//   FID 2 yield              -> returns to the host scheduler; value = 0
//   FID 3 get_stat(counter)  -> value = a counter of the calling vCPU (HV_STAT_*), exact
//   FID 4 get_vcpu_count     -> value = number of vCPUs (harts) in the partition
//   FID 0x40-0x44            SynIC registers, post_message, signal_event, claim (synic.ts)
import {
  hart, H_INSTRET, H_STAT_INTERRUPTS, H_STAT_MMIO, H_STAT_SBI_CALLS, H_STAT_TLB_FLUSHES, H_STAT_TLB_MISSES,
  H_STAT_TRAPS, H_STAT_WALKS,
} from '../cpu/hart';
import { VCPU_SIZE_LOG2, VCPUS } from '../layout';
import { P_ID, P_NVCPUS } from '../mm/partition';
import { arg, callerPartition, fid, ret, retErr } from './abi';
import {
  HV_GET_PARTITION_ID, HV_GET_STAT, HV_GET_VCPU_COUNT, HV_GET_VCPU_INDEX, HV_STAT_INSTRET, HV_STAT_INTERRUPTS,
  HV_STAT_MMIO, HV_STAT_PAGE_WALKS, HV_STAT_SBI_CALLS, HV_STAT_TLB_FLUSHES, HV_STAT_TLB_MISSES, HV_STAT_TRAPS,
  HV_YIELD, SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS, SbiExit,
  HV_SYNIC_GET_REGISTER, HV_SYNIC_SET_REGISTER, HV_POST_MESSAGE, HV_SIGNAL_EVENT, HV_SYNIC_CLAIM,
} from './defs';
import { synicClaim, synicGetRegister, synicPostMessage, synicSetRegister, synicSignalEvent } from './synic';
import { hostExit } from './exits';

/** Offset of each HV_STAT_* counter in the vCPU block. */
function statOffset(counter: u64): u32 {
  switch (<u32>counter) {
    case <u32>HV_STAT_INSTRET: return H_INSTRET;
    case <u32>HV_STAT_SBI_CALLS: return H_STAT_SBI_CALLS;
    case <u32>HV_STAT_TRAPS: return H_STAT_TRAPS;
    case <u32>HV_STAT_INTERRUPTS: return H_STAT_INTERRUPTS;
    case <u32>HV_STAT_TLB_MISSES: return H_STAT_TLB_MISSES;
    case <u32>HV_STAT_TLB_FLUSHES: return H_STAT_TLB_FLUSHES;
    case <u32>HV_STAT_PAGE_WALKS: return H_STAT_WALKS;
    case <u32>HV_STAT_MMIO: return H_STAT_MMIO;
  }
  return 0;
}

export function sbiHv(): void {
  switch (fid()) {
    case HV_GET_PARTITION_ID: ret(SBI_SUCCESS, load<u32>(callerPartition(), P_ID)); return;
    case HV_GET_VCPU_INDEX: ret(SBI_SUCCESS, <u64>((hart - VCPUS) >> VCPU_SIZE_LOG2)); return;
    case HV_YIELD:
      retErr(SBI_SUCCESS);
      hostExit(SbiExit.YIELD);
      return;
    case HV_GET_STAT: {
      const c = arg(0);
      const off = c <= HV_STAT_MMIO ? statOffset(c) : 0;
      if (!off) retErr(SBI_ERR_INVALID_PARAM);
      else ret(SBI_SUCCESS, load<u64>(hart + off)); // instret was published before the ECALL ran
      return;
    }
    case HV_GET_VCPU_COUNT: ret(SBI_SUCCESS, load<u32>(callerPartition(), P_NVCPUS)); return;
    case HV_SYNIC_GET_REGISTER: synicGetRegister(); return;
    case HV_SYNIC_SET_REGISTER: synicSetRegister(); return;
    case HV_POST_MESSAGE: synicPostMessage(); return;
    case HV_SIGNAL_EVENT: synicSignalEvent(); return;
    case HV_SYNIC_CLAIM: synicClaim(); return;
    default: retErr(SBI_ERR_NOT_SUPPORTED);
  }
}
