// Legacy extensions (EIDs 0x00-0x0F, SBI v0.1; spec chapter 5). They take
// no FID and return one value in a0; a1 is preserved. Hart masks are
// pointers to an unsigned long in S-mode virtual memory, read through the
// caller's satp; a pointer S-mode could not read is INVALID_ADDRESS (where
// OpenSBI would redirect the fault to S-mode).
import { hart, H_MIP } from '../cpu/hart';
import { MIP_SSIP } from '../cpu/defs';
import { requestResync } from '../cpu/exception';
import { arg, callerPartition, eid, retLegacy } from './abi';
import {
  EID_LEGACY_CLEAR_IPI, EID_LEGACY_FENCE_I, EID_LEGACY_GETCHAR, EID_LEGACY_PUTCHAR, EID_LEGACY_SEND_IPI,
  EID_LEGACY_SET_TIMER, EID_LEGACY_SFENCE_VMA, EID_LEGACY_SFENCE_VMA_ASID, EID_LEGACY_SHUTDOWN,
  SBI_ERR_INVALID_ADDRESS, SBI_ERR_NOT_SUPPORTED, SBI_NEXT, SBI_RETRY, SBI_SUCCESS, SRST_REASON_NONE,
  SRST_SHUTDOWN,
} from './defs';
import { consoleGet } from './console';
import { putByte } from './dbcn';
import { OP_FENCE_I, OP_FENCE_VMA, OP_IPI } from './harts';
import { remoteFence } from './rfence';
import { systemReset } from './srst';
import { setTimer } from './time';
import { virtLoad64, virtOk } from './guestmem';

export function sbiLegacy(): u32 {
  switch (<u32>eid()) {
    case <u32>EID_LEGACY_SET_TIMER: setTimer(arg(0)); retLegacy(SBI_SUCCESS); break;
    case <u32>EID_LEGACY_PUTCHAR:
      if (!putByte(<u8>arg(0))) return SBI_RETRY;
      retLegacy(SBI_SUCCESS);
      break;
    case <u32>EID_LEGACY_GETCHAR: retLegacy(consoleGet(callerPartition())); break; // -1: no input
    case <u32>EID_LEGACY_CLEAR_IPI:
      atomic.and<u64>(hart + H_MIP, ~MIP_SSIP);
      requestResync();
      retLegacy(SBI_SUCCESS);
      break;
    case <u32>EID_LEGACY_SEND_IPI: retLegacy(maskedOp(arg(0), OP_IPI)); break;
    case <u32>EID_LEGACY_FENCE_I: retLegacy(maskedOp(arg(0), OP_FENCE_I)); break;
    case <u32>EID_LEGACY_SFENCE_VMA: case <u32>EID_LEGACY_SFENCE_VMA_ASID:
      retLegacy(maskedOp(arg(0), OP_FENCE_VMA));
      break;
    case <u32>EID_LEGACY_SHUTDOWN: systemReset(SRST_SHUTDOWN, SRST_REASON_NONE); break;
    default: retLegacy(SBI_ERR_NOT_SUPPORTED); // 0x09-0x0F are reserved
  }
  return SBI_NEXT;
}

/** IPI or fence for the harts in the mask at virtual address `ptr` (base hart 0). */
function maskedOp(ptr: u64, op: u32): i64 {
  const mask = virtLoad64(ptr);
  if (!virtOk) return SBI_ERR_INVALID_ADDRESS;
  return remoteFence(mask, 0, op); // validates the mask, then applies op (IPI included)
}
