// Rounding an exact (or jammed) intermediate result to a format.
//
// Intermediate convention, shared by every soft-float routine:
//   value = sig * 2^(exp - BIAS - 62),  sig normalized to [2^62, 2^63)
// so `exp` is the biased exponent the result has unless rounding carries
// out. The 62 - FRAC bits below the result's last place are the rounding
// bits; bit 0 may be a jammed "sticky" bit (see wide.ts).

import { raise, RNE, RDN, RUP, RMM, UF, OF, NX } from "./flags";
import { FRAC, EMAX, FRAC_MASK, pack, infOf, zeroOf } from "./format";
import { shiftRightJam64 } from "./wide";

/**
 * Rounds (sign, exp, sig) by `rm` and packs it, raising NX/UF/OF.
 * Modelled on SoftFloat's softfloat_roundPackToF64 with RISC-V's choices:
 * tininess is detected after rounding, UF needs tiny AND inexact, and an
 * overflow goes to infinity or to the largest finite number depending on
 * whether the mode rounds away from zero for this sign.
 */
export function roundPack<B>(sign: u32, exp: i32, sig: u64, rm: u32): u64 {
  const RB = 62 - FRAC<B>(); // rounding bits below the last place
  const MASK: u64 = ((<u64>1) << RB) - 1;
  const HALF: u64 = (<u64>1) << (RB - 1);
  // What to add before truncating: half a unit for the nearest modes, all
  // ones (= "any non-zero remainder rounds up") when rounding away from
  // zero, nothing when truncating.
  let inc: u64 = HALF;
  if (rm != RNE && rm != RMM) inc = rm == (sign ? RDN : RUP) ? MASK : 0;
  // pack() adds the hidden bit into the exponent field, hence exp - 1.
  let e = exp - 1;
  if (<u32>e >= <u32>(EMAX<B>() - 2)) {
    if (e < 0) {
      // Below the normal range. Tiny means: rounded at full precision with
      // an unbounded exponent, the result is still below the smallest
      // normal (RISC-V detects tininess after rounding).
      const tiny = e < -1 || sig + inc < 0x8000_0000_0000_0000;
      sig = shiftRightJam64(sig, <u32>-e);
      e = 0;
      if (tiny && (sig & MASK) != 0) raise(UF);
    } else if (e > EMAX<B>() - 2 || sig + inc >= 0x8000_0000_0000_0000) {
      raise(OF | NX);
      // Modes that never round away from zero stop at the largest finite.
      return inc == 0 ? pack<B>(sign, EMAX<B>() - 1, FRAC_MASK<B>()) : infOf<B>(sign);
    }
  }
  const rbits = sig & MASK;
  sig = (sig + inc) >> RB;
  if (rbits != 0) {
    raise(NX);
    // An exact tie rounded up by the half increment: back to even.
    if (rbits == HALF && rm == RNE) sig &= ~(<u64>1);
  }
  if (sig == 0) e = 0;
  return pack<B>(sign, e, sig);
}

/** roundPack for a significand not yet normalized (any non-zero sig). */
export function normRoundPack<B>(sign: u32, exp: i32, sig: u64, rm: u32): u64 {
  if (sig == 0) return zeroOf<B>(sign);
  const shift = <i32>clz(sig) - 1;
  return roundPack<B>(sign, exp - shift, shift >= 0 ? sig << shift : (sig >> 1) | (sig & 1), rm);
}
