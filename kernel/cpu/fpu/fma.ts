// Fused multiply-add, a * b + c with a single rounding.
//
// The four RISC-V forms are one operation with operand signs flipped:
//   fmadd  a*b + c      fmsub  a*b - c
//   fnmsub -(a*b) + c   fnmadd -(a*b) - c
// -(a*b) is computed as (-a)*b, which is the same value with the same
// zero sign. A NaN operand's sign never matters (the result is canonical).
//
// binary32: the product of two 24-bit significands is exact in binary64,
// and TwoSum gives the exact error of adding c in binary64. Rounding that
// sum to odd (nudging an inexact result with an even last bit one unit
// toward the exact value) keeps enough information that rounding it once
// more to binary32, in any mode, gives the correctly rounded result
// (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums", 2008:
// round-to-odd at p+2 or more bits is innocuous). binary64 has no wider
// native format, so it uses the 128-bit soft-float (softfma.ts).

import { RDN } from "./flags";
import { SIGN, isSpecial, zeroOf } from "./format";
import { f64ToF32 } from "./convert";
import { sfMulAdd } from "./softfma";

export const MADD: u32 = 0;
export const MSUB: u32 = 1;
export const NMSUB: u32 = 2;
export const NMADD: u32 = 3;

/** The fused multiply-add of form `form` (MADD ... NMADD, opcode order). */
@inline export function fmaForm<F, B>(a: u64, b: u64, c: u64, rm: u32, form: u32): u64 {
  // Opcode order: bit 0 negates the addend, bit 1 the product... except
  // that NMSUB (2) negates the product only and NMADD (3) both.
  const negC = form == MSUB || form == NMADD;
  const negP = form >= NMSUB;
  return fmadd<F, B>(negP ? a ^ SIGN<B>() : a, b, negC ? c ^ SIGN<B>() : c, rm);
}

export function fmadd<F, B>(a: u64, b: u64, c: u64, rm: u32): u64 {
  if (sizeof<B>() == 4) return fma32(a, b, c, rm);
  return sfMulAdd<u64>(a, b, c, rm);
}

function fma32(a: u64, b: u64, c: u64, rm: u32): u64 {
  if (isSpecial<u32>(a) || isSpecial<u32>(b) || isSpecial<u32>(c)) {
    return sfMulAdd<u32>(a, b, c, rm);
  }
  // Every non-zero value below is at least 2^-298 in magnitude: binary64
  // never underflows or overflows here, so both steps are exact.
  const p = <f64>reinterpret<f32>(<u32>a) * <f64>reinterpret<f32>(<u32>b);
  const z = <f64>reinterpret<f32>(<u32>c);
  const s = p + z;
  if (s == 0) {
    // An exact zero sum (s = 0 means exact at this range): two zeros of
    // the same sign keep it, anything else is +0, or -0 rounding down.
    const sp = reinterpret<u64>(p) >> 63;
    const sz = reinterpret<u64>(z) >> 63;
    if (p == 0 && z == 0 && sp == sz) return zeroOf<u32>(<u32>sp);
    return zeroOf<u32>(rm == RDN ? 1 : 0);
  }
  const pv = s - p;
  const e = (p - (s - pv)) + (z - pv); // TwoSum: p + z = s + e exactly
  let bits = reinterpret<u64>(s);
  if (e != 0 && (bits & 1) == 0) {
    // Round to odd: step toward the exact value, landing on an odd pattern.
    bits = (e > 0) == (s > 0) ? bits + 1 : bits - 1;
  }
  return f64ToF32(bits, rm);
}
