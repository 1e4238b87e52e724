// Conversions: binary32 <-> binary64, and float <-> integer.

import { raise, nxKnown, RNE, RTZ, RDN, RUP, RMM, NV, NX } from "./flags";
import {
  FRAC, BIAS, CANON_NAN, signOf, isNaN_, isSNaN, isZero, isSpecial,
  normExp, normSig, infOf, zeroOf,
} from "./format";
import { comfortable, settle } from "./arith";
import { roundPack, normRoundPack } from "./round";

/** Integer kinds, numbered as the rs2 field of fcvt encodes them. */
export const W: u32 = 0; // int32
export const WU: u32 = 1; // uint32
export const L: u32 = 2; // int64
export const LU: u32 = 3; // uint64

/** fcvt.d.s: every binary32 value is exact in binary64. */
export function f32ToF64(a: u64): u64 {
  if (isNaN_<u32>(a)) {
    if (isSNaN<u32>(a)) raise(NV);
    return CANON_NAN<u64>();
  }
  return reinterpret<u64>(<f64>reinterpret<f32>(<u32>a));
}

/** fcvt.s.d: narrowing, rounded by rm, may overflow or underflow. */
export function f64ToF32(a: u64, rm: u32): u64 {
  const sign = signOf<u64>(a);
  if (isSpecial<u64>(a)) {
    if (isNaN_<u64>(a)) {
      if (isSNaN<u64>(a)) raise(NV);
      return CANON_NAN<u32>();
    }
    return infOf<u32>(sign);
  }
  if (isZero<u64>(a)) return zeroOf<u32>(sign);
  const x = reinterpret<f64>(a);
  const y = <f32>x;
  const r = <u64>reinterpret<u32>(y);
  if (comfortable<u32>(r) && rm != RMM) {
    if (rm == RNE && nxKnown()) return r;
    const ax = abs<f64>(x);
    const ay = abs<f64>(<f64>y);
    return settle<u32>(r, ax > ay ? 1 : ax < ay ? -1 : 0, rm);
  }
  // value = m * 2^(e - 1023 - 52) = (m << 10) * 2^((e - 1023 + 127) - 127 - 62)
  return roundPack<u32>(sign, normExp<u64>(a) - BIAS<u64>() + BIAS<u32>(), normSig<u64>(a) << 10, rm);
}

/**
 * fcvt.{w,wu,l,lu}.{s,d}. The value is first rounded to an integer-valued
 * float by rm - exact operations - then range-checked. Out of range or NaN
 * gives NV and the RISC-V saturated value (NaN and too large: the maximum,
 * too small: the minimum); otherwise NX if the rounding changed the value.
 * Results are returned as the 64-bit register value: 32-bit results, the
 * unsigned ones included, are sign-extended.
 */
export function floatToInt<F, B>(a: u64, rm: u32, kind: u32): u64 {
  const x = reinterpret<F>(<B>a);
  let t: F;
  if (rm == RNE) t = nearest<F>(x);
  else if (rm == RTZ) t = trunc<F>(x);
  else if (rm == RDN) t = floor<F>(x);
  else if (rm == RUP) t = ceil<F>(x);
  else {
    // Ties away: x - trunc(x) is exact, and so is stepping t by one
    // (t has a fractional part only below 2^FRAC).
    t = trunc<F>(x);
    if (abs<F>(x - t) >= <F>0.5) t += copysign<F>(<F>1, x);
  }
  let ok: bool;
  if (kind == W) ok = t >= <F>-2147483648.0 && t < <F>2147483648.0;
  else if (kind == WU) ok = t >= <F>0 && t < <F>4294967296.0; // -0 is fine
  else if (kind == L) ok = t >= <F>-9223372036854775808.0 && t < <F>9223372036854775808.0;
  else ok = t >= <F>0 && t < <F>18446744073709551616.0;
  if (!ok) {
    // Comparisons with NaN are false, so NaN lands here too.
    raise(NV);
    const hi = isNaN_<B>(a) || signOf<B>(a) == 0;
    if (kind == W) return hi ? 0x7fff_ffff : 0xffff_ffff_8000_0000;
    if (kind == WU) return hi ? 0xffff_ffff_ffff_ffff : 0;
    if (kind == L) return hi ? 0x7fff_ffff_ffff_ffff : 0x8000_0000_0000_0000;
    return hi ? 0xffff_ffff_ffff_ffff : 0;
  }
  if (t != x) raise(NX);
  if (kind == W) return <u64><i64><i32>t;
  if (kind == WU) return <u64><i64><i32><u32>t;
  if (kind == L) return <u64><i64>t;
  return <u64>t;
}

/**
 * fcvt.{s,d}.{w,wu,l,lu}: `v` is the source register; W/WU use its low
 * 32 bits. Exact unless the integer has more significant bits than the
 * format's precision (only L/LU to either format, W/WU to binary32).
 */
export function intToFloat<F, B>(v: u64, rm: u32, kind: u32): u64 {
  let neg = false;
  let mag: u64;
  if (kind == W) {
    const s = <i64><i32>v;
    neg = s < 0;
    mag = neg ? <u64>-s : <u64>s;
  } else if (kind == WU) {
    mag = <u64><u32>v;
  } else if (kind == L) {
    neg = <i64>v < 0;
    mag = neg ? 0 - v : v; // also right for -2^63
  } else {
    mag = v;
  }
  if (mag == 0) return 0; // +0: integers have no signed zero
  // Significant bits of mag, from the leading to the trailing 1.
  const width = 64 - <i32>clz(mag) - <i32>ctz(mag);
  if (width <= FRAC<B>() + 1 || rm == RNE) {
    // Native conversion: exact, or correctly rounded to nearest-even.
    const f = <F>mag;
    if (width > FRAC<B>() + 1) raise(NX);
    return <u64>reinterpret<B>(neg ? -f : f);
  }
  // value = mag * 2^0 = sig * 2^(exp - BIAS - 62) with sig = mag.
  return normRoundPack<B>(neg ? 1 : 0, BIAS<B>() + 62, mag, rm);
}
