// Trap entry and return (privileged spec 3.1.6-3.1.8, 3.3.2, 4.1.1).
import {
  hart, H_MCAUSE, H_MEDELEG, H_MEPC, H_MIDELEG, H_MSTATUS, H_MTVAL, H_MTVEC, H_PRIV, H_RESV_ADDR, H_SCAUSE,
  H_SEPC, H_STAT_INTERRUPTS, H_STAT_TRAPS, H_STVAL, H_STVEC,
} from './hart';
import { MS_MIE, MS_MPIE, MS_MPP, MS_MPP_SHIFT, MS_MPRV, MS_SIE, MS_SPIE, MS_SPP, PRIV_M, PRIV_S, PRIV_U } from './defs';
import { updateKeys } from '../mmu/access';
import { synicAutoEoi } from '../vmbus/synic';

const IRQ_SEI: u32 = 9;

const INTERRUPT_BIT: u64 = <u64>1 << 63;

/**
 * Takes a trap at `pc` and returns the handler address. Traps from S or U
 * whose bit is set in medeleg/mideleg go to S-mode; everything else to M.
 * Vectored mode (tvec[1:0] = 1) offsets interrupts by 4 * cause.
 */
export function enterTrap(cause: u32, tval: u64, pc: u64, interrupt: bool): u64 {
  const priv = load<u32>(hart, H_PRIV);
  const deleg = load<u64>(hart + (interrupt ? H_MIDELEG : H_MEDELEG));
  let ms = load<u64>(hart, H_MSTATUS);
  const code: u64 = <u64>cause | (interrupt ? INTERRUPT_BIT : 0);
  let tvec: u64;
  const stat = hart + (interrupt ? H_STAT_INTERRUPTS : H_STAT_TRAPS);
  store<u64>(stat, load<u64>(stat) + 1);
  if (interrupt && cause == IRQ_SEI) synicAutoEoi(); // taking it is the EOI of auto-EOI SINTs

  if (priv <= PRIV_S && (deleg >> cause) & 1) {
    store<u64>(hart, code, H_SCAUSE);
    store<u64>(hart, pc, H_SEPC);
    store<u64>(hart, tval, H_STVAL);
    ms = (ms & ~(MS_SPIE | MS_SPP | MS_SIE)) | (ms & MS_SIE ? MS_SPIE : 0) | (priv == PRIV_S ? MS_SPP : 0);
    store<u32>(hart, PRIV_S, H_PRIV);
    tvec = load<u64>(hart, H_STVEC);
  } else {
    store<u64>(hart, code, H_MCAUSE);
    store<u64>(hart, pc, H_MEPC);
    store<u64>(hart, tval, H_MTVAL);
    ms = (ms & ~(MS_MPIE | MS_MPP | MS_MIE)) | (ms & MS_MIE ? MS_MPIE : 0) | (<u64>priv << MS_MPP_SHIFT);
    store<u32>(hart, PRIV_M, H_PRIV);
    tvec = load<u64>(hart, H_MTVEC);
  }
  store<u64>(hart, ms, H_MSTATUS);
  updateKeys();
  const base = tvec & ~<u64>3;
  return interrupt && (tvec & 3) == 1 ? base + 4 * <u64>cause : base;
}

/** mret: back to MPP with MIE = MPIE; leaving M clears MPRV. Returns mepc. */
export function mret(): u64 {
  let ms = load<u64>(hart, H_MSTATUS);
  const mpp = <u32>((ms & MS_MPP) >> MS_MPP_SHIFT);
  ms = (ms & ~(MS_MIE | MS_MPP)) | (ms & MS_MPIE ? MS_MIE : 0) | MS_MPIE;
  if (mpp != PRIV_M) ms &= ~MS_MPRV;
  store<u64>(hart, ms, H_MSTATUS);
  store<u32>(hart, mpp, H_PRIV);
  store<u64>(hart, ~<u64>0, H_RESV_ADDR);
  updateKeys();
  return load<u64>(hart, H_MEPC);
}

/** sret: back to SPP with SIE = SPIE; clears MPRV (the new privilege is below M). */
export function sret(): u64 {
  let ms = load<u64>(hart, H_MSTATUS);
  const spp = ms & MS_SPP ? PRIV_S : PRIV_U;
  ms = (ms & ~(MS_SIE | MS_SPP | MS_MPRV)) | (ms & MS_SPIE ? MS_SIE : 0) | MS_SPIE;
  store<u64>(hart, ms, H_MSTATUS);
  store<u32>(hart, spp, H_PRIV);
  store<u64>(hart, ~<u64>0, H_RESV_ADDR);
  updateKeys();
  return load<u64>(hart, H_SEPC);
}
