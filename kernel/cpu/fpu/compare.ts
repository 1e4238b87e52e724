// Comparisons, min/max and classification: exact operations, no rounding.

import { raise, NV } from "./flags";
import {
  EMAX, QUIET, CANON_NAN, signOf, expOf, fracOf, isNaN_, isSNaN,
} from "./format";

/** feq: a quiet comparison, NV only for a signaling NaN operand. */
export function feq<F, B>(a: u64, b: u64): u64 {
  if (isNaN_<B>(a) || isNaN_<B>(b)) {
    if (isSNaN<B>(a) || isSNaN<B>(b)) raise(NV);
    return 0;
  }
  return <u64>(reinterpret<F>(<B>a) == reinterpret<F>(<B>b));
}

/** flt: a signaling comparison (IEEE 754 5.11), NV for any NaN operand. */
export function flt<F, B>(a: u64, b: u64): u64 {
  if (isNaN_<B>(a) || isNaN_<B>(b)) {
    raise(NV);
    return 0;
  }
  return <u64>(reinterpret<F>(<B>a) < reinterpret<F>(<B>b));
}

/** fle: signaling, like flt. */
export function fle<F, B>(a: u64, b: u64): u64 {
  if (isNaN_<B>(a) || isNaN_<B>(b)) {
    raise(NV);
    return 0;
  }
  return <u64>(reinterpret<F>(<B>a) <= reinterpret<F>(<B>b));
}

/**
 * fmin/fmax with the RISC-V 2.2+ semantics (IEEE 754-2019 minimumNumber /
 * maximumNumber): a NaN operand is ignored in favour of the other one, two
 * NaNs give the canonical NaN, a signaling NaN raises NV, and -0 < +0.
 */
export function fminmax<F, B>(a: u64, b: u64, isMax: bool): u64 {
  const an = isNaN_<B>(a);
  const bn = isNaN_<B>(b);
  if (an || bn) {
    if (isSNaN<B>(a) || isSNaN<B>(b)) raise(NV);
    if (an && bn) return CANON_NAN<B>();
    return an ? b : a;
  }
  const x = reinterpret<F>(<B>a);
  const y = reinterpret<F>(<B>b);
  if (x < y) return isMax ? b : a;
  if (y < x) return isMax ? a : b;
  // Numerically equal: identical bits, or +0 and -0, where the sign bit
  // decides - OR gives -0 for min, AND gives +0 for max.
  return isMax ? a & b : a | b;
}

/** fclass: a one-hot 10-bit mask (RISC-V unprivileged spec, table 11.5). */
export function fclass<B>(a: u64): u64 {
  const s = signOf<B>(a);
  const e = expOf<B>(a);
  const f = fracOf<B>(a);
  let bit: u32;
  if (e == EMAX<B>()) {
    if (f == 0) bit = s ? 0 : 7; // -inf / +inf
    else bit = (f & QUIET<B>()) != 0 ? 9 : 8; // quiet / signaling NaN
  } else if (e == 0) {
    if (f == 0) bit = s ? 3 : 4; // -0 / +0
    else bit = s ? 2 : 5; // subnormal
  } else {
    bit = s ? 1 : 6; // normal
  }
  return (<u64>1) << bit;
}
