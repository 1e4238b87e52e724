// add, sub, mul, div, sqrt: native wasm arithmetic plus an exactness test.
//
// Wasm computes these correctly rounded to nearest-even. For a result r
// that is comfortably normal (see `comfortable`), the exact value lies
// strictly between r's two neighbours, so knowing the sign of the error
// |exact| - |r| is enough to produce every other rounding mode as r or a
// neighbour one unit away, and to know NX. The error sign comes from:
//   add/sub  TwoSum (6 native ops, exact in the same format)
//   mul/div/sqrt binary32: the product r*y or r*r recomputed exactly in
//            binary64 (24+24 bits fit in 53)
//   mul/div/sqrt binary64: the 106-bit significand product in integers
// Ties need more than the error sign, so round-to-max-magnitude goes to
// soft-float where a tie is possible (add, mul); a quotient or square root
// of normal operands can never be exactly half-way, so there RMM = RNE.
// Everything else - NaN, infinities, zeros, subnormal or overflowing
// results - takes the soft-float path (softfloat.ts), which is exact.
// In RNE the exactness test only feeds NX, so it is skipped when NX is
// already accrued (the usual state of a program doing real arithmetic).

import { raise, nxKnown, RNE, RTZ, RDN, RUP, RMM, NX } from "./flags";
import {
  FRAC, EMAX, BIAS, HIDDEN, signOf, expOf, fracOf, isNaN_, isZero, isSpecial,
  normExp, normSig, nanResult, invalid,
} from "./format";
import { sfAdd, sfMul, sfDiv } from "./softfloat";
import { mul64To128, shiftLeft128, cmp128, wHi, wLo } from "./wide";

/**
 * Exponent field in 2 .. EMAX-2: r is normal, not tiny (so no UF whatever
 * the exact value was), and both neighbours are normal and finite.
 */
@inline export function comfortable<B>(r: u64): bool {
  return <u32>(expOf<B>(r) - 2) < <u32>(EMAX<B>() - 3);
}

/**
 * The correctly rounded result in mode rm, given the round-to-nearest
 * result r (comfortable) and dir = sign of |exact| - |r|. Raises NX when
 * inexact. RMM is treated as RNE: callers only pass it when no tie exists.
 */
@inline export function settle<B>(r: u64, dir: i32, rm: u32): u64 {
  if (dir == 0) return r;
  raise(NX);
  if (rm == RNE || rm == RMM) return r;
  // Incrementing/decrementing the bit pattern moves one unit in magnitude.
  const towardZero = rm == RTZ || rm == (signOf<B>(r) ? RUP : RDN);
  if (towardZero) return dir < 0 ? r - 1 : r;
  return dir > 0 ? r + 1 : r;
}

@inline function sgn<F>(e: F, ref: F): i32 {
  // +1 when e points away from zero relative to ref (|exact| > |r|).
  return e == 0 ? 0 : (e > 0) == (ref > 0) ? 1 : -1;
}

export function fadd<F, B>(a: u64, b: u64, rm: u32): u64 {
  const x = reinterpret<F>(<B>a);
  const y = reinterpret<F>(<B>b);
  const s = x + y;
  const r = <u64>reinterpret<B>(s);
  if (comfortable<B>(r) && rm != RMM) {
    if (rm == RNE && nxKnown()) return r;
    // TwoSum (Knuth): e = (x + y) - s exactly, whatever the magnitudes.
    const yv = s - x;
    const e = (x - (s - yv)) + (y - yv);
    return settle<B>(r, sgn<F>(e, s), rm);
  }
  return sfAdd<B>(a, b, rm);
}

export function fmul<F, B>(a: u64, b: u64, rm: u32): u64 {
  const x = reinterpret<F>(<B>a);
  const y = reinterpret<F>(<B>b);
  const p = x * y;
  const r = <u64>reinterpret<B>(p);
  if (comfortable<B>(r) && rm != RMM) {
    if (rm == RNE && nxKnown()) return r;
    let dir: i32;
    if (sizeof<B>() == 4) {
      const exact = abs<f64>(<f64>x * <f64>y);
      const got = abs<f64>(<f64>p);
      dir = exact > got ? 1 : exact < got ? -1 : 0;
    } else {
      // |a*b| vs |r| as integers: ma*mb vs mr * 2^k (k is 51..53).
      mul64To128(normSig<B>(a), normSig<B>(b));
      const hi = wHi;
      const lo = wLo;
      const k = expOf<B>(r) - normExp<B>(a) - normExp<B>(b) + BIAS<B>() + FRAC<B>();
      shiftLeft128(0, fracOf<B>(r) | HIDDEN<B>(), <u32>k);
      dir = cmp128(hi, lo, wHi, wLo);
    }
    return settle<B>(r, dir, rm);
  }
  return sfMul<B>(a, b, rm);
}

export function fdiv<F, B>(a: u64, b: u64, rm: u32): u64 {
  const x = reinterpret<F>(<B>a);
  const y = reinterpret<F>(<B>b);
  const q = x / y;
  const r = <u64>reinterpret<B>(q);
  if (comfortable<B>(r)) {
    if ((rm == RNE || rm == RMM) && nxKnown()) return r;
    // |a/b| vs |q|  <=>  |a| vs |q*b|
    let dir: i32;
    if (sizeof<B>() == 4) {
      const ax = abs<f64>(<f64>x);
      const qy = abs<f64>(<f64>q * <f64>y);
      dir = ax > qy ? 1 : ax < qy ? -1 : 0;
    } else {
      mul64To128(fracOf<B>(r) | HIDDEN<B>(), normSig<B>(b));
      const hi = wHi;
      const lo = wLo;
      const k = normExp<B>(a) - expOf<B>(r) - normExp<B>(b) + BIAS<B>() + FRAC<B>();
      shiftLeft128(0, normSig<B>(a), <u32>k);
      dir = cmp128(wHi, wLo, hi, lo);
    }
    return settle<B>(r, dir, rm);
  }
  return sfDiv<B>(a, b, rm);
}

export function fsqrt<F, B>(a: u64, rm: u32): u64 {
  if (isSpecial<B>(a) || isZero<B>(a) || signOf<B>(a) != 0) {
    if (isNaN_<B>(a)) return nanResult<B>(a, 0, 0);
    if (isZero<B>(a)) return a; // sqrt(-0) = -0
    if (signOf<B>(a) != 0) return invalid<B>(); // includes -inf
    return a; // +inf
  }
  // The root of any positive finite value is normal and far from both
  // ends of the range, so r is always comfortable here.
  const x = reinterpret<F>(<B>a);
  const q = sqrt<F>(x);
  const r = <u64>reinterpret<B>(q);
  if ((rm == RNE || rm == RMM) && nxKnown()) return r;
  // sqrt(a) vs q  <=>  a vs q*q
  let dir: i32;
  if (sizeof<B>() == 4) {
    const ax = <f64>x;
    const qq = <f64>q * <f64>q;
    dir = ax > qq ? 1 : ax < qq ? -1 : 0;
  } else {
    const mr = fracOf<B>(r) | HIDDEN<B>();
    mul64To128(mr, mr);
    const hi = wHi;
    const lo = wLo;
    const k = normExp<B>(a) - 2 * expOf<B>(r) + BIAS<B>() + FRAC<B>();
    shiftLeft128(0, normSig<B>(a), <u32>k);
    dir = cmp128(wHi, wLo, hi, lo);
  }
  return settle<B>(r, dir, rm);
}
