// 128-bit integer helpers for significand arithmetic.
//
// A binary64 product is 106 bits and the fused multiply-add must keep it
// exactly, so the soft-float paths need a double-word. AssemblyScript has
// no multi-value returns here, so a 128-bit result is left in (wHi, wLo).

export let wHi: u64 = 0;
export let wLo: u64 = 0;

/** Full 64x64 -> 128 product, into (wHi, wLo). */
@inline export function mul64To128(a: u64, b: u64): void {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  wLo = (mid << 32) | (p00 & 0xffffffff);
  wHi = a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/**
 * Shift right by d, OR-ing every bit shifted out into bit 0 ("jamming").
 * The jammed bit keeps the information "the discarded part was non-zero",
 * which is all round-to-nearest and the directed modes need beyond the
 * guard bits, as long as the result keeps at least two bits below the
 * rounding position.
 */
@inline export function shiftRightJam64(a: u64, d: u32): u64 {
  if (d >= 64) return <u64>(a != 0);
  return (a >> d) | <u64>((a & (((<u64>1) << d) - 1)) != 0);
}

/** shiftRightJam64 over the 128-bit (hi, lo), result into (wHi, wLo). */
export function shiftRightJam128(hi: u64, lo: u64, d: u32): void {
  if (d == 0) {
    wHi = hi;
    wLo = lo;
  } else if (d < 64) {
    wLo = (hi << (64 - d)) | (lo >> d) | <u64>((lo << (64 - d)) != 0);
    wHi = hi >> d;
  } else if (d < 128) {
    wLo = shiftRightJam64(hi, d - 64) | <u64>(lo != 0);
    wHi = 0;
  } else {
    wLo = <u64>((hi | lo) != 0);
    wHi = 0;
  }
}

/** (hi, lo) << d for 0 <= d < 128, into (wHi, wLo). */
@inline export function shiftLeft128(hi: u64, lo: u64, d: u32): void {
  if (d == 0) {
    wHi = hi;
    wLo = lo;
  } else if (d < 64) {
    wHi = (hi << d) | (lo >> (64 - d));
    wLo = lo << d;
  } else {
    wHi = lo << (d - 64);
    wLo = 0;
  }
}

/** Sign of (aHi, aLo) - (bHi, bLo) as unsigned 128-bit numbers: -1, 0, 1. */
@inline export function cmp128(aHi: u64, aLo: u64, bHi: u64, bLo: u64): i32 {
  if (aHi != bHi) return aHi < bHi ? -1 : 1;
  if (aLo != bLo) return aLo < bLo ? -1 : 1;
  return 0;
}
