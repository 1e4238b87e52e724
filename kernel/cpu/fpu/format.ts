// Binary interchange formats, described generically.
//
// Every routine here is generic over the bit-container type B: u32 for
// binary32, u64 for binary64. `sizeof<B>()` is a compile-time constant, so
// each helper folds to the constant of its format. Values travel as u64
// whatever the format; a binary32 occupies the low 32 bits, upper bits zero.
//
// "Normalized" (normExp/normSig) means the exponent and significand of a
// finite non-zero value with the leading 1 moved to bit FRAC, subnormals
// included: value = normSig * 2^(normExp - BIAS - FRAC). A subnormal gets an
// exponent below 1 in exchange for a shifted-up significand.

import { raise, NV } from "./flags";

@inline export function FRAC<B>(): i32 {
  return sizeof<B>() == 4 ? 23 : 52;
}
/** The all-ones exponent field of infinities and NaNs. */
@inline export function EMAX<B>(): i32 {
  return sizeof<B>() == 4 ? 0xff : 0x7ff;
}
@inline export function BIAS<B>(): i32 {
  return sizeof<B>() == 4 ? 127 : 1023;
}
@inline export function SIGN_SHIFT<B>(): u64 {
  return sizeof<B>() == 4 ? 31 : 63;
}
@inline export function SIGN<B>(): u64 {
  return (<u64>1) << SIGN_SHIFT<B>();
}
@inline export function MAG_MASK<B>(): u64 {
  return SIGN<B>() - 1;
}
@inline export function HIDDEN<B>(): u64 {
  return (<u64>1) << FRAC<B>();
}
@inline export function FRAC_MASK<B>(): u64 {
  return HIDDEN<B>() - 1;
}
@inline export function INF<B>(): u64 {
  return (<u64>EMAX<B>()) << FRAC<B>();
}
/** The quiet bit: the most significant fraction bit (IEEE 754-2008 6.2.1). */
@inline export function QUIET<B>(): u64 {
  return (<u64>1) << (FRAC<B>() - 1);
}
/** RISC-V never propagates NaN payloads: every NaN result is this one. */
@inline export function CANON_NAN<B>(): u64 {
  return INF<B>() | QUIET<B>();
}

@inline export function signOf<B>(a: u64): u32 {
  return <u32>(a >> SIGN_SHIFT<B>()) & 1;
}
@inline export function expOf<B>(a: u64): i32 {
  return <i32>(a >> FRAC<B>()) & EMAX<B>();
}
@inline export function fracOf<B>(a: u64): u64 {
  return a & FRAC_MASK<B>();
}
@inline export function isNaN_<B>(a: u64): bool {
  return (a & MAG_MASK<B>()) > INF<B>();
}
@inline export function isSNaN<B>(a: u64): bool {
  return isNaN_<B>(a) && (a & QUIET<B>()) == 0;
}
@inline export function isInf<B>(a: u64): bool {
  return (a & MAG_MASK<B>()) == INF<B>();
}
@inline export function isZero<B>(a: u64): bool {
  return (a & MAG_MASK<B>()) == 0;
}
/** Infinity or NaN: the exponent field is all ones. */
@inline export function isSpecial<B>(a: u64): bool {
  return (a & INF<B>()) == INF<B>();
}

/**
 * Packs sign, exponent field and significand by addition, so a significand
 * that carries into bit FRAC (hidden bit, or a rounding carry) bumps the
 * exponent - the trick SoftFloat's packToF64UI relies on.
 */
@inline export function pack<B>(sign: u32, exp: i32, sig: u64): u64 {
  return ((<u64>sign) << SIGN_SHIFT<B>()) + ((<u64>exp) << FRAC<B>()) + sig;
}
@inline export function infOf<B>(sign: u32): u64 {
  return ((<u64>sign) << SIGN_SHIFT<B>()) | INF<B>();
}
@inline export function zeroOf<B>(sign: u32): u64 {
  return (<u64>sign) << SIGN_SHIFT<B>();
}

/** Exponent of a finite non-zero value, subnormals normalized (see top). */
@inline export function normExp<B>(a: u64): i32 {
  const e = expOf<B>(a);
  if (e != 0) return e;
  return 1 - (<i32>clz(fracOf<B>(a)) - (63 - FRAC<B>()));
}
/** Significand of a finite non-zero value with its leading 1 at bit FRAC. */
@inline export function normSig<B>(a: u64): u64 {
  const e = expOf<B>(a);
  const f = fracOf<B>(a);
  if (e != 0) return f | HIDDEN<B>();
  return f << (clz(f) - (63 - FRAC<B>()));
}

/**
 * The result of an operation with a NaN operand: the canonical NaN, with NV
 * when any operand is signaling. Callers pass the operands they have; 0 is
 * never a NaN so unused slots can be 0.
 */
@inline export function nanResult<B>(a: u64, b: u64, c: u64): u64 {
  if (isSNaN<B>(a) || isSNaN<B>(b) || isSNaN<B>(c)) raise(NV);
  return CANON_NAN<B>();
}
/** An invalid operation (inf - inf, 0 * inf, sqrt(-1) ...): NV, canonical NaN. */
@inline export function invalid<B>(): u64 {
  raise(NV);
  return CANON_NAN<B>();
}
