// Integer soft-float: add, multiply, divide in every rounding mode.
//
// These are the exact reference paths. arith.ts only comes here when its
// native fast path cannot decide the result on its own: NaN/inf/zero
// operands, results at the edge of the range (subnormal, near overflow),
// and round-to-max-magnitude where a tie is possible. All work on the
// magnitudes with the hidden bit made explicit and end in roundPack.

import { raise, RDN, DZ } from "./flags";
import {
  FRAC, BIAS, HIDDEN, signOf, expOf, fracOf, isNaN_, isInf, isZero, isSpecial,
  normExp, normSig, nanResult, invalid, infOf, zeroOf,
} from "./format";
import { normRoundPack, roundPack } from "./round";
import { mul64To128, shiftRightJam64, wHi, wLo } from "./wide";

/** a + b. Subtraction is addition of b with its sign flipped. */
export function sfAdd<B>(a: u64, b: u64, rm: u32): u64 {
  if (isSpecial<B>(a) || isSpecial<B>(b)) {
    if (isNaN_<B>(a) || isNaN_<B>(b)) return nanResult<B>(a, b, 0);
    if (isInf<B>(a)) {
      // inf - inf has no meaningful sign or magnitude: invalid.
      if (isInf<B>(b) && signOf<B>(a) != signOf<B>(b)) return invalid<B>();
      return a;
    }
    return b;
  }
  if (isZero<B>(b)) {
    // x + 0 is x exactly; for 0 + 0 IEEE 754 6.3 wants the common sign,
    // or +0 (-0 when rounding down) if the signs differ.
    if (!isZero<B>(a) || signOf<B>(a) == signOf<B>(b)) return a;
    return zeroOf<B>(rm == RDN ? 1 : 0);
  }
  if (isZero<B>(a)) return b;

  // Subnormals have exponent 1 and no hidden bit. Put the hidden bit at 61,
  // leaving bit 62 for the carry of an addition and 61 - FRAC guard bits.
  let ea = expOf<B>(a);
  let eb = expOf<B>(b);
  let ma = fracOf<B>(a);
  let mb = fracOf<B>(b);
  if (ea == 0) ea = 1;
  else ma |= HIDDEN<B>();
  if (eb == 0) eb = 1;
  else mb |= HIDDEN<B>();
  ma <<= 61 - FRAC<B>();
  mb <<= 61 - FRAC<B>();
  let sign = signOf<B>(a);
  const subtract = sign != signOf<B>(b);
  // Make a the operand of larger magnitude: it gives the result its sign,
  // and its significand minus the other's cannot go negative.
  if (ea < eb || (ea == eb && ma < mb)) {
    const te = ea;
    ea = eb;
    eb = te;
    const tm = ma;
    ma = mb;
    mb = tm;
    sign = signOf<B>(b);
  }
  mb = shiftRightJam64(mb, <u32>(ea - eb));
  const sig = subtract ? ma - mb : ma + mb;
  // Exact cancellation x - x: +0, except -0 when rounding down (IEEE 6.3).
  if (sig == 0) return zeroOf<B>(rm == RDN ? 1 : 0);
  // value = sig * 2^(ea - BIAS - 61), i.e. exp = ea + 1 in round.ts terms.
  return normRoundPack<B>(sign, ea + 1, sig, rm);
}

/** a * b. */
export function sfMul<B>(a: u64, b: u64, rm: u32): u64 {
  const sign = signOf<B>(a) ^ signOf<B>(b);
  if (isSpecial<B>(a) || isSpecial<B>(b)) {
    if (isNaN_<B>(a) || isNaN_<B>(b)) return nanResult<B>(a, b, 0);
    if (isZero<B>(a) || isZero<B>(b)) return invalid<B>(); // inf * 0
    return infOf<B>(sign);
  }
  if (isZero<B>(a) || isZero<B>(b)) return zeroOf<B>(sign);
  // The full product (at most 2*FRAC+2 bits) in 128 bits, leading 1 at bit
  // 125 or 126; everything below the top 64 bits only matters as sticky.
  mul64To128(normSig<B>(a) << (62 - FRAC<B>()), normSig<B>(b) << (63 - FRAC<B>()));
  const sig = wHi | <u64>(wLo != 0);
  // value = sig * 2^(ea + eb - 2 BIAS - 61)
  return normRoundPack<B>(sign, normExp<B>(a) + normExp<B>(b) - BIAS<B>() + 1, sig, rm);
}

/** a / b. */
export function sfDiv<B>(a: u64, b: u64, rm: u32): u64 {
  const sign = signOf<B>(a) ^ signOf<B>(b);
  if (isSpecial<B>(a) || isSpecial<B>(b)) {
    if (isNaN_<B>(a) || isNaN_<B>(b)) return nanResult<B>(a, b, 0);
    if (isInf<B>(a)) return isInf<B>(b) ? invalid<B>() : infOf<B>(sign);
    return zeroOf<B>(sign); // finite / inf
  }
  if (isZero<B>(b)) {
    if (isZero<B>(a)) return invalid<B>(); // 0 / 0
    // Finite non-zero / 0 is an exact infinity, signalled by DZ alone.
    raise(DZ);
    return infOf<B>(sign);
  }
  if (isZero<B>(a)) return zeroOf<B>(sign);

  let ma = normSig<B>(a);
  const mb = normSig<B>(b);
  let exp = normExp<B>(a) - normExp<B>(b) + BIAS<B>();
  if (ma < mb) {
    ma <<= 1;
    exp--;
  }
  // Now 1 <= ma/mb < 2. Long division for q = floor(ma * 2^62 / mb) with
  // the exact remainder. The remainder stays below mb < 2^(FRAC+1), so each
  // u64 division can bring down 63 - FRAC new bits (11 for binary64, 40
  // for binary32).
  const CHUNK: u32 = 63 - FRAC<B>();
  let q: u64 = 1;
  let r = ma - mb;
  let bits: u32 = 0;
  while (bits < 62) {
    const s = min(CHUNK, 62 - bits);
    r <<= s;
    const d = r / mb;
    r -= d * mb;
    q = (q << s) | d;
    bits += s;
  }
  // value = q * 2^(exp - BIAS - 62); the remainder becomes the sticky bit.
  return roundPack<B>(sign, exp, q | <u64>(r != 0), rm);
}
