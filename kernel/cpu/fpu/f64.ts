// The binary64 (D extension) operations on raw bits.
//
// Operands and results are IEEE 754 binary64 bit patterns; rm is 0..4
// (RNE, RTZ, RDN, RUP, RMM); exceptions are ORed into `fflags` (flags.ts).
// NaN results are always the canonical NaN 0x7ff8000000000000.

import { fadd, fmul, fdiv, fsqrt } from "./arith";
import { fmaForm, MADD, MSUB, NMSUB, NMADD } from "./fma";
import { feq, flt, fle, fminmax, fclass } from "./compare";
import { f64ToF32, floatToInt, intToFloat, W, WU, L, LU } from "./convert";

const SIGN: u64 = 0x8000_0000_0000_0000;

export function f64_add(a: u64, b: u64, rm: u32): u64 {
  return fadd<f64, u64>(a, b, rm);
}
export function f64_sub(a: u64, b: u64, rm: u32): u64 {
  return fadd<f64, u64>(a, b ^ SIGN, rm);
}
export function f64_mul(a: u64, b: u64, rm: u32): u64 {
  return fmul<f64, u64>(a, b, rm);
}
export function f64_div(a: u64, b: u64, rm: u32): u64 {
  return fdiv<f64, u64>(a, b, rm);
}
export function f64_sqrt(a: u64, rm: u32): u64 {
  return fsqrt<f64, u64>(a, rm);
}
export function f64_madd(a: u64, b: u64, c: u64, rm: u32): u64 {
  return fmaForm<f64, u64>(a, b, c, rm, MADD);
}
export function f64_msub(a: u64, b: u64, c: u64, rm: u32): u64 {
  return fmaForm<f64, u64>(a, b, c, rm, MSUB);
}
export function f64_nmsub(a: u64, b: u64, c: u64, rm: u32): u64 {
  return fmaForm<f64, u64>(a, b, c, rm, NMSUB);
}
export function f64_nmadd(a: u64, b: u64, c: u64, rm: u32): u64 {
  return fmaForm<f64, u64>(a, b, c, rm, NMADD);
}
export function f64_min(a: u64, b: u64): u64 {
  return fminmax<f64, u64>(a, b, false);
}
export function f64_max(a: u64, b: u64): u64 {
  return fminmax<f64, u64>(a, b, true);
}
export function f64_eq(a: u64, b: u64): bool {
  return feq<f64, u64>(a, b) != 0;
}
export function f64_lt(a: u64, b: u64): bool {
  return flt<f64, u64>(a, b) != 0;
}
export function f64_le(a: u64, b: u64): bool {
  return fle<f64, u64>(a, b) != 0;
}
export function f64_class(a: u64): u32 {
  return <u32>fclass<u64>(a);
}
/** fcvt.s.d */
export function f64_to_f32(a: u64, rm: u32): u32 {
  return <u32>f64ToF32(a, rm);
}
/** fcvt.w.d: the register value, sign-extended. */
export function f64_to_w(a: u64, rm: u32): u64 {
  return floatToInt<f64, u64>(a, rm, W);
}
/** fcvt.wu.d: the register value, sign-extended from bit 31 as RV64 does. */
export function f64_to_wu(a: u64, rm: u32): u64 {
  return floatToInt<f64, u64>(a, rm, WU);
}
export function f64_to_l(a: u64, rm: u32): u64 {
  return floatToInt<f64, u64>(a, rm, L);
}
export function f64_to_lu(a: u64, rm: u32): u64 {
  return floatToInt<f64, u64>(a, rm, LU);
}
/** fcvt.d.w: from the low 32 bits of x, signed (always exact). */
export function w_to_f64(x: u64, rm: u32): u64 {
  return intToFloat<f64, u64>(x, rm, W);
}
export function wu_to_f64(x: u64, rm: u32): u64 {
  return intToFloat<f64, u64>(x, rm, WU);
}
export function l_to_f64(x: u64, rm: u32): u64 {
  return intToFloat<f64, u64>(x, rm, L);
}
export function lu_to_f64(x: u64, rm: u32): u64 {
  return intToFloat<f64, u64>(x, rm, LU);
}
