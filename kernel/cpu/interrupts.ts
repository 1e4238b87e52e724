// Interrupt pending state and selection (privileged spec 3.1.9, 3.3.1).
//
// mip is assembled from the software-writable bits stored in the hart and
// the live sources: MTIP from mtime >= mtimecmp, MSIP from the CLINT, and
// MEIP/SEIP from the PLIC's lines (set by device models, possibly on
// another thread, hence the atomic load), and SEIP from the SynIC's SINTs.
import { hart, H_EXT_IRQ, H_MIDELEG, H_MIE, H_MIP, H_MSIP, H_MSTATUS, H_MTIMECMP, H_PRIV, H_STIMECMP } from './hart';
import { MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_STIP, MS_MIE, MS_SIE, PRIV_M, PRIV_S } from './defs';
import { mtime } from '../platform/aclint';
import { enlightened } from '../hypercall/enlightened';

/** The full mip as the guest reads it. */
export function mipValue(): u64 {
  let mip = load<u64>(hart, H_MIP);
  const ext = <u64>atomic.load<u32>(hart, H_EXT_IRQ);
  mip |= ext & (MIP_MEIP | MIP_SEIP);
  if (ext >> 16) mip |= MIP_SEIP; // asserted SynIC SINTs (vmbus/synic-defs.ts) drive SEIP as a device line does
  if (atomic.load<u32>(hart, H_MSIP)) mip |= MIP_MSIP;
  const cmp = load<u64>(hart, H_MTIMECMP);
  if (cmp != ~<u64>0 && mtime() >= cmp) mip |= MIP_MTIP;
  // Enlightened partitions: the SBI TIME comparator drives STIP, as Sstc's
  // stimecmp does (hypercall/time.ts).
  const scmp = load<u64>(hart, H_STIMECMP);
  if (scmp != ~<u64>0 && enlightened() && mtime() >= scmp) mip |= MIP_STIP;
  return mip;
}

// Priority order for simultaneous interrupts: MEI, MSI, MTI, SEI, SSI, STI.
const ORDER: StaticArray<u32> = [11, 3, 7, 9, 1, 5];

/**
 * The interrupt to take now, or -1. M-level interrupts preempt any lower
 * privilege and M-mode when MIE is set; delegated ones preempt U, and S when
 * SIE is set, and never M.
 */
export function pendingInterrupt(): i32 {
  const pending = mipValue() & load<u64>(hart, H_MIE);
  if (!pending) return -1;
  const priv = load<u32>(hart, H_PRIV);
  const ms = load<u64>(hart, H_MSTATUS);
  const deleg = load<u64>(hart, H_MIDELEG);
  const mEnabled = priv < PRIV_M || (ms & MS_MIE) != 0;
  const sEnabled = priv < PRIV_S || (priv == PRIV_S && (ms & MS_SIE) != 0);
  let candidates: u64 = 0;
  if (mEnabled) candidates |= pending & ~deleg;
  if (sEnabled) candidates |= pending & deleg;
  if (!candidates) return -1;
  for (let i = 0; i < 6; i++) {
    const irq = unchecked(ORDER[i]);
    if (candidates & (<u64>1 << irq)) return irq;
  }
  return -1;
}

/** WFI wakes on any pending-and-enabled interrupt, regardless of global enables. */
export function wakeupPending(): bool {
  return (mipValue() & load<u64>(hart, H_MIE)) != 0;
}
