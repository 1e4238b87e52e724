// Integer soft-float fused multiply-add: a * b + c with one rounding.
//
// The product is kept exactly in 128 bits (106 bits for binary64), the
// addend is aligned to it in 128 bits, and only the sum is rounded. The
// four RISC-V forms are this one with operand signs flipped (see fma.ts).

import { raise, RDN, NV } from "./flags";
import {
  FRAC, BIAS, signOf, isNaN_, isInf, isZero, isSpecial,
  normExp, normSig, nanResult, invalid, infOf, zeroOf,
} from "./format";
import { roundPack } from "./round";
import { mul64To128, shiftRightJam128, shiftLeft128, wHi, wLo } from "./wide";

export function sfMulAdd<B>(a: u64, b: u64, c: u64, rm: u32): u64 {
  const signP = signOf<B>(a) ^ signOf<B>(b);
  const signC = signOf<B>(c);
  const infTimesZero = (isInf<B>(a) && isZero<B>(b)) || (isZero<B>(a) && isInf<B>(b));
  if (isSpecial<B>(a) || isSpecial<B>(b) || isSpecial<B>(c)) {
    if (isNaN_<B>(a) || isNaN_<B>(b) || isNaN_<B>(c)) {
      // The RISC-V spec requires NV for inf * 0 even when c is a quiet NaN.
      if (infTimesZero) raise(NV);
      return nanResult<B>(a, b, c);
    }
    if (infTimesZero) return invalid<B>();
    if (isInf<B>(a) || isInf<B>(b)) {
      // inf + -inf
      if (isInf<B>(c) && signC != signP) return invalid<B>();
      return infOf<B>(signP);
    }
    return c; // finite product + infinite c
  }
  if (isZero<B>(a) || isZero<B>(b)) {
    // An exact zero product: the sum is c itself, or for c = 0 a zero
    // signed by the sum-of-zeros rule (IEEE 754 6.3).
    if (!isZero<B>(c)) return c;
    return zeroOf<B>(signP == signC ? signC : rm == RDN ? 1 : 0);
  }

  // Product P with leading 1 at bit 125 or 126: value = P * 2^(expP - BIAS - 126).
  let expP = normExp<B>(a) + normExp<B>(b) - BIAS<B>() + 1;
  mul64To128(normSig<B>(a) << (62 - FRAC<B>()), normSig<B>(b) << (63 - FRAC<B>()));
  let pHi = wHi;
  let pLo = wLo;
  if (isZero<B>(c)) {
    // a*b + 0: only the product to round (its sign wins; it is non-zero).
    return roundNorm128<B>(signP, expP, pHi, pLo, rm);
  }
  // Addend with leading 1 at bit 126, same scale convention.
  let expC = normExp<B>(c);
  let cHi = normSig<B>(c) << (62 - FRAC<B>());
  let cLo: u64 = 0;

  // Align the operand with the smaller exponent to the larger, jamming the
  // bits shifted out: they sit ~70 bits below the rounding position, so
  // they only ever act as sticky, even after cancellation (which can only
  // be large when the shift is 0 or 1 and nothing was shifted out).
  let exp = expP;
  if (expP > expC) {
    shiftRightJam128(cHi, cLo, <u32>(expP - expC));
    cHi = wHi;
    cLo = wLo;
  } else if (expC > expP) {
    shiftRightJam128(pHi, pLo, <u32>(expC - expP));
    pHi = wHi;
    pLo = wLo;
    exp = expC;
  }
  let sign = signP;
  let hi: u64;
  let lo: u64;
  if (signP == signC) {
    lo = pLo + cLo;
    hi = pHi + cHi + <u64>(lo < pLo);
  } else {
    // Subtract the smaller magnitude from the larger; the larger's sign wins.
    if (pHi > cHi || (pHi == cHi && pLo >= cLo)) {
      lo = pLo - cLo;
      hi = pHi - cHi - <u64>(pLo < cLo);
    } else {
      lo = cLo - pLo;
      hi = cHi - pHi - <u64>(cLo < pLo);
      sign = signC;
    }
    // Exact cancellation: +0, or -0 when rounding down.
    if ((hi | lo) == 0) return zeroOf<B>(rm == RDN ? 1 : 0);
  }
  return roundNorm128<B>(sign, exp, hi, lo, rm);
}

/**
 * Rounds the non-zero 128-bit value (hi, lo) * 2^(exp - BIAS - 126):
 * normalizes its leading 1 to bit 126, folds the low word into a sticky
 * bit, and hands the top word (leading 1 at bit 62) to roundPack.
 */
function roundNorm128<B>(sign: u32, exp: i32, hi: u64, lo: u64, rm: u32): u64 {
  const lz = <i32>(hi != 0 ? clz(hi) : 64 + clz(lo));
  const shift = lz - 1;
  if (shift > 0) {
    shiftLeft128(hi, lo, <u32>shift);
  } else {
    shiftRightJam128(hi, lo, <u32>-shift);
  }
  return roundPack<B>(sign, exp - shift, wHi | <u64>(wLo != 0), rm);
}
