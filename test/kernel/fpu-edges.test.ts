// Named IEEE 754 / RISC-V corner cases of the F/D operations, one behaviour
// per test, with the expected values worked out by hand.

import { beforeAll, describe, expect, it } from 'vitest';
import { CANON32 as CANON32_BIG, CANON64, FLAG, call, f32bits, f64bits, type Fpu, loadFpu } from './fpu-harness.ts';

const { NV, DZ, OF, UF, NX } = FLAG;
const [RNE, RTZ, RDN, RUP, RMM] = [0, 1, 2, 3, 4];

let fpu: Fpu;
beforeAll(async () => {
  fpu = await loadFpu();
});

const CANON32 = Number(CANON32_BIG);
const d = f64bits;
const s = f32bits;
const NEG0 = 0x8000000000000000n;
const INF = 0x7ff0000000000000n;
const NINF = 0xfff0000000000000n;
const MAX = 0x7fefffffffffffffn;
const MIN_NORMAL = 0x0010000000000000n;
const MIN_SUB = 1n;
const QNAN = 0x7ff8000000000123n; // a quiet NaN with a payload
const SNAN = 0x7ff0000000000001n;
const QNAN32 = 0x7fc00123;
const SNAN32 = 0x7f800001;

describe('rounding modes', () => {
  it('fdiv.d rounds toward +inf in RUP and sets NX', () => {
    expect(call(fpu, 'f64_div', d(1), d(3), RUP)).toEqual([0x3fd5555555555556n, NX]);
  });
  it('fdiv.d rounds 1/3 down in RNE, RTZ and RDN (the tail 0x...555|01 is below half)', () => {
    for (const rm of [RNE, RTZ, RDN]) expect(call(fpu, 'f64_div', d(1), d(3), rm)).toEqual([0x3fd5555555555555n, NX]);
  });
  it('fdiv.d of a negative quotient rounds toward -inf in RDN, i.e. away from zero', () => {
    expect(call(fpu, 'f64_div', d(-1), d(3), RDN)).toEqual([0xbfd5555555555556n, NX]);
    expect(call(fpu, 'f64_div', d(-1), d(3), RUP)).toEqual([0xbfd5555555555555n, NX]);
  });
  it('fadd.d breaks an exact tie to even in RNE and away from zero in RMM', () => {
    // 1 + 2^-53 is exactly half-way between 1 and 1 + 2^-52.
    expect(call(fpu, 'f64_add', d(1), d(2 ** -53), RNE)).toEqual([d(1), NX]);
    expect(call(fpu, 'f64_add', d(1), d(2 ** -53), RMM)).toEqual([d(1 + 2 ** -52), NX]);
    expect(call(fpu, 'f64_add', d(-1), d(-(2 ** -53)), RMM)).toEqual([d(-1 - 2 ** -52), NX]);
    // 1 + 3*2^-53 is half-way between 1+2^-52 (odd) and 1+2^-51 (even): both go up.
    expect(call(fpu, 'f64_add', d(1), d(3 * 2 ** -53), RNE)).toEqual([d(1 + 2 ** -51), NX]);
    expect(call(fpu, 'f64_add', d(1), d(3 * 2 ** -53), RMM)).toEqual([d(1 + 2 ** -51), NX]);
  });
  it('fmul.s breaks ties away from zero in RMM', () => {
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: the 2^-24 is exactly half an ulp of 1.
    const x = s(1 + 2 ** -12);
    expect(call(fpu, 'f32_mul', x, x, RNE)).toEqual([s(1 + 2 ** -11), NX]);
    expect(call(fpu, 'f32_mul', x, x, RMM)).toEqual([s(1 + 2 ** -11 + 2 ** -23), NX]);
  });
  it('an exact result raises no flag in any mode', () => {
    for (const rm of [RNE, RTZ, RDN, RUP, RMM]) {
      expect(call(fpu, 'f64_mul', d(1.5), d(2.25), rm)).toEqual([d(3.375), 0]);
      expect(call(fpu, 'f32_div', s(1), s(8), rm)).toEqual([s(0.125), 0]);
      expect(call(fpu, 'f64_sqrt', d(2.25), rm)).toEqual([d(1.5), 0]);
    }
  });
  it('fsqrt.d of 2 rounds down in RTZ/RDN and up in RUP', () => {
    expect(call(fpu, 'f64_sqrt', d(2), RNE)).toEqual([0x3ff6a09e667f3bcdn, NX]);
    expect(call(fpu, 'f64_sqrt', d(2), RTZ)).toEqual([0x3ff6a09e667f3bccn, NX]);
    expect(call(fpu, 'f64_sqrt', d(2), RDN)).toEqual([0x3ff6a09e667f3bccn, NX]);
    expect(call(fpu, 'f64_sqrt', d(2), RUP)).toEqual([0x3ff6a09e667f3bcdn, NX]);
  });
});

describe('signed zeros', () => {
  it('x + -x is +0 in every mode except RDN, where it is -0', () => {
    for (const rm of [RNE, RTZ, RUP, RMM]) {
      expect(call(fpu, 'f64_add', d(1.5), d(-1.5), rm)).toEqual([0n, 0]);
      expect(call(fpu, 'f32_sub', s(7), s(7), rm)).toEqual([0, 0]);
    }
    expect(call(fpu, 'f64_add', d(1.5), d(-1.5), RDN)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f32_sub', s(7), s(7), RDN)).toEqual([0x80000000, 0]);
  });
  it('-0 + -0 is -0 in every mode; +0 + -0 is +0 except in RDN', () => {
    for (const rm of [RNE, RTZ, RDN, RUP, RMM]) {
      expect(call(fpu, 'f64_add', NEG0, NEG0, rm)).toEqual([NEG0, 0]);
      expect(call(fpu, 'f64_add', 0n, NEG0, rm)).toEqual([rm === RDN ? NEG0 : 0n, 0]);
    }
  });
  it('fmul.d of zeros takes the XOR of the signs', () => {
    expect(call(fpu, 'f64_mul', NEG0, d(3), RNE)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f64_mul', NEG0, d(-3), RNE)).toEqual([0n, 0]);
  });
  it('fsqrt of -0 is -0 without a flag', () => {
    expect(call(fpu, 'f64_sqrt', NEG0, RNE)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f32_sqrt', 0x80000000, RNE)).toEqual([0x80000000, 0]);
  });
  it('an underflow to zero keeps the sign of the exact result', () => {
    expect(call(fpu, 'f64_mul', d(-(2 ** -600)), d(2 ** -600), RNE)).toEqual([NEG0, UF | NX]);
  });
});

describe('overflow', () => {
  it('fmul.d overflows to inf in RNE/RMM and to the largest finite in RTZ', () => {
    expect(call(fpu, 'f64_mul', MAX, d(2), RNE)).toEqual([INF, OF | NX]);
    expect(call(fpu, 'f64_mul', MAX, d(2), RMM)).toEqual([INF, OF | NX]);
    expect(call(fpu, 'f64_mul', MAX, d(2), RTZ)).toEqual([MAX, OF | NX]);
  });
  it('directed modes overflow to inf only on their side: RUP for positive, RDN for negative', () => {
    expect(call(fpu, 'f64_mul', MAX, d(2), RUP)).toEqual([INF, OF | NX]);
    expect(call(fpu, 'f64_mul', MAX, d(2), RDN)).toEqual([MAX, OF | NX]);
    expect(call(fpu, 'f64_mul', MAX, d(-2), RDN)).toEqual([NINF, OF | NX]);
    expect(call(fpu, 'f64_mul', MAX, d(-2), RUP)).toEqual([MAX | NEG0, OF | NX]);
  });
  it('fadd.s just past the largest finite rounds back down in RNE without overflow', () => {
    // max + half an ulp*0.5: rounds to max, only NX.
    expect(call(fpu, 'f32_add', 0x7f7fffff, s(2 ** 102), RNE)).toEqual([0x7f7fffff, NX]);
    // max + half an ulp: a tie, to even = overflow to inf.
    expect(call(fpu, 'f32_add', 0x7f7fffff, s(2 ** 103), RNE)).toEqual([0x7f800000, OF | NX]);
  });
  it('fcvt.s.d overflows to the binary32 extremes by rounding mode', () => {
    expect(call(fpu, 'f64_to_f32', d(1e39), RNE)).toEqual([0x7f800000, OF | NX]);
    expect(call(fpu, 'f64_to_f32', d(1e39), RTZ)).toEqual([0x7f7fffff, OF | NX]);
    expect(call(fpu, 'f64_to_f32', d(-1e39), RUP)).toEqual([0xff7fffff, OF | NX]);
  });
  it('infinity arithmetic is exact and raises nothing', () => {
    expect(call(fpu, 'f64_add', INF, d(1), RNE)).toEqual([INF, 0]);
    expect(call(fpu, 'f64_mul', NINF, d(-2), RNE)).toEqual([INF, 0]);
    expect(call(fpu, 'f64_div', d(1), INF, RNE)).toEqual([0n, 0]);
  });
});

describe('subnormals and underflow', () => {
  it('subnormal operands are not flushed', () => {
    expect(call(fpu, 'f64_add', MIN_SUB, MIN_SUB, RNE)).toEqual([2n, 0]);
    expect(call(fpu, 'f32_mul', 0x00400000, s(2), RNE)).toEqual([0x00800000, 0]);
    expect(call(fpu, 'f64_sqrt', MIN_SUB, RNE)).toEqual([d(2 ** -537), 0]);
  });
  it('half the smallest subnormal rounds to 0 in RNE (tie to even), up in RUP and RMM, with UF', () => {
    expect(call(fpu, 'f64_mul', MIN_SUB, d(0.5), RNE)).toEqual([0n, UF | NX]);
    expect(call(fpu, 'f64_mul', MIN_SUB, d(0.5), RUP)).toEqual([MIN_SUB, UF | NX]);
    expect(call(fpu, 'f64_mul', MIN_SUB, d(0.5), RMM)).toEqual([MIN_SUB, UF | NX]);
    expect(call(fpu, 'f64_mul', MIN_SUB, d(-0.5), RDN)).toEqual([NEG0 | MIN_SUB, UF | NX]);
  });
  it('an exact subnormal result raises no UF (underflow needs tiny AND inexact)', () => {
    expect(call(fpu, 'f64_mul', MIN_NORMAL, d(0.5), RNE)).toEqual([0x0008000000000000n, 0]);
    expect(call(fpu, 'f64_sub', 0x0010000000000001n, MIN_NORMAL, RNE)).toEqual([1n, 0]);
  });
  it('tininess is detected after rounding: a result that rounds up to the smallest normal is tiny only if it would not at unbounded exponent', () => {
    // (1 - 2^-53) * 2^-1022 is representable with 53 bits at unbounded
    // exponent, so it stays below 2^-1022: tiny; the subnormal rounding
    // lands on 2^-1022 and is inexact: UF.
    expect(call(fpu, 'f64_mul', 0x3fefffffffffffffn, MIN_NORMAL, RNE)).toEqual([MIN_NORMAL, UF | NX]);
    // (1 - 2^-25) * 2^-126 to binary32: rounding 24 bits at unbounded
    // exponent already reaches 2^-126, so it is not tiny: NX only.
    expect(call(fpu, 'f64_to_f32', d((1 - 2 ** -25) * 2 ** -126), RNE)).toEqual([0x00800000, NX]);
    // ... while (1 - 2^-24) * 2^-126 is exact at unbounded exponent: tiny.
    expect(call(fpu, 'f64_to_f32', d((1 - 2 ** -24) * 2 ** -126), RNE)).toEqual([0x00800000, UF | NX]);
  });
  it('fcvt.s.d of a value far below the binary32 range gives 0 with UF|NX, or the smallest subnormal in RUP', () => {
    expect(call(fpu, 'f64_to_f32', d(1e-50), RNE)).toEqual([0, UF | NX]);
    expect(call(fpu, 'f64_to_f32', d(1e-50), RUP)).toEqual([1, UF | NX]);
  });
});

describe('fused multiply-add', () => {
  it('fmadd.d rounds once: (1+2^-52)(1-2^-52) - 1 is exactly -2^-104', () => {
    expect(call(fpu, 'f64_madd', d(1 + 2 ** -52), d(1 - 2 ** -52), d(-1), RNE)).toEqual([d(-(2 ** -104)), 0]);
    expect(call(fpu, 'f32_madd', s(1 + 2 ** -23), s(1 - 2 ** -23), s(-1), RNE)).toEqual([s(-(2 ** -46)), 0]);
  });
  it('fmsub, fnmsub and fnmadd negate the right terms', () => {
    const [a, b, c] = [d(2), d(3), d(1)];
    expect(call(fpu, 'f64_madd', a, b, c, RNE)[0]).toBe(d(7));
    expect(call(fpu, 'f64_msub', a, b, c, RNE)[0]).toBe(d(5));
    expect(call(fpu, 'f64_nmsub', a, b, c, RNE)[0]).toBe(d(-5));
    expect(call(fpu, 'f64_nmadd', a, b, c, RNE)[0]).toBe(d(-7));
    expect(call(fpu, 'f32_nmadd', s(2), s(3), s(1), RNE)[0]).toBe(s(-7));
  });
  it('an exactly cancelling fmadd gives +0, or -0 in RDN', () => {
    expect(call(fpu, 'f64_madd', d(2), d(3), d(-6), RNE)).toEqual([0n, 0]);
    expect(call(fpu, 'f64_madd', d(2), d(3), d(-6), RDN)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f32_madd', s(2), s(3), s(-6), RDN)).toEqual([0x80000000, 0]);
  });
  it('a zero product plus a zero addend follows the sum-of-zeros sign rule', () => {
    expect(call(fpu, 'f64_madd', NEG0, d(5), NEG0, RNE)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f64_madd', 0n, d(5), NEG0, RNE)).toEqual([0n, 0]);
    expect(call(fpu, 'f64_madd', 0n, d(5), NEG0, RDN)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f64_madd', 0n, d(5), d(-3), RNE)).toEqual([d(-3), 0]);
  });
  it('inf * 0 + c is invalid, even when c is a quiet NaN (RISC-V requires NV there)', () => {
    expect(call(fpu, 'f64_madd', INF, 0n, d(1), RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_madd', 0n, NINF, QNAN, RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f32_madd', 0x7f800000, 0, QNAN32, RNE)).toEqual([CANON32, NV]);
  });
  it('inf * x + -inf is invalid; inf * x + finite is inf', () => {
    expect(call(fpu, 'f64_madd', INF, d(2), NINF, RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_madd', INF, d(-2), d(1e300), RNE)).toEqual([NINF, 0]);
    expect(call(fpu, 'f64_madd', d(2), d(3), INF, RNE)).toEqual([INF, 0]);
  });
  it('a quiet NaN addend with finite factors propagates as the canonical NaN without NV', () => {
    expect(call(fpu, 'f64_madd', d(2), d(3), QNAN, RNE)).toEqual([CANON64, 0]);
  });
  it('fmadd.s of tiny factors underflows with correct flags (product exact, single rounding)', () => {
    // 2^-75 * 2^-75 = 2^-150: half the smallest subnormal.
    expect(call(fpu, 'f32_madd', s(2 ** -75), s(2 ** -75), 0, RNE)).toEqual([0, UF | NX]);
    expect(call(fpu, 'f32_madd', s(2 ** -75), s(2 ** -75), 0, RUP)).toEqual([1, UF | NX]);
  });
});

describe('NaNs and invalid operations', () => {
  it('every NaN result is the canonical NaN, whatever the operand payload', () => {
    expect(call(fpu, 'f64_add', QNAN, d(1), RNE)).toEqual([CANON64, 0]);
    expect(call(fpu, 'f32_mul', QNAN32 | 0x80000000, s(1), RNE)).toEqual([CANON32, 0]);
    expect(call(fpu, 'f32_to_f64', QNAN32)).toEqual([CANON64, 0]);
    expect(call(fpu, 'f64_to_f32', QNAN, RNE)).toEqual([CANON32, 0]);
  });
  it('a signaling NaN operand raises NV', () => {
    expect(call(fpu, 'f64_add', SNAN, d(1), RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f32_sqrt', SNAN32, RNE)).toEqual([CANON32, NV]);
    expect(call(fpu, 'f32_to_f64', SNAN32)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_to_f32', SNAN, RNE)).toEqual([CANON32, NV]);
  });
  it('inf - inf, 0 * inf, 0/0, inf/inf and sqrt of a negative are invalid', () => {
    expect(call(fpu, 'f64_add', INF, NINF, RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_mul', 0n, INF, RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_div', 0n, NEG0, RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_div', INF, NINF, RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_sqrt', d(-1), RNE)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f64_sqrt', NINF, RNE)).toEqual([CANON64, NV]);
  });
  it('a finite non-zero divided by zero is a signed infinity with DZ only', () => {
    expect(call(fpu, 'f64_div', d(-3), 0n, RNE)).toEqual([NINF, DZ]);
    expect(call(fpu, 'f32_div', s(3), 0x80000000, RNE)).toEqual([0xff800000, DZ]);
  });
});

describe('comparisons, min/max, fclass', () => {
  it('feq is quiet: NV only for a signaling NaN', () => {
    expect(call(fpu, 'f64_eq', QNAN, d(1))).toEqual([0, 0]);
    expect(call(fpu, 'f64_eq', SNAN, d(1))).toEqual([0, NV]);
    expect(call(fpu, 'f64_eq', 0n, NEG0)).toEqual([1, 0]);
  });
  it('flt and fle signal NV on any NaN', () => {
    expect(call(fpu, 'f64_lt', QNAN, d(1))).toEqual([0, NV]);
    expect(call(fpu, 'f32_le', s(1), QNAN32)).toEqual([0, NV]);
    expect(call(fpu, 'f64_le', NEG0, 0n)).toEqual([1, 0]);
    expect(call(fpu, 'f64_lt', NEG0, 0n)).toEqual([0, 0]);
  });
  it('fmin/fmax order -0 below +0 whatever the operand order', () => {
    expect(call(fpu, 'f64_min', 0n, NEG0)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f64_min', NEG0, 0n)).toEqual([NEG0, 0]);
    expect(call(fpu, 'f64_max', NEG0, 0n)).toEqual([0n, 0]);
    expect(call(fpu, 'f32_max', 0, 0x80000000)).toEqual([0, 0]);
  });
  it('fmin/fmax return the other operand for one quiet NaN, quietly', () => {
    expect(call(fpu, 'f64_min', QNAN, d(2))).toEqual([d(2), 0]);
    expect(call(fpu, 'f32_max', s(-2), QNAN32)).toEqual([s(-2), 0]);
  });
  it('fmin/fmax with a signaling NaN return the other operand and raise NV', () => {
    expect(call(fpu, 'f64_max', SNAN, d(2))).toEqual([d(2), NV]);
    expect(call(fpu, 'f32_min', s(5), SNAN32)).toEqual([s(5), NV]);
  });
  it('fmin/fmax of two NaNs give the canonical NaN', () => {
    expect(call(fpu, 'f64_min', QNAN, SNAN)).toEqual([CANON64, NV]);
    expect(call(fpu, 'f32_max', QNAN32, QNAN32)).toEqual([CANON32, 0]);
  });
  it('fclass sets exactly one of its ten bits', () => {
    const cases: [bigint, number][] = [
      [NINF, 0], [d(-1), 1], [NEG0 | 1n, 2], [NEG0, 3], [0n, 4], [1n, 5], [d(1), 6], [INF, 7], [SNAN, 8], [QNAN, 9],
    ];
    for (const [v, bit] of cases) expect(call(fpu, 'f64_class', v)).toEqual([1 << bit, 0]);
    expect(call(fpu, 'f32_class', SNAN32)[0]).toBe(1 << 8);
    expect(call(fpu, 'f32_class', 0x807fffff)[0]).toBe(1 << 2);
  });
});

describe('float -> integer conversions', () => {
  const SEXT = (v: number) => BigInt.asUintN(64, BigInt(v | 0));
  it('fcvt.w.d of 2^31 - 0.5 rounds to 2^31 in RNE: out of range, NV, saturates to INT32_MAX', () => {
    expect(call(fpu, 'f64_to_w', d(2 ** 31 - 0.5), RNE)).toEqual([0x7fffffffn, NV]);
    expect(call(fpu, 'f64_to_w', d(2 ** 31 - 0.5), RTZ)).toEqual([0x7fffffffn, NX]);
  });
  it('fcvt.w.d of -2^31 - 0.5 is in range in RNE (to even) and out of range in RDN', () => {
    expect(call(fpu, 'f64_to_w', d(-(2 ** 31) - 0.5), RNE)).toEqual([SEXT(-(2 ** 31)), NX]);
    expect(call(fpu, 'f64_to_w', d(-(2 ** 31) - 0.5), RDN)).toEqual([SEXT(-(2 ** 31)), NV]);
  });
  it('NaN and +big saturate to the maximum, -big to the minimum', () => {
    expect(call(fpu, 'f64_to_w', QNAN, RNE)).toEqual([0x7fffffffn, NV]);
    expect(call(fpu, 'f64_to_w', QNAN | NEG0, RNE)).toEqual([0x7fffffffn, NV]);
    expect(call(fpu, 'f64_to_w', NINF, RNE)).toEqual([0xffffffff80000000n, NV]);
    expect(call(fpu, 'f32_to_l', 0x7f800000, RNE)).toEqual([0x7fffffffffffffffn, NV]);
    expect(call(fpu, 'f64_to_lu', QNAN, RNE)).toEqual([0xffffffffffffffffn, NV]);
    expect(call(fpu, 'f64_to_lu', d(-5), RNE)).toEqual([0n, NV]);
    expect(call(fpu, 'f32_to_wu', s(-1e10), RNE)).toEqual([0n, NV]);
  });
  it('fcvt.l.d of -2^63 is exact; of 2^63 is out of range', () => {
    expect(call(fpu, 'f64_to_l', d(-(2 ** 63)), RNE)).toEqual([0x8000000000000000n, 0]);
    expect(call(fpu, 'f64_to_l', d(2 ** 63), RNE)).toEqual([0x7fffffffffffffffn, NV]);
  });
  it('fcvt.lu.d reaches 2^64 - 2048 exactly; 2^64 is out of range', () => {
    expect(call(fpu, 'f64_to_lu', d(2 ** 64 - 2048), RNE)).toEqual([0xfffffffffffff800n, 0]);
    expect(call(fpu, 'f64_to_lu', d(2 ** 64), RNE)).toEqual([0xffffffffffffffffn, NV]);
  });
  it('fcvt.wu of a negative fraction that rounds to zero is 0 with NX, not NV', () => {
    expect(call(fpu, 'f64_to_wu', d(-0.5), RNE)).toEqual([0n, NX]);
    expect(call(fpu, 'f64_to_wu', d(-0.9), RTZ)).toEqual([0n, NX]);
    expect(call(fpu, 'f64_to_wu', d(-0.1), RDN)).toEqual([0n, NV]);
  });
  it('32-bit results are sign-extended to 64 bits, fcvt.wu included', () => {
    expect(call(fpu, 'f64_to_wu', d(4294967295), RNE)).toEqual([0xffffffffffffffffn, 0]);
    expect(call(fpu, 'f64_to_wu', d(2 ** 31), RNE)).toEqual([0xffffffff80000000n, 0]);
    expect(call(fpu, 'f64_to_w', d(-1), RNE)).toEqual([0xffffffffffffffffn, 0]);
  });
  it('RMM rounds half-way values away from zero, RNE to even', () => {
    expect(call(fpu, 'f64_to_w', d(2.5), RMM)).toEqual([3n, NX]);
    expect(call(fpu, 'f64_to_w', d(2.5), RNE)).toEqual([2n, NX]);
    expect(call(fpu, 'f64_to_w', d(-2.5), RMM)).toEqual([SEXT(-3), NX]);
    expect(call(fpu, 'f32_to_l', s(-0.5), RMM)).toEqual([0xffffffffffffffffn, NX]);
  });
  it('directed modes pick floor and ceiling', () => {
    expect(call(fpu, 'f64_to_l', d(-1.25), RDN)).toEqual([SEXT(-2), NX]);
    expect(call(fpu, 'f64_to_l', d(-1.25), RUP)).toEqual([SEXT(-1), NX]);
    expect(call(fpu, 'f64_to_l', d(-1.25), RTZ)).toEqual([SEXT(-1), NX]);
  });
});

describe('integer -> float conversions', () => {
  it('fcvt.s.l rounds 2^24 + 1 by the rounding mode', () => {
    expect(call(fpu, 'l_to_f32', 2n ** 24n + 1n, RNE)).toEqual([s(2 ** 24), NX]);
    expect(call(fpu, 'l_to_f32', 2n ** 24n + 1n, RUP)).toEqual([s(2 ** 24 + 2), NX]);
    expect(call(fpu, 'l_to_f32', -(2n ** 24n) - 1n, RDN)).toEqual([s(-(2 ** 24) - 2), NX]);
    expect(call(fpu, 'l_to_f32', 2n ** 24n + 2n, RTZ)).toEqual([s(2 ** 24 + 2), 0]);
  });
  it('fcvt.d.lu of 2^64 - 1 rounds up to 2^64 in RNE and down in RTZ', () => {
    expect(call(fpu, 'lu_to_f64', 0xffffffffffffffffn, RNE)).toEqual([d(2 ** 64), NX]);
    expect(call(fpu, 'lu_to_f64', 0xffffffffffffffffn, RTZ)).toEqual([d(2 ** 64 - 2048), NX]);
  });
  it('fcvt.d.l of INT64_MIN is exact', () => {
    expect(call(fpu, 'l_to_f64', 0x8000000000000000n, RUP)).toEqual([d(-(2 ** 63)), 0]);
  });
  it('fcvt.*.w uses only the low 32 bits of the source, signed; .wu unsigned', () => {
    expect(call(fpu, 'w_to_f64', 0x12345678ffffffffn, RNE)).toEqual([d(-1), 0]);
    expect(call(fpu, 'wu_to_f64', 0x12345678ffffffffn, RNE)).toEqual([d(4294967295), 0]);
    expect(call(fpu, 'wu_to_f32', 0xffffffffn, RTZ)).toEqual([s(4294967040), NX]);
  });
  it('zero converts to +0', () => {
    expect(call(fpu, 'l_to_f64', 0n, RDN)).toEqual([0n, 0]);
  });
});
