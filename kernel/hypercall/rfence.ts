// RFENCE extension (EID 0x52464E43 "RFNC", spec chapter 8).
//
// Every sfence.vma variant flushes the target's whole TLB (over-fencing is
// always allowed); the address range and ASID only need to be well-formed.
// The TLB could honour them precisely (mmu/tlb.ts tlbFence), but a remote
// target would need the range queued in its vCPU block, not one pending bit.
// fence.i has nothing to invalidate until a decoded-block cache or JIT
// exists; it is queued all the same. The H-extension fences (FIDs 3-6)
// are NOT_SUPPORTED: there is no H extension.
import { arg, fid, retErr } from './abi';
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS } from './defs';
import { hartMaskApply, hartMaskValid, OP_FENCE_I, OP_FENCE_VMA } from './harts';

const RFENCE_FENCE_I: u32 = 0;
const RFENCE_SFENCE_VMA: u32 = 1;
const RFENCE_SFENCE_VMA_ASID: u32 = 2;

/** Shared by RFENCE and the legacy remote fences (which read the mask from memory). */
export function remoteFence(mask: u64, base: u64, op: u32): i64 {
  if (!hartMaskValid(mask, base)) return SBI_ERR_INVALID_PARAM;
  hartMaskApply(mask, base, op);
  return SBI_SUCCESS;
}

export function sbiRfence(): void {
  const f = fid();
  if (f == RFENCE_FENCE_I) {
    retErr(remoteFence(arg(0), arg(1), OP_FENCE_I));
  } else if (f == RFENCE_SFENCE_VMA || f == RFENCE_SFENCE_VMA_ASID) {
    retErr(remoteFence(arg(0), arg(1), OP_FENCE_VMA));
  } else {
    retErr(SBI_ERR_NOT_SUPPORTED);
  }
}
