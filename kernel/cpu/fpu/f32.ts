// The binary32 (F extension) operations on raw bits.
//
// Operands and results are IEEE 754 binary32 bit patterns; rm is 0..4
// (RNE, RTZ, RDN, RUP, RMM); exceptions are ORed into `fflags` (flags.ts).
// NaN results are always the canonical NaN 0x7fc00000.

import { fadd, fmul, fdiv, fsqrt } from "./arith";
import { fmaForm, MADD, MSUB, NMSUB, NMADD } from "./fma";
import { feq, flt, fle, fminmax, fclass } from "./compare";
import { f32ToF64, floatToInt, intToFloat, W, WU, L, LU } from "./convert";

const SIGN: u32 = 0x8000_0000;

export function f32_add(a: u32, b: u32, rm: u32): u32 {
  return <u32>fadd<f32, u32>(a, b, rm);
}
export function f32_sub(a: u32, b: u32, rm: u32): u32 {
  return <u32>fadd<f32, u32>(a, b ^ SIGN, rm);
}
export function f32_mul(a: u32, b: u32, rm: u32): u32 {
  return <u32>fmul<f32, u32>(a, b, rm);
}
export function f32_div(a: u32, b: u32, rm: u32): u32 {
  return <u32>fdiv<f32, u32>(a, b, rm);
}
export function f32_sqrt(a: u32, rm: u32): u32 {
  return <u32>fsqrt<f32, u32>(a, rm);
}
export function f32_madd(a: u32, b: u32, c: u32, rm: u32): u32 {
  return <u32>fmaForm<f32, u32>(a, b, c, rm, MADD);
}
export function f32_msub(a: u32, b: u32, c: u32, rm: u32): u32 {
  return <u32>fmaForm<f32, u32>(a, b, c, rm, MSUB);
}
export function f32_nmsub(a: u32, b: u32, c: u32, rm: u32): u32 {
  return <u32>fmaForm<f32, u32>(a, b, c, rm, NMSUB);
}
export function f32_nmadd(a: u32, b: u32, c: u32, rm: u32): u32 {
  return <u32>fmaForm<f32, u32>(a, b, c, rm, NMADD);
}
export function f32_min(a: u32, b: u32): u32 {
  return <u32>fminmax<f32, u32>(a, b, false);
}
export function f32_max(a: u32, b: u32): u32 {
  return <u32>fminmax<f32, u32>(a, b, true);
}
export function f32_eq(a: u32, b: u32): bool {
  return feq<f32, u32>(a, b) != 0;
}
export function f32_lt(a: u32, b: u32): bool {
  return flt<f32, u32>(a, b) != 0;
}
export function f32_le(a: u32, b: u32): bool {
  return fle<f32, u32>(a, b) != 0;
}
export function f32_class(a: u32): u32 {
  return <u32>fclass<u32>(a);
}
/** fcvt.d.s (exact) */
export function f32_to_f64(a: u32): u64 {
  return f32ToF64(a);
}
/** fcvt.w.s: the register value, sign-extended. */
export function f32_to_w(a: u32, rm: u32): u64 {
  return floatToInt<f32, u32>(a, rm, W);
}
/** fcvt.wu.s: the register value, sign-extended from bit 31 as RV64 does. */
export function f32_to_wu(a: u32, rm: u32): u64 {
  return floatToInt<f32, u32>(a, rm, WU);
}
export function f32_to_l(a: u32, rm: u32): u64 {
  return floatToInt<f32, u32>(a, rm, L);
}
export function f32_to_lu(a: u32, rm: u32): u64 {
  return floatToInt<f32, u32>(a, rm, LU);
}
/** fcvt.s.w: from the low 32 bits of x, signed. */
export function w_to_f32(x: u64, rm: u32): u32 {
  return <u32>intToFloat<f32, u32>(x, rm, W);
}
export function wu_to_f32(x: u64, rm: u32): u32 {
  return <u32>intToFloat<f32, u32>(x, rm, WU);
}
export function l_to_f32(x: u64, rm: u32): u32 {
  return <u32>intToFloat<f32, u32>(x, rm, L);
}
export function lu_to_f32(x: u64, rm: u32): u32 {
  return <u32>intToFloat<f32, u32>(x, rm, LU);
}
