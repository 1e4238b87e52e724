// Executes one F/D computational instruction on the running hart.
//
// Opcodes OP-FP (0x53) and the R4 fused multiply-adds MADD/MSUB/NMSUB/
// NMADD (0x43/0x47/0x4b/0x4f), formats S and D. Loads, stores and the
// fcsr CSRs belong to the main interpreter.
//
// Register conventions (unprivileged spec 12.2, "NaN boxing"): a binary32
// lives in the low half of a 64-bit f register with the upper 32 bits all
// ones. A binary32 read from a register that is not properly boxed is the
// canonical NaN; binary32 results are written boxed. fmv.x.w is the one
// exception: it moves the raw low 32 bits, sign-extended.
//
// fcsr: the fflags accrue in bits 0..4, frm (the dynamic rounding mode) in
// bits 5..7. Any instruction that writes an f register marks the FP state
// dirty (mstatus.FS = 3 and SD); one that only writes an x register does
// so when it changed fflags.

import { hart, H_FCSR, H_MSTATUS, getX, setX, getF, setF } from "../hart";
import { fflags, setFflags, RMM, DYN } from "./flags";
import { SIGN } from "./format";
import { fadd, fmul, fdiv, fsqrt } from "./arith";
import { fmaForm } from "./fma";
import { feq, flt, fle, fminmax, fclass } from "./compare";
import { f32ToF64, f64ToF32, floatToInt, intToFloat, LU } from "./convert";

const MSTATUS_FS: u64 = 3 << 13;
const MSTATUS_SD: u64 = (<u64>1) << 63;
const BOX: u64 = 0xffff_ffff_0000_0000;

const OP_FP: u32 = 0x53;

// funct5 of OP-FP
const F_ADD: u32 = 0x00;
const F_SUB: u32 = 0x01;
const F_MUL: u32 = 0x02;
const F_DIV: u32 = 0x03;
const F_SGNJ: u32 = 0x04;
const F_MINMAX: u32 = 0x05;
const F_CVT_FF: u32 = 0x08; // fcvt.s.d / fcvt.d.s
const F_SQRT: u32 = 0x0b;
const F_CMP: u32 = 0x14;
const F_CVT_IF: u32 = 0x18; // float -> int
const F_CVT_FI: u32 = 0x1a; // int -> float
const F_MV_X_CLASS: u32 = 0x1c;
const F_MV_F: u32 = 0x1e;

/** Reads f[r] as format B: unboxes binary32 (improper box = canonical NaN). */
@inline function readF<B>(r: u32): u64 {
  const v = getF(r);
  if (sizeof<B>() == 8) return v;
  return (v & BOX) == BOX ? v & 0xffff_ffff : 0x7fc0_0000;
}

/** Writes a format-B value to f[r], NaN-boxing binary32. */
@inline function writeF<B>(r: u32, v: u64): void {
  setF(r, sizeof<B>() == 8 ? v : v | BOX);
}

@inline function markDirty(): void {
  store<u64>(hart, load<u64>(hart, H_MSTATUS) | MSTATUS_FS | MSTATUS_SD, H_MSTATUS);
}

/** Stores the accrued flags back into fcsr; true if they changed. */
@inline function commitFlags(fcsr: u32): bool {
  const f = fflags;
  if (f == (fcsr & 0x1f)) return false;
  store<u32>(hart, (fcsr & ~0x1f) | f, H_FCSR);
  return true;
}

/**
 * Executes `insn` (opcode OP-FP, MADD, MSUB, NMSUB or NMADD) on the current
 * hart. Returns false, changing nothing, when the instruction is illegal:
 * FP disabled (mstatus.FS = 0), a reserved rounding mode (static 5/6, or
 * dynamic with fcsr.frm >= 5), an unsupported format, or an unknown
 * encoding. The caller raises the illegal-instruction exception and
 * advances pc otherwise.
 */
export function execFp(insn: u32): bool {
  if ((load<u64>(hart, H_MSTATUS) & MSTATUS_FS) == 0) return false;
  const fmt = (insn >> 25) & 3;
  if (fmt == 0) return execFmt<f32, u32>(insn);
  if (fmt == 1) return execFmt<f64, u64>(insn);
  return false; // H (Zfh) and Q are not implemented
}

function execFmt<F, B>(insn: u32): bool {
  const fcsr = load<u32>(hart, H_FCSR);
  const rd = (insn >> 7) & 31;
  const funct3 = (insn >> 12) & 7;
  const rs1 = (insn >> 15) & 31;
  const rs2 = (insn >> 20) & 31;
  // The rounding mode, for the instructions whose funct3 is one.
  const rm = funct3 == DYN ? (fcsr >> 5) & 7 : funct3;
  const rmOk = rm <= RMM;
  // Flags are sticky, so start from the accrued ones (see flags.ts).
  setFflags(fcsr & 0x1f);

  if ((insn & 0x7f) != OP_FP) {
    // R4: the four fused multiply-adds, in opcode order.
    if (!rmOk) return false;
    const form = (insn >> 2) & 3;
    const r = fmaForm<F, B>(readF<B>(rs1), readF<B>(rs2), readF<B>(insn >> 27), rm, form);
    return doneF<B>(rd, r, fcsr);
  }

  const funct5 = insn >> 27;
  switch (funct5) {
    case F_ADD:
    case F_SUB: {
      if (!rmOk) return false;
      const b = readF<B>(rs2);
      const r = fadd<F, B>(readF<B>(rs1), funct5 == F_SUB ? b ^ SIGN<B>() : b, rm);
      return doneF<B>(rd, r, fcsr);
    }
    case F_MUL: {
      if (!rmOk) return false;
      return doneF<B>(rd, fmul<F, B>(readF<B>(rs1), readF<B>(rs2), rm), fcsr);
    }
    case F_DIV: {
      if (!rmOk) return false;
      return doneF<B>(rd, fdiv<F, B>(readF<B>(rs1), readF<B>(rs2), rm), fcsr);
    }
    case F_SQRT: {
      if (!rmOk || rs2 != 0) return false;
      return doneF<B>(rd, fsqrt<F, B>(readF<B>(rs1), rm), fcsr);
    }
    case F_SGNJ: {
      // Sign injection: bit manipulation only, never a flag, even for NaNs.
      const a = readF<B>(rs1) & ~SIGN<B>();
      const sb = readF<B>(rs2) & SIGN<B>();
      let r: u64;
      if (funct3 == 0) r = a | sb; // fsgnj
      else if (funct3 == 1) r = a | (sb ^ SIGN<B>()); // fsgnjn
      else if (funct3 == 2) r = (readF<B>(rs1) ^ sb); // fsgnjx
      else return false;
      return doneF<B>(rd, r, fcsr);
    }
    case F_MINMAX: {
      if (funct3 > 1) return false;
      return doneF<B>(rd, fminmax<F, B>(readF<B>(rs1), readF<B>(rs2), funct3 == 1), fcsr);
    }
    case F_CVT_FF: {
      if (!rmOk) return false;
      if (sizeof<B>() == 4) {
        if (rs2 != 1) return false; // fcvt.s.d
        return doneF<B>(rd, f64ToF32(readF<u64>(rs1), rm), fcsr);
      }
      if (rs2 != 0) return false; // fcvt.d.s
      return doneF<B>(rd, f32ToF64(readF<u32>(rs1)), fcsr);
    }
    case F_CMP: {
      const a = readF<B>(rs1);
      const b = readF<B>(rs2);
      let r: u64;
      if (funct3 == 2) r = feq<F, B>(a, b);
      else if (funct3 == 1) r = flt<F, B>(a, b);
      else if (funct3 == 0) r = fle<F, B>(a, b);
      else return false;
      return doneX(rd, r, fcsr);
    }
    case F_CVT_IF: {
      if (!rmOk || rs2 > LU) return false;
      return doneX(rd, floatToInt<F, B>(readF<B>(rs1), rm, rs2), fcsr);
    }
    case F_CVT_FI: {
      if (!rmOk || rs2 > LU) return false;
      return doneF<B>(rd, intToFloat<F, B>(getX(rs1), rm, rs2), fcsr);
    }
    case F_MV_X_CLASS: {
      if (rs2 != 0) return false;
      if (funct3 == 0) {
        // fmv.x.w / fmv.x.d: raw bits, no unboxing; .w sign-extends.
        const v = getF(rs1);
        setX(rd, sizeof<B>() == 8 ? v : <u64><i64><i32><u32>v);
        return true;
      }
      if (funct3 == 1) {
        setX(rd, fclass<B>(readF<B>(rs1)));
        return true;
      }
      return false;
    }
    case F_MV_F: {
      // fmv.w.x / fmv.d.x: raw bits from x[rs1].
      if (rs2 != 0 || funct3 != 0) return false;
      const v = getX(rs1);
      setF(rd, sizeof<B>() == 8 ? v : v | BOX);
      markDirty();
      return true;
    }
  }
  return false;
}

/** Completes an instruction that writes f[rd]. */
@inline function doneF<B>(rd: u32, v: u64, fcsr: u32): bool {
  writeF<B>(rd, v);
  commitFlags(fcsr);
  markDirty();
  return true;
}

/** Completes an instruction that writes x[rd]; dirty only if fflags changed. */
@inline function doneX(rd: u32, v: u64, fcsr: u32): bool {
  setX(rd, v);
  if (commitFlags(fcsr)) markDirty();
  return true;
}
