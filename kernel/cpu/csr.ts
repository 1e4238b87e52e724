// Control and status registers (privileged spec chapter 2 and the CSR
// definitions of chapters 3-4; F/D's fcsr from the unprivileged spec).
//
// csrRead decides legality too: an unknown CSR, too low a privilege, a
// read-only CSR being written, or a disabled counter sets `csrIllegal`.
import {
  hart, H_CYCLE_DELTA, H_FCSR, H_HARTID, H_INSTRET, H_INSTRET_DELTA, H_MCAUSE, H_MCOUNTEREN, H_MCOUNTINHIBIT,
  H_MEDELEG, H_MENVCFG, H_MEPC, H_MIDELEG, H_MIE, H_MIP, H_MSCRATCH, H_MSTATUS, H_MTVAL, H_MTVEC, H_PMPADDR,
  H_PMPCFG, H_PRIV, H_SATP, H_SCAUSE, H_SCOUNTEREN, H_SENVCFG, H_SEPC, H_SSCRATCH, H_STVAL, H_STVEC,
} from './hart';
import {
  Csr, MENVCFG_WRITABLE, MISA_VALUE, MS_FS, MS_MPP, MS_SD, MS_TVM, MS_XLEN_FIXED, MSTATUS_WRITABLE, MIP_SEIP,
  MIP_SSIP, MIP_STIP, ALL_INTERRUPTS, PRIV_M, PRIV_S, PRIV_U, S_INTERRUPTS, SATP_MODE_BARE, SATP_MODE_SV39,
  SATP_MODE_SV48, SENVCFG_WRITABLE, SSTATUS_MASK, SSTATUS_WRITABLE,
} from './defs';
import { mipValue } from './interrupts';
import { mtime } from '../platform/aclint';
import { resolveKeys, updateKeys } from '../mmu/access';
import { shadowFlush, shadowSatpChanged } from '../mmu/shadow';
import { PMP_ENTRIES, pmpAddrLocked, pmpWriteCfg } from '../mmu/pmp';
import { requestResync } from './exception';

export let csrIllegal: bool = false;

/** mstatus with SD computed from FS (the only dirty-state field we have). */
function mstatusValue(): u64 {
  const ms = load<u64>(hart, H_MSTATUS);
  return (ms & MS_FS) == MS_FS ? ms | MS_SD : ms & ~MS_SD;
}

function writeMstatus(v: u64): void {
  const old = load<u64>(hart, H_MSTATUS);
  let next = (old & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE) | MS_XLEN_FIXED;
  if ((next & MS_MPP) == <u64>2 << 11) next = (next & ~MS_MPP) | (old & MS_MPP); // MPP is WARL: 2 is reserved
  store<u64>(hart, next, H_MSTATUS);
  updateKeys();
  requestResync();
}

/** Counter CSRs below M need mcounteren (and, from U, scounteren) permission. */
function counterAllowed(index: u32): bool {
  const priv = load<u32>(hart, H_PRIV);
  if (priv == PRIV_M) return true;
  if (!((load<u32>(hart, H_MCOUNTEREN) >> index) & 1)) return false;
  if (priv == PRIV_U && !((load<u32>(hart, H_SCOUNTEREN) >> index) & 1)) return false;
  return true;
}

@inline function instret(): u64 {
  return load<u64>(hart, H_INSTRET);
}

@inline function fpEnabled(): bool {
  return (load<u64>(hart, H_MSTATUS) & MS_FS) != 0;
}

/** Checks privilege and read-only-ness; existence is checked by csrRead. */
export function csrAccessible(csr: u32, write: bool): bool {
  const priv = load<u32>(hart, H_PRIV);
  if (((csr >> 8) & 3) > priv) return false;
  if (write && csr >> 10 == 3) return false;
  if (csr == Csr.SATP && priv == PRIV_S && load<u64>(hart, H_MSTATUS) & MS_TVM) return false;
  return true;
}

export function csrRead(csr: u32): u64 {
  csrIllegal = false;
  switch (csr) {
    case Csr.FFLAGS: if (!fpEnabled()) break; return load<u32>(hart, H_FCSR) & 0x1f;
    case Csr.FRM: if (!fpEnabled()) break; return (load<u32>(hart, H_FCSR) >> 5) & 7;
    case Csr.FCSR: if (!fpEnabled()) break; return load<u32>(hart, H_FCSR) & 0xff;
    case Csr.SSTATUS: return mstatusValue() & SSTATUS_MASK;
    case Csr.SIE: return load<u64>(hart, H_MIE) & load<u64>(hart, H_MIDELEG);
    case Csr.STVEC: return load<u64>(hart, H_STVEC);
    case Csr.SCOUNTEREN: return load<u32>(hart, H_SCOUNTEREN);
    case Csr.SENVCFG: return load<u64>(hart, H_SENVCFG);
    case Csr.SSCRATCH: return load<u64>(hart, H_SSCRATCH);
    case Csr.SEPC: return load<u64>(hart, H_SEPC);
    case Csr.SCAUSE: return load<u64>(hart, H_SCAUSE);
    case Csr.STVAL: return load<u64>(hart, H_STVAL);
    case Csr.SIP: return mipValue() & load<u64>(hart, H_MIDELEG);
    case Csr.SATP: return load<u64>(hart, H_SATP);
    case Csr.MSTATUS: return mstatusValue();
    case Csr.MISA: return MISA_VALUE;
    case Csr.MEDELEG: return load<u64>(hart, H_MEDELEG);
    case Csr.MIDELEG: return load<u64>(hart, H_MIDELEG);
    case Csr.MIE: return load<u64>(hart, H_MIE);
    case Csr.MTVEC: return load<u64>(hart, H_MTVEC);
    case Csr.MCOUNTEREN: return load<u32>(hart, H_MCOUNTEREN);
    case Csr.MENVCFG: return load<u64>(hart, H_MENVCFG);
    case Csr.MCOUNTINHIBIT: return load<u32>(hart, H_MCOUNTINHIBIT);
    case Csr.MSCRATCH: return load<u64>(hart, H_MSCRATCH);
    case Csr.MEPC: return load<u64>(hart, H_MEPC);
    case Csr.MCAUSE: return load<u64>(hart, H_MCAUSE);
    case Csr.MTVAL: return load<u64>(hart, H_MTVAL);
    case Csr.MIP: return mipValue();
    case Csr.TSELECT: case Csr.TDATA1: case Csr.TDATA2: case Csr.TDATA3: return 0; // no triggers
    case Csr.TINFO: return 1; // only type 0 ("none")
    case Csr.MCYCLE: return instret() + load<u64>(hart, H_CYCLE_DELTA);
    case Csr.MINSTRET: return instret() + load<u64>(hart, H_INSTRET_DELTA);
    case Csr.CYCLE: if (!counterAllowed(0)) break; return instret() + load<u64>(hart, H_CYCLE_DELTA);
    case Csr.TIME: if (!counterAllowed(1)) break; return mtime();
    case Csr.INSTRET: if (!counterAllowed(2)) break; return instret() + load<u64>(hart, H_INSTRET_DELTA);
    case Csr.MVENDORID: case Csr.MARCHID: case Csr.MIMPID: case Csr.MCONFIGPTR: return 0;
    case Csr.MHARTID: return load<u32>(hart, H_HARTID);
    default: {
      if (csr >= Csr.PMPCFG0 && csr < Csr.PMPCFG0 + 16) {
        if (csr & 1) break; // odd pmpcfg CSRs do not exist on RV64
        const i = csr - Csr.PMPCFG0; // 0, 2 .. 14 -> entries 4i .. 4i+7
        if (i * 4 >= PMP_ENTRIES) return 0;
        return load<u64>(hart + H_PMPCFG + i * 4);
      }
      if (csr >= Csr.PMPADDR0 && csr < Csr.PMPADDR0 + 64) {
        const i = csr - Csr.PMPADDR0;
        return i < PMP_ENTRIES ? load<u64>(hart + H_PMPADDR + (i << 3)) : 0;
      }
      // Unimplemented hardware performance counters read as zero.
      if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return 0;
      if (csr >= 0xc03 && csr <= 0xc1f) {
        if (!counterAllowed(csr - 0xc00)) break;
        return 0;
      }
      break;
    }
  }
  csrIllegal = true;
  return 0;
}

/** Writes a CSR that csrRead accepted. WARL fields keep only legal values. */
/**
 * The value CSRRS/CSRRC modify, given what the read returned. For mip it is
 * not the value read: SEIP reads as the software-writable bit OR the PLIC's
 * line, but "the value used in the read-modify-write sequence of a CSRRS or
 * CSRRC instruction contains only the software-writable SEIP bit" (privileged
 * spec 3.1.9). Otherwise OpenSBI's csr_set(mip, STIP), taken while the
 * UART's line is high, latches SEIP on for good: Linux then takes external
 * interrupts that the PLIC has nothing for, for ever.
 */
export function csrRmwBase(csr: u32, read: u64): u64 {
  if (csr != Csr.MIP) return read;
  return (read & ~MIP_SEIP) | (load<u64>(hart, H_MIP) & MIP_SEIP);
}

export function csrWrite(csr: u32, v: u64): void {
  switch (csr) {
    case Csr.FFLAGS: setFcsr((load<u32>(hart, H_FCSR) & ~0x1f) | (<u32>v & 0x1f)); return;
    case Csr.FRM: setFcsr((load<u32>(hart, H_FCSR) & 0x1f) | ((<u32>v & 7) << 5)); return;
    case Csr.FCSR: setFcsr(<u32>v & 0xff); return;
    case Csr.SSTATUS:
      writeMstatus((load<u64>(hart, H_MSTATUS) & ~SSTATUS_WRITABLE) | (v & SSTATUS_WRITABLE));
      return;
    case Csr.SIE: {
      const d = load<u64>(hart, H_MIDELEG);
      store<u64>(hart, (load<u64>(hart, H_MIE) & ~d) | (v & d & S_INTERRUPTS), H_MIE);
      requestResync();
      return;
    }
    case Csr.STVEC: store<u64>(hart, legalTvec(v, load<u64>(hart, H_STVEC)), H_STVEC); return;
    case Csr.SCOUNTEREN: store<u32>(hart, <u32>v & 7, H_SCOUNTEREN); return;
    case Csr.SENVCFG: store<u64>(hart, v & SENVCFG_WRITABLE, H_SENVCFG); return;
    case Csr.SSCRATCH: store<u64>(hart, v, H_SSCRATCH); return;
    case Csr.SEPC: store<u64>(hart, v & ~<u64>1, H_SEPC); return;
    case Csr.SCAUSE: store<u64>(hart, v, H_SCAUSE); return;
    case Csr.STVAL: store<u64>(hart, v, H_STVAL); return;
    case Csr.SIP: {
      const mask = load<u64>(hart, H_MIDELEG) & MIP_SSIP;
      store<u64>(hart, (load<u64>(hart, H_MIP) & ~mask) | (v & mask), H_MIP);
      requestResync();
      return;
    }
    case Csr.SATP: writeSatp(v); return;
    case Csr.MSTATUS: writeMstatus(v); return;
    case Csr.MISA: return; // fixed: RV64IMAFDCSU
    case Csr.MEDELEG: store<u64>(hart, v & 0xb3ff, H_MEDELEG); return; // not ecall-from-M, not reserved 10, 14
    case Csr.MIDELEG: store<u64>(hart, v & S_INTERRUPTS, H_MIDELEG); requestResync(); return;
    case Csr.MIE: store<u64>(hart, v & ALL_INTERRUPTS, H_MIE); requestResync(); return;
    case Csr.MTVEC: store<u64>(hart, legalTvec(v, load<u64>(hart, H_MTVEC)), H_MTVEC); return;
    case Csr.MCOUNTEREN: store<u32>(hart, <u32>v & 7, H_MCOUNTEREN); return;
    case Csr.MENVCFG: store<u64>(hart, v & MENVCFG_WRITABLE, H_MENVCFG); return;
    case Csr.MCOUNTINHIBIT: store<u32>(hart, <u32>v & 5, H_MCOUNTINHIBIT); return;
    case Csr.MSCRATCH: store<u64>(hart, v, H_MSCRATCH); return;
    case Csr.MEPC: store<u64>(hart, v & ~<u64>1, H_MEPC); return;
    case Csr.MCAUSE: store<u64>(hart, v, H_MCAUSE); return;
    case Csr.MTVAL: store<u64>(hart, v, H_MTVAL); return;
    case Csr.MIP: {
      const mask = MIP_SSIP | MIP_STIP | MIP_SEIP;
      store<u64>(hart, (load<u64>(hart, H_MIP) & ~mask) | (v & mask), H_MIP);
      requestResync();
      return;
    }
    // The writing instruction's own retirement must not show (riscv-tests
    // instret_overflow): the next read sees exactly v.
    case Csr.MCYCLE: store<u64>(hart, v - instret() - 1, H_CYCLE_DELTA); return;
    case Csr.MINSTRET: store<u64>(hart, v - instret() - 1, H_INSTRET_DELTA); return;
    default:
      if (csr >= Csr.PMPCFG0 && csr < Csr.PMPCFG0 + 16) {
        const first = (csr - Csr.PMPCFG0) * 4;
        for (let k: u32 = 0; k < 8; k++) {
          if (first + k < PMP_ENTRIES) pmpWriteCfg(first + k, <u32>(v >> (8 * <u64>k)) & 0xff);
        }
        shadowFlush(); // and the TLB
        requestResync();
      } else if (csr >= Csr.PMPADDR0 && csr < Csr.PMPADDR0 + 64) {
        const i = csr - Csr.PMPADDR0;
        if (i < PMP_ENTRIES && !pmpAddrLocked(i)) {
          store<u64>(hart + H_PMPADDR + (i << 3), v & 0x003f_ffff_ffff_ffff);
          shadowFlush(); // and the TLB
          requestResync();
        }
      }
      // Other CSRs that exist (counters, triggers, ids) ignore writes.
      return;
  }
}

function setFcsr(v: u32): void {
  store<u32>(hart, v, H_FCSR);
  store<u64>(hart, load<u64>(hart, H_MSTATUS) | MS_FS, H_MSTATUS);
}

/** tvec MODE is WARL: 0 direct, 1 vectored; anything else keeps the old mode. */
function legalTvec(v: u64, old: u64): u64 {
  return (v & 3) < 2 ? v : (v & ~<u64>3) | (old & 3);
}

/**
 * satp: an unsupported MODE leaves satp untouched (spec 4.1.11). ASIDLEN =
 * 16 (every ASID bit is writable, as in QEMU). No flush: the TLB keys carry
 * the (MODE, ASID) slot, so the new address space's entries (if any) match
 * and the old one's stop matching (mmu/tlb.ts). As the spec allows, entries
 * of a reused ASID survive until software fences.
 */
function writeSatp(v: u64): void {
  const mode = v >> 60;
  if (mode != SATP_MODE_BARE && mode != SATP_MODE_SV39 && mode != SATP_MODE_SV48) return;
  if (load<u64>(hart, H_SATP) != v) {
    store<u64>(hart, v, H_SATP);
    shadowSatpChanged(); // shadow paging: the shadow was built from the old root
  }
  resolveKeys();
  requestResync();
}

