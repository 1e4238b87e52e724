// The M extension's awkward corners: the high half of 64x64 products and
// division by zero / overflow, which RISC-V defines (no trap) and wasm traps on.

/** High 64 bits of the unsigned 128-bit product. */
@inline export function mulhu(a: u64, b: u64): u64 {
  const aLo = a & 0xffff_ffff, aHi = a >> 32;
  const bLo = b & 0xffff_ffff, bHi = b >> 32;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const hh = aHi * bHi;
  const mid = (ll >> 32) + (lh & 0xffff_ffff) + (hl & 0xffff_ffff);
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/** High half of signed x signed: correct the unsigned product for negative operands. */
@inline export function mulh(a: u64, b: u64): u64 {
  let h = mulhu(a, b);
  if (<i64>a < 0) h -= b;
  if (<i64>b < 0) h -= a;
  return h;
}

/** High half of signed x unsigned. */
@inline export function mulhsu(a: u64, b: u64): u64 {
  let h = mulhu(a, b);
  if (<i64>a < 0) h -= b;
  return h;
}

@inline export function div64(a: u64, b: u64): u64 {
  if (b == 0) return ~<u64>0;
  if (a == 0x8000_0000_0000_0000 && b == ~<u64>0) return a; // overflow: -2^63 / -1
  return <u64>(<i64>a / <i64>b);
}
@inline export function divu64(a: u64, b: u64): u64 {
  return b == 0 ? ~<u64>0 : a / b;
}
@inline export function rem64(a: u64, b: u64): u64 {
  if (b == 0) return a;
  if (a == 0x8000_0000_0000_0000 && b == ~<u64>0) return 0;
  return <u64>(<i64>a % <i64>b);
}
@inline export function remu64(a: u64, b: u64): u64 {
  return b == 0 ? a : a % b;
}

// 32-bit forms; results are sign-extended to 64 bits by the caller.
@inline export function div32(a: u32, b: u32): u32 {
  if (b == 0) return 0xffff_ffff;
  if (a == 0x8000_0000 && b == 0xffff_ffff) return a;
  return <u32>(<i32>a / <i32>b);
}
@inline export function divu32(a: u32, b: u32): u32 {
  return b == 0 ? 0xffff_ffff : a / b;
}
@inline export function rem32(a: u32, b: u32): u32 {
  if (b == 0) return a;
  if (a == 0x8000_0000 && b == 0xffff_ffff) return 0;
  return <u32>(<i32>a % <i32>b);
}
@inline export function remu32(a: u32, b: u32): u32 {
  return b == 0 ? a : a % b;
}
