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
// round-to-odd at p+2 or more bits is innocuous).
//
// binary64 has no wider native format. In RNE, for operands of moderate
// magnitude, it uses Boldo & Melquiond's emulation from the same paper:
//   (uh, ul) = a*b exactly (Dekker's product with Veltkamp splitting)
//   (th, tl) = c + uh exactly (TwoSum)
//   v = tl + ul rounded to odd
//   result = RN(th + v)
// Everything else goes to the 128-bit integer soft-float (softfma.ts).

import { RNE, RDN, NX, raise, nxKnown } from "./flags";
import { SIGN, isSpecial, zeroOf } from "./format";
import { f64ToF32 } from "./convert";
import { sfMulAdd } from "./softfma";

export const MADD: u32 = 0;
export const MSUB: u32 = 1;
export const NMSUB: u32 = 2;
export const NMADD: u32 = 3;

/**
 * The fused multiply-add of form `form` (MADD ... NMADD, the opcode order):
 * bit 0 of the form negates the addend, bit 1 the product.
 */
@inline export function fmaForm<F, B>(a: u64, b: u64, c: u64, rm: u32, form: u32): u64 {
  const negP = (form & 2) != 0;
  const negC = (form & 1) != 0;
  return fmadd<F, B>(negP ? a ^ SIGN<B>() : a, b, negC ? c ^ SIGN<B>() : c, rm);
}

export function fmadd<F, B>(a: u64, b: u64, c: u64, rm: u32): u64 {
  if (sizeof<B>() == 4) return fma32(a, b, c, rm);
  return fma64(a, b, c, rm);
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

/** Veltkamp's splitter for binary64: 2^27 + 1 cuts a 53-bit significand in 26 + 27 bits. */
const SPLITTER: f64 = 134217729.0;

function fma64(a: u64, b: u64, c: u64, rm: u32): u64 {
  // The fast path's preconditions, on exponent fields: a and b within
  // 2^+-480 (the split cannot overflow and every partial product is a
  // multiple of 2^-1064, so Dekker's product is exact even where it is
  // subnormal), c normal and below 2^977 (no sum overflows).
  const ea = <u32>(a >> 52) & 0x7ff;
  const eb = <u32>(b >> 52) & 0x7ff;
  const ec = <u32>(c >> 52) & 0x7ff;
  if (rm != RNE || ea - 543 > 960 || eb - 543 > 960 || ec - 1 > 1999) {
    return sfMulAdd<u64>(a, b, c, rm);
  }
  const x = reinterpret<f64>(a);
  const y = reinterpret<f64>(b);
  const z = reinterpret<f64>(c);
  // uh + ul = x * y exactly.
  let t = SPLITTER * x;
  const xh = t - (t - x);
  const xl = x - xh;
  t = SPLITTER * y;
  const yh = t - (t - y);
  const yl = y - yh;
  const uh = x * y;
  const ul = ((xh * yh - uh) + xh * yl + xl * yh) + xl * yl;
  // th + tl = z + uh exactly.
  const th = z + uh;
  const bv = th - z;
  const tl = (z - (th - bv)) + (uh - bv);
  // v = tl + ul rounded to odd.
  const sv = tl + ul;
  const bw = sv - tl;
  const ev = (tl - (sv - bw)) + (ul - bw);
  let vb = reinterpret<u64>(sv);
  if (ev != 0 && (vb & 1) == 0) vb = (ev > 0) == (sv > 0) ? vb + 1 : vb - 1;
  const v = reinterpret<f64>(vb);
  const r = th + v;
  const rb = reinterpret<u64>(r);
  // A result below 2^-900 (cancellation) may have lost bits of v to the
  // subnormal range, and zero needs the sign rules: soft-float decides.
  const er = <u32>(rb >> 52) & 0x7ff;
  if (er - 124 > 1900) return sfMulAdd<u64>(a, b, c, rm);
  if (!nxKnown()) {
    // Exact iff v = tl + ul exactly and th + v exactly. If v was rounded,
    // let soft-float establish exactness (this only happens until the
    // first inexact operation accrues NX).
    if (ev != 0) return sfMulAdd<u64>(a, b, c, rm);
    const bz = r - th;
    if ((th - (r - bz)) + (v - bz) != 0) raise(NX);
  }
  return rb;
}
