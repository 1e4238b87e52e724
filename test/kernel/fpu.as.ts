// Test entry for the F/D extension (kernel/cpu/fpu): re-exports the
// operations and execFp, and runs batches of reference vectors in wasm so
// that hundreds of thousands of cases cost one call each way.

export * from "../../kernel/cpu/fpu/f32";
export * from "../../kernel/cpu/fpu/f64";
export { setFflags, getFflags } from "../../kernel/cpu/fpu/flags";
export { execFp } from "../../kernel/cpu/fpu/exec";
export { setHart } from "../../kernel/cpu/hart";

import { setFflags, getFflags, NX } from "../../kernel/cpu/fpu/flags";
import { SIGN } from "../../kernel/cpu/fpu/format";
import { sfAdd, sfMul, sfDiv } from "../../kernel/cpu/fpu/softfloat";
import { sfMulAdd } from "../../kernel/cpu/fpu/softfma";
import { fadd, fmul, fdiv, fsqrt } from "../../kernel/cpu/fpu/arith";
import { fmaForm } from "../../kernel/cpu/fpu/fma";
import { feq, flt, fle, fminmax, fclass } from "../../kernel/cpu/fpu/compare";
import { f32ToF64, f64ToF32, floatToInt, intToFloat } from "../../kernel/cpu/fpu/convert";

// Operation numbers: FMT * 32 + BASE, as in fpu-ref.c / fpu-harness.ts.
const ADD: u32 = 0, SUB: u32 = 1, MUL: u32 = 2, DIV: u32 = 3, SQRT: u32 = 4, MADD: u32 = 5, NMADD: u32 = 8;
const MIN: u32 = 9, MAX: u32 = 10, EQ: u32 = 11, LT: u32 = 12, LE: u32 = 13, CLASS: u32 = 14, CVT: u32 = 15;
const TO_W: u32 = 16, TO_LU: u32 = 19, FROM_W: u32 = 20;

/** Integer soft-float for the four forms, bypassing fma.ts's fast path. */
function softForm<B>(a: u64, b: u64, c: u64, rm: u32, form: u32): u64 {
  const negC = form == 1 || form == 3;
  const negP = form >= 2;
  return sfMulAdd<B>(negP ? a ^ SIGN<B>() : a, b, negC ? c ^ SIGN<B>() : c, rm);
}

function run<F, B>(base: u32, rm: u32, a: u64, b: u64, c: u64, soft: bool): u64 {
  if (base == ADD || base == SUB) {
    const y = base == SUB ? b ^ SIGN<B>() : b;
    return soft ? sfAdd<B>(a, y, rm) : fadd<F, B>(a, y, rm);
  }
  if (base == MUL) return soft ? sfMul<B>(a, b, rm) : fmul<F, B>(a, b, rm);
  if (base == DIV) return soft ? sfDiv<B>(a, b, rm) : fdiv<F, B>(a, b, rm);
  if (base == SQRT) return fsqrt<F, B>(a, rm);
  if (base >= MADD && base <= NMADD) {
    return soft ? softForm<B>(a, b, c, rm, base - MADD) : fmaForm<F, B>(a, b, c, rm, base - MADD);
  }
  if (base == MIN || base == MAX) return fminmax<F, B>(a, b, base == MAX);
  if (base == EQ) return feq<F, B>(a, b);
  if (base == LT) return flt<F, B>(a, b);
  if (base == LE) return fle<F, B>(a, b);
  if (base == CLASS) return fclass<B>(a);
  if (base == CVT) return sizeof<B>() == 4 ? f32ToF64(a) : f64ToF32(a, rm);
  if (base >= TO_W && base <= TO_LU) return floatToInt<F, B>(a, rm, base - TO_W);
  return intToFloat<F, B>(a, rm, base - FROM_W);
}

/**
 * For each of n records of five u64 at `vec` (a, b, c, expected result,
 * expected flags) writes (result, flags) to `out`. `preNX` starts every
 * operation with NX already accrued, as exec.ts does after the first
 * inexact result; `soft` routes add/sub/mul/div/fma to the integer
 * soft-float directly so it is tested on every input too.
 */
export function runBatch(op: u32, rm: u32, vec: usize, n: u32, out: usize, preNX: bool, soft: bool): void {
  for (let i: u32 = 0; i < n; i++) {
    const p = vec + <usize>i * 40;
    const a = load<u64>(p);
    const b = load<u64>(p, 8);
    const c = load<u64>(p, 16);
    setFflags(preNX ? NX : 0);
    // binary32 operands are the low halves; integer sources are whole.
    const m: u64 = (op & 31) >= FROM_W ? 0xffff_ffff_ffff_ffff : 0xffff_ffff;
    const r = op < 32
      ? run<f32, u32>(op, rm, a & m, b & m, c & m, soft)
      : run<f64, u64>(op - 32, rm, a, b, c, soft);
    store<u64>(out + <usize>i * 16, r);
    store<u64>(out + <usize>i * 16, <u64>getFflags(), 8);
  }
}

import { execFp } from "../../kernel/cpu/fpu/exec";
/** Runs execFp(insn) n times: a micro-benchmark of decode + operation. */
export function benchExec(insn: u32, n: u32): u32 {
  let ok: u32 = 0;
  for (let i: u32 = 0; i < n; i++) ok += <u32>execFp(insn);
  return ok;
}
